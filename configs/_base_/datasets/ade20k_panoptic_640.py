# ADE20K panoptic for the large OneFormer models (Swin-L / ConvNeXt / DiNAT): 250 queries, short edge
# 320...1280 (step 64), long edge <= 2560, crop 640; test short 640 / long 2560.
_base_ = './ade20k_panoptic.py'

num_queries = 250
crop_size = (640, 640)  # (w, h)
train_scales = [(2560, s) for s in range(320, 1281, 64)]
test_scale = (2560, 640)

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadPanopticSegments', backend_args=_base_.backend_args),
    dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='OneFormerTaskTargets', num_things_classes=_base_.num_things_classes,
         num_stuff_classes=_base_.num_stuff_classes, num_queries=num_queries, num_text_ctx=_base_.num_text_ctx,
         task_probs=_base_.task_probs),
    dict(type='PackDetInputs', meta_keys=_base_.meta_keys)
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='LoadPanopticAnnotations', backend_args=_base_.backend_args),
    dict(type='PackDetInputs', meta_keys=_base_.test_meta_keys)
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
