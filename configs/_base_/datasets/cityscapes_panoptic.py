# Cityscapes panoptic (8 things + 11 stuff, things first: see oneformer/datasets/cityscapes_panoptic.py for the
# train-id mapping), official configs/cityscapes/Base-Cityscapes-UnifiedSegmentation.yaml.
# Annotations: tools/dataset_converters/cityscapes_panoptic.py.
_base_ = './oneformer_panoptic_base.py'

dataset_type = 'CityscapesPanopticDataset'
data_root = 'data/cityscapes/'

num_things_classes = 8
num_stuff_classes = 11
num_classes = num_things_classes + num_stuff_classes  # SEM_SEG_HEAD.NUM_CLASSES 19
# INPUT.CROP.SIZE (512, 1024) is (h, w); mmdet RandomCrop takes (w, h). No padding (SIZE_DIVISIBILITY -1).
crop_size = (1024, 512)
# INPUT.MIN_SIZE_TRAIN [int(x * 0.1 * 1024) for x in range(5, 21)] (choice), MAX_SIZE_TRAIN 4096
train_scales = [(4096, int(x * 0.1 * 1024)) for x in range(5, 21)]
test_scale = (2048, 1024)  # INPUT.MAX_SIZE_TEST 2048, MIN_SIZE_TEST 1024

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadPanopticSegments', backend_args=_base_.backend_args),
    dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='OneFormerTaskTargets', task_probs=_base_.task_probs),
    dict(type='PackDetInputs', meta_keys=_base_.meta_keys)
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    # after Resize on purpose: the ground truth stays at the original size for the metrics
    dict(type='LoadPanopticTestAnnotations', backend_args=_base_.backend_args),
    dict(type='PackDetInputs', meta_keys=_base_.test_meta_keys)
]

train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='gtFine/panoptic_train.json',
        data_prefix=dict(img='leftImg8bit/train/', seg='gtFine/panoptic_train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='gtFine/panoptic_val.json',
        data_prefix=dict(img='leftImg8bit/val/', seg='gtFine/panoptic_val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# PQ (panoptic task), mask AP (instance task), mIoU (semantic task)
val_evaluator = [
    dict(type='OneFormerPanopticMetric', ann_file=data_root + 'gtFine/panoptic_val.json',
         seg_prefix=data_root + 'gtFine/panoptic_val/', backend_args=_base_.backend_args),
    dict(type='CocoMetric', ann_file=data_root + 'gtFine/instances_val.json', metric='segm',
         backend_args=_base_.backend_args),
    dict(type='OneFormerSemSegMetric', iou_metrics=['mIoU'])
]
test_evaluator = val_evaluator
