# Mask2Former (mmdet), instance only, on the synthetic shapes dataset: the instance peer of the demo OneFormer
# (configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py) in tools/analysis_tools/compare_segmentors.py.
# Reads the COCO instance JSONs the synthetic generator writes next to the panoptic ones
# (annotations/instances_{train,val}.json; tools/dataset_converters/panoptic2instance.py makes them for any
# COCO-panoptic dataset). The demo's sizes, data and schedule as in the panoptic peer (_base_/synthetic_demo.py).
_base_ = ['mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco.py', './_base_/synthetic_demo.py']
custom_imports = dict(imports=['oneformer'], allow_failed_imports=False)

num_things_classes = 3
num_stuff_classes = 0
num_classes = num_things_classes + num_stuff_classes
max_iters, image_size, data_root = _base_.demo_max_iters, _base_.demo_image_size, _base_.demo_data_root
metainfo = dict(classes=_base_.demo_metainfo.thing_classes)

batch_augments = None  # no LSJ fixed-size padding: batches are padded to a multiple of 32, as for the demo
model = dict(
    data_preprocessor=dict(batch_augments=batch_augments),
    backbone=_base_.demo_model.backbone,
    panoptic_head=dict(_base_.demo_model.head, num_things_classes=num_things_classes,
                       num_stuff_classes=num_stuff_classes, loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])),
    panoptic_fusion_head=dict(num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes),
    train_cfg=dict(num_points=_base_.demo_model.num_points),
    test_cfg=dict(panoptic_on=False, semantic_on=False, instance_on=True, max_per_image=_base_.num_queries))

# the demo's augmentation with mmdet's instance loaders
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True, backend_args=None),
    *_base_.demo_augmentation,
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-5, 1e-5), by_mask=True),  # mmdet's: drop cropped-out masks
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True, backend_args=None),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    _base_.demo_train_loader,
    batch_sampler=None,  # plain batches of the shuffled sampler, as for the demo (all images are 128x128)
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_train.json',
                 data_prefix=dict(_delete_=True, img='train/'),  # no panoptic PNG folder
                 pipeline=train_pipeline))
val_dataloader = dict(
    _base_.demo_val_loader,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/instances_val.json',
                 data_prefix=dict(_delete_=True, img='val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json', metric='segm')
test_evaluator = val_evaluator

optim_wrapper = _base_.demo_schedule.optim_wrapper
train_cfg = _base_.demo_schedule.train_cfg
param_scheduler = _base_.demo_schedule.param_scheduler
default_hooks = _base_.demo_schedule.default_hooks
