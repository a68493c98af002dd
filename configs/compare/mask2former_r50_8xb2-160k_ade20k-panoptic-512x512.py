# Mask2Former R-50 (mmdet), ADE20K-150 panoptic, 160k iterations at batch 16: the panoptic peer of
# configs/oneformer/oneformer_r50_8xb2-160k_ade20k-panoptic-512x512.py for the paper-scale comparison (docs/compare.md).
# Reads the same files as the OneFormer config with the same pipeline and schedule (_base_/ade20k_r50.py: short
# edge 256-1024, 512 crop, photometric distortion, flip, test short edge 512; AdamW 1e-4, backbone x0.1, poly 0.9,
# 160k). Kept from mmdet's Mask2Former recipe: 100 queries, losses, fusion thresholds. Mask2Former's own ADE20K
# panoptic recipe crops 640: see _base_/ade20k_r50.py.
_base_ = ['mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py', './_base_/ade20k_r50.py']
# `import oneformer`: the panopticapi names mmdet's panoptic dataset / metric import (panopticapi is not on PyPI)
custom_imports = dict(imports=['oneformer'], allow_failed_imports=False)

num_things_classes = 100
num_stuff_classes = 50
num_classes = num_things_classes + num_stuff_classes
data_root, max_iters = _base_.ade20k_data_root, _base_.ade20k_max_iters

batch_augments = [
    dict(type='BatchFixedSizePad', size=_base_.crop_size[::-1], img_pad_value=0, pad_mask=True, mask_pad_value=0,
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
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadPanopticAnnotations', with_bbox=True, with_mask=True, with_seg=True, backend_args=None),
    *_base_.ade20k_augmentation,
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=_base_.test_scale, keep_ratio=True),
    dict(type='LoadPanopticAnnotations', backend_args=None),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    _base_.ade20k_train_loader,
    dataset=dict(type='ADE20KPanopticDataset', data_root=data_root, ann_file='ade20k_panoptic_train.json',
                 data_prefix=dict(img='images/training/', seg='ade20k_panoptic_train/'), pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(type='ADE20KPanopticDataset', data_root=data_root, ann_file='ade20k_panoptic_val.json',
                 data_prefix=dict(img='images/validation/', seg='ade20k_panoptic_val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='CocoPanopticMetric', ann_file=data_root + 'ade20k_panoptic_val.json',
         seg_prefix=data_root + 'ade20k_panoptic_val/', backend_args=None)
]
test_evaluator = val_evaluator

train_cfg = _base_.ade20k_schedule.train_cfg
param_scheduler = _base_.ade20k_schedule.param_scheduler
