# Mask2Former (mmdet), panoptic only, on the synthetic shapes dataset: the panoptic peer of the demo OneFormer
# (configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py) in tools/analysis_tools/compare_segmentors.py.
# Changed from mmdet's COCO recipe only where the shared data and the demo's shrunk sizes need it: the demo's sizes,
# data and schedule (_base_/synthetic_demo.py: ResNet-18 at half width from scratch, 64-wide pixel decoder with 2
# encoder layers, 3 decoder layers, 32 queries, 2048 sampled points, 128x128, batch 4, AdamW lr 5e-4, poly, seed).
_base_ = ['mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py', './_base_/synthetic_demo_panoptic.py']
# `import oneformer`: the panopticapi names mmdet's CocoPanopticDataset / metric import (panopticapi is not on PyPI)
custom_imports = dict(imports=['oneformer'], allow_failed_imports=False)

num_things_classes = 3
num_stuff_classes = 2
num_classes = num_things_classes + num_stuff_classes
max_iters, image_size, data_root = _base_.demo_max_iters, _base_.demo_image_size, _base_.demo_data_root
metainfo = _base_.demo_metainfo

batch_augments = None  # no LSJ fixed-size padding: batches are padded to a multiple of 32, as for the demo
model = dict(
    data_preprocessor=dict(batch_augments=batch_augments),
    backbone=_base_.demo_model.backbone,
    panoptic_head=dict(_base_.demo_model.head, num_things_classes=num_things_classes,
                       num_stuff_classes=num_stuff_classes, loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])),
    panoptic_fusion_head=dict(num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes),
    train_cfg=dict(num_points=_base_.demo_model.num_points),
    test_cfg=dict(panoptic_on=True, semantic_on=False, instance_on=False, max_per_image=_base_.num_queries))

train_pipeline, test_pipeline = _base_.demo_panoptic_train_pipeline, _base_.demo_panoptic_test_pipeline
train_dataloader = _base_.demo_panoptic_train_loader
val_dataloader = test_dataloader = _base_.demo_panoptic_val_loader
val_evaluator = [
    dict(type='CocoPanopticMetric', ann_file=data_root + 'annotations/panoptic_val.json',
         seg_prefix=data_root + 'panoptic_val/', backend_args=None)
]
test_evaluator = val_evaluator

optim_wrapper = _base_.demo_schedule.optim_wrapper
train_cfg = _base_.demo_schedule.train_cfg
param_scheduler = _base_.demo_schedule.param_scheduler
default_hooks = _base_.demo_schedule.default_hooks
