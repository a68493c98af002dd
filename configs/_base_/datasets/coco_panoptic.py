# COCO panoptic (80 things + 53 stuff) for OneFormer: LSJ 1024 (scale 0.1-2.0, flip, crop 1024).
# Batch padding to 1024x1024 is the model data_preprocessor's job (BatchFixedSizePad).
# The pipeline knows nothing of the model's sizes (queries, text context): those live in the model config only.
_base_ = './oneformer_panoptic_base.py'

dataset_type = 'OneFormerPanopticDataset'  # mmdet CocoPanopticDataset.METAINFO, labels by class name
data_root = 'data/coco/'

num_things_classes = 80
num_stuff_classes = 53
num_classes = num_things_classes + num_stuff_classes
image_size = (1024, 1024)
# LSJ: every image of the batch is padded to 1024x1024 (d2 FixedSizeCrop pads the crop)
batch_augments = [dict(_base_.fixed_size_pad, size=image_size)]

train_pipeline = [
    dict(type='LoadImageFromFile', to_float32=True, backend_args=_base_.backend_args),
    dict(type='LoadPanopticSegments', backend_args=_base_.backend_args),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=image_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='OneFormerTaskTargets', task_probs=_base_.task_probs),
    dict(type='PackDetInputs', meta_keys=_base_.meta_keys)
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    # after Resize on purpose: the ground truth stays at the original size for the metrics
    dict(type='LoadPanopticTestAnnotations', backend_args=_base_.backend_args),
    dict(type='PackDetInputs', meta_keys=_base_.test_meta_keys)
]

train_dataloader = dict(
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/panoptic_train2017.json',
        data_prefix=dict(img='train2017/', seg='annotations/panoptic_train2017/'),
        filter_cfg=dict(min_size=32),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/panoptic_val2017.json',
        data_prefix=dict(img='val2017/', seg='annotations/panoptic_val2017/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# PQ (panoptic), mask AP (instance; make the JSON with tools/dataset_converters/panoptic2instance.py or use
# COCO's instances_val2017.json), mIoU (semantic)
val_evaluator = [
    dict(type='OneFormerPanopticMetric', ann_file=data_root + 'annotations/panoptic_val2017.json',
         seg_prefix=data_root + 'annotations/panoptic_val2017/', backend_args=_base_.backend_args),
    dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val2017.json', metric='segm',
         backend_args=_base_.backend_args),
    dict(type='OneFormerSemSegMetric', iou_metrics=['mIoU'])
]
test_evaluator = val_evaluator
