# ADE20K-150 panoptic (100 things + 50 stuff, things first) as in the official R50 / Swin-T recipes
# (configs/ade20k/Base-ADE20K-UnifiedSegmentation.yaml). Annotations: tools/dataset_converters/ade20k_panoptic.py.
# The large models use ade20k_panoptic_{640,896,1280}.py, which change the sizes below.
_base_ = './oneformer_panoptic_base.py'

dataset_type = 'ADE20KPanopticOneFormerDataset'
data_root = 'data/ADEChallengeData2016/'

num_things_classes = 100
num_stuff_classes = 50
num_classes = num_things_classes + num_stuff_classes  # SEM_SEG_HEAD.NUM_CLASSES 150
crop_size = (512, 512)  # (w, h) INPUT.CROP.SIZE (512, 512); the model pads every crop to it (SIZE_DIVISIBILITY)
# INPUT.MIN_SIZE_TRAIN [int(x * 0.1 * 512) for x in range(5, 21)] (choice), MAX_SIZE_TRAIN 2048; mmdet scales are
# (long edge, short edge)
train_scales = [(2048, int(x * 0.1 * 512)) for x in range(5, 21)]
test_scale = (2048, 512)  # INPUT.MAX_SIZE_TEST 2048, MIN_SIZE_TEST 512
# INPUT.SIZE_DIVISIBILITY 512: every training crop is padded to exactly 512x512 (pixels outside are void)
batch_augments = [dict(_base_.fixed_size_pad, size=crop_size[::-1])]

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
        ann_file='ade20k_panoptic_train.json',
        data_prefix=dict(img='images/training/', seg='ade20k_panoptic_train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ade20k_panoptic_val.json',
        data_prefix=dict(img='images/validation/', seg='ade20k_panoptic_val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# PQ (panoptic task), mask AP (instance task; ade20k_instance_val.json from the converter), mIoU (semantic task)
val_evaluator = [
    dict(type='OneFormerPanopticMetric', ann_file=data_root + 'ade20k_panoptic_val.json',
         seg_prefix=data_root + 'ade20k_panoptic_val/', backend_args=_base_.backend_args),
    dict(type='CocoMetric', ann_file=data_root + 'ade20k_instance_val.json', metric='segm',
         backend_args=_base_.backend_args),
    dict(type='OneFormerSemSegMetric', iou_metrics=['mIoU'])
]
test_evaluator = val_evaluator
