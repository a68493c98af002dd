# COCO panoptic (80 things + 53 stuff) for OneFormer: LSJ 1024 (scale 0.1-2.0, flip, crop 1024).
# Batch padding to 1024x1024 is the model data_preprocessor's job (BatchFixedSizePad).
# The pipeline knows nothing of the model's sizes (queries, text context): those live in the model config only.

dataset_type = 'OneFormerPanopticDataset'  # mmdet CocoPanopticDataset.METAINFO, labels by class name
data_root = 'data/coco/'
backend_args = None

num_things_classes = 80
num_stuff_classes = 53
num_classes = num_things_classes + num_stuff_classes
task_probs = dict(semantic=1 / 3, instance=1 / 3, panoptic=1 / 3)
image_size = (1024, 1024)
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction', 'task',
             'text_tokens')
test_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')

train_pipeline = [
    dict(type='LoadImageFromFile', to_float32=True, backend_args=backend_args),
    dict(type='LoadPanopticSegments', backend_args=backend_args),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=image_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='OneFormerTaskTargets', task_probs=task_probs),
    dict(type='PackDetInputs', meta_keys=meta_keys)
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    # after Resize on purpose: the ground truth stays at the original size for the metrics
    dict(type='LoadPanopticTestAnnotations', backend_args=backend_args),
    dict(type='PackDetInputs', meta_keys=test_meta_keys)
]

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/panoptic_train2017.json',
        data_prefix=dict(img='train2017/', seg='annotations/panoptic_train2017/'),
        filter_cfg=dict(filter_empty_gt=False, min_size=32),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/panoptic_val2017.json',
        data_prefix=dict(img='val2017/', seg='annotations/panoptic_val2017/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# PQ (panoptic), mask AP (instance; make the JSON with tools/dataset_converters/panoptic2instance.py or use
# COCO's instances_val2017.json), mIoU (semantic)
val_evaluator = [
    dict(type='OneFormerPanopticMetric', ann_file=data_root + 'annotations/panoptic_val2017.json',
         seg_prefix=data_root + 'annotations/panoptic_val2017/', backend_args=backend_args),
    dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val2017.json', metric='segm',
         backend_args=backend_args),
    dict(type='OneFormerSemSegMetric', iou_metrics=['mIoU'])
]
test_evaluator = val_evaluator
