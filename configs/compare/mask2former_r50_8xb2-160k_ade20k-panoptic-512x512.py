# Mask2Former R-50 (mmdet), ADE20K-150 panoptic, 160k iterations at batch 16: the panoptic peer of
# configs/oneformer/oneformer_r50_8xb2-160k_ade20k-panoptic-512x512.py for the paper-scale comparison (docs/compare.md).
# Reads the same files as the OneFormer config (tools/dataset_converters/ade20k_panoptic.py writes them) with the
# same pipeline (short edge 256-1024, 512 crop, photometric distortion, flip; test short edge 512) and schedule
# (AdamW 1e-4, backbone x0.1, poly 0.9, 160k). Kept from mmdet's Mask2Former recipe: 100 queries, losses, fusion
# thresholds. Mask2Former's own ADE20K panoptic recipe crops 640 (short edge 320-1280, test 640): set crop_size,
# train_scales and test_scale below to train that instead.
_base_ = ['mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py']
# `import oneformer`: the panopticapi names mmdet's panoptic dataset / metric import (panopticapi is not on PyPI)
custom_imports = dict(imports=['oneformer'], allow_failed_imports=False)

num_things_classes = 100
num_stuff_classes = 50
num_classes = num_things_classes + num_stuff_classes
data_root = 'data/ADEChallengeData2016/'
crop_size = (512, 512)  # (w, h)
train_scales = [(2048, int(512 * x * 0.1)) for x in range(5, 21)]
test_scale = (2048, 512)
max_iters = 160000
backend_args = None

batch_augments = [
    dict(type='BatchFixedSizePad', size=crop_size[::-1], img_pad_value=0, pad_mask=True, mask_pad_value=0,
         pad_seg=True, seg_pad_value=255)
]
model = dict(
    data_preprocessor=dict(batch_augments=batch_augments),
    panoptic_head=dict(
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes,
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])),
    panoptic_fusion_head=dict(num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes),
    test_cfg=dict(panoptic_on=True, semantic_on=False, instance_on=False))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadPanopticAnnotations', with_bbox=True, with_mask=True, with_seg=True, backend_args=backend_args),
    dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='LoadPanopticAnnotations', backend_args=backend_args),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=2,  # 8 GPUs x 2
    sampler=dict(type='InfiniteSampler', shuffle=True),  # iteration based, as OneFormer's recipe
    dataset=dict(
        type='ADE20KPanopticDataset',
        data_root=data_root,
        ann_file='ade20k_panoptic_train.json',
        data_prefix=dict(img='images/training/', seg='ade20k_panoptic_train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type='ADE20KPanopticDataset',
        data_root=data_root,
        ann_file='ade20k_panoptic_val.json',
        data_prefix=dict(img='images/validation/', seg='ade20k_panoptic_val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoPanopticMetric', ann_file=data_root + 'ade20k_panoptic_val.json',
         seg_prefix=data_root + 'ade20k_panoptic_val/', backend_args=backend_args)
]
test_evaluator = val_evaluator

train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=5000)
param_scheduler = [dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
