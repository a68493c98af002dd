# MaskFormer (mmdet), panoptic only, on the synthetic shapes dataset: the MaskFormer peer of the default leaderboard
# of the demo OneFormer (configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py) in
# tools/analysis_tools/compare_segmentors.py. Same backbone, widths, queries, data, pipeline and schedule as the
# Mask2Former peers (_base_/synthetic_demo.py); MaskFormer's own pixel decoder (a plain transformer encoder on the
# last feature map, 2 layers here), its 3-layer DETR decoder, losses (focal + dice), dropout 0.1 and weight decay
# 1e-4 are kept.
_base_ = ['mmdet::maskformer/maskformer_r50_ms-16xb1-75e_coco.py', './_base_/synthetic_demo_panoptic.py']
# `import oneformer`: the panopticapi names mmdet's CocoPanopticDataset / metric import (panopticapi is not on PyPI)
custom_imports = dict(imports=['oneformer'], allow_failed_imports=False)

num_things_classes = 3
num_stuff_classes = 2
num_classes = num_things_classes + num_stuff_classes
max_iters, image_size, data_root = _base_.demo_max_iters, _base_.demo_image_size, _base_.demo_data_root
metainfo = _base_.demo_metainfo

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),  # as the demo and the Mask2Former peers
    backbone=_base_.demo_model.backbone,
    panoptic_head=dict(_base_.demo_model.head, num_things_classes=num_things_classes,
                       num_stuff_classes=num_stuff_classes, loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])),
    panoptic_fusion_head=dict(num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes),
    test_cfg=dict(max_per_image=_base_.num_queries))

train_pipeline, test_pipeline = _base_.demo_panoptic_train_pipeline, _base_.demo_panoptic_test_pipeline
train_dataloader = _base_.demo_panoptic_train_loader
val_dataloader = test_dataloader = _base_.demo_panoptic_val_loader
val_evaluator = dict(ann_file=data_root + 'annotations/panoptic_val.json', seg_prefix=data_root + 'panoptic_val/')
test_evaluator = val_evaluator

optim_wrapper = _base_.demo_schedule.optim_wrapper
train_cfg = _base_.demo_schedule.train_cfg
param_scheduler = _base_.demo_schedule.param_scheduler
default_hooks = _base_.demo_schedule.default_hooks
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
