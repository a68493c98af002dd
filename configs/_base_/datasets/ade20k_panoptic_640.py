# ADE20K-150 panoptic for the large models at 640: Swin-L, ConvNeXt-L / XL, DiNAT-L (official
# configs/ade20k/{swin,convnext,dinat}/oneformer_*_bs16_160k.yaml). Only the sizes differ from ade20k_panoptic.py.
_base_ = './ade20k_panoptic.py'

crop_size = (640, 640)  # (w, h) INPUT.CROP.SIZE; the model pads every crop to it (SIZE_DIVISIBILITY 640)
# INPUT.MIN_SIZE_TRAIN [int(x * 0.1 * 640) for x in range(5, 21)] (choice), MAX_SIZE_TRAIN 2560
train_scales = [(2560, int(x * 0.1 * 640)) for x in range(5, 21)]
test_scale = (2560, 640)  # INPUT.MAX_SIZE_TEST 2560, MIN_SIZE_TEST 640

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
    dict(type='LoadPanopticTestAnnotations', backend_args=_base_.backend_args),
    dict(type='PackDetInputs', meta_keys=_base_.test_meta_keys)
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
