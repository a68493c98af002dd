# Mapillary Vistas v1.2 panoptic (37 things + 28 stuff, things first: see oneformer/datasets/mapillary_panoptic.py),
# official configs/mapillary_vistas/Base-Mapillary-UnifiedSegmentation.yaml.
# Annotations: tools/dataset_converters/mapillary_panoptic.py (release layout {training,validation}/{images,panoptic}).
_base_ = './oneformer_panoptic_base.py'

dataset_type = 'MapillaryVistasPanopticDataset'
data_root = 'data/mapillary_vistas/'

num_things_classes = 37
num_stuff_classes = 28
num_classes = num_things_classes + num_stuff_classes  # SEM_SEG_HEAD.NUM_CLASSES 65
# TASK_PROB.SEMANTIC 0.50, .INSTANCE 0.50 (cumulative thresholds): half semantic, half panoptic, never instance.
# The Mapillary pre-training of the Cityscapes models restores 0.33 / 0.66 (override `task_probs` and the pipeline).
task_probs = dict(semantic=0.5, instance=0.0, panoptic=0.5)
crop_size = (1024, 1024)  # (w, h) INPUT.CROP.SIZE; the model pads every crop to it (SIZE_DIVISIBILITY 1024)
# INPUT.MIN_SIZE_TRAIN [int(x * 0.1 * 2048) for x in range(5, 21)] (choice), MAX_SIZE_TRAIN 8192
train_scales = [(8192, int(x * 0.1 * 2048)) for x in range(5, 21)]
test_scale = (2048, 2048)  # INPUT.MAX_SIZE_TEST 2048, MIN_SIZE_TEST 2048: the long edge becomes 2048
# INPUT.SIZE_DIVISIBILITY 1024: every training crop is padded to exactly 1024x1024 (pixels outside are void)
batch_augments = [dict(_base_.fixed_size_pad, size=crop_size[::-1])]

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadPanopticSegments', backend_args=_base_.backend_args),
    dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='OneFormerTaskTargets', task_probs=task_probs),
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
        ann_file='annotations/panoptic_train.json',
        data_prefix=dict(img='training/images/', seg='training/panoptic/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/panoptic_val.json',
        data_prefix=dict(img='validation/images/', seg='validation/panoptic/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# PQ (panoptic task) and mIoU (semantic task) are the published Mapillary numbers; mask AP (instance task, which
# these models never train on) is reported too.
val_evaluator = [
    dict(type='OneFormerPanopticMetric', ann_file=data_root + 'annotations/panoptic_val.json',
         seg_prefix=data_root + 'validation/panoptic/', backend_args=_base_.backend_args),
    dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json', metric='segm',
         backend_args=_base_.backend_args),
    dict(type='OneFormerSemSegMetric', iou_metrics=['mIoU'])
]
test_evaluator = val_evaluator
