# ADE20K-150 panoptic at 1280: Swin-L, DiNAT-L and the COCO-pretrained DiNAT-L (official
# configs/ade20k/{swin,dinat}/*_bs16_160k_1280x1280.yaml). Only the sizes differ from ade20k_panoptic.py.
_base_ = './ade20k_panoptic.py'

crop_size = (1280, 1280)  # (w, h) INPUT.CROP.SIZE; the model pads every crop to it (SIZE_DIVISIBILITY 1280)
# INPUT.MIN_SIZE_TRAIN [int(x * 0.1 * 1280) for x in range(5, 21)] (choice), MAX_SIZE_TRAIN 5120
train_scales = [(5120, int(x * 0.1 * 1280)) for x in range(5, 21)]
test_scale = (5120, 1280)  # INPUT.MAX_SIZE_TEST 5120, MIN_SIZE_TEST 1280

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
