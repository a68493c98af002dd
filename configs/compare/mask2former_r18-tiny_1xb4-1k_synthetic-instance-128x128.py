# Mask2Former (mmdet), instance only, on the synthetic shapes dataset: the instance peer of the demo OneFormer
# (configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py) in tools/analysis_tools/compare_segmentors.py.
# Reads the COCO instance JSONs the synthetic generator writes next to the panoptic ones
# (annotations/instances_{train,val}.json; tools/dataset_converters/panoptic2instance.py makes them for any
# COCO-panoptic dataset). Sizes and schedule as in the panoptic peer (same file name, -panoptic).
_base_ = ['mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco.py']
custom_imports = dict(imports=['oneformer'], allow_failed_imports=False)

num_things_classes = 3
num_stuff_classes = 0
num_classes = num_things_classes + num_stuff_classes
num_queries = 32
hidden_dim = 64
max_iters = 1000
image_size = (128, 128)
data_root = 'data/synthetic/'
metainfo = dict(classes=('circle', 'square', 'triangle'))
backend_args = None

batch_augments = None  # no LSJ fixed-size padding: batches are padded to a multiple of 32, as for the demo
model = dict(
    data_preprocessor=dict(batch_augments=batch_augments),
    backbone=dict(
        depth=18, base_channels=32, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
        init_cfg=None),  # from scratch
    panoptic_head=dict(
        in_channels=[32, 64, 128, 256],
        feat_channels=hidden_dim,
        out_channels=hidden_dim,
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes,
        num_queries=num_queries,
        pixel_decoder=dict(
            encoder=dict(
                num_layers=2,
                layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=hidden_dim, num_heads=4, dropout=0.0),
                    ffn_cfg=dict(embed_dims=hidden_dim, feedforward_channels=256, ffn_drop=0.0))),
            positional_encoding=dict(num_feats=hidden_dim // 2)),
        positional_encoding=dict(num_feats=hidden_dim // 2),
        transformer_decoder=dict(
            num_layers=3,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=hidden_dim, num_heads=4),
                cross_attn_cfg=dict(embed_dims=hidden_dim, num_heads=4),
                ffn_cfg=dict(embed_dims=hidden_dim, feedforward_channels=256))),
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])),
    panoptic_fusion_head=dict(num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes),
    train_cfg=dict(num_points=2048),  # masks are 32x32 at 1/4 of 128 px
    test_cfg=dict(panoptic_on=False, semantic_on=False, instance_on=True, max_per_image=num_queries))

# the pipeline of configs/_base_/datasets/synthetic_panoptic.py with mmdet's instance loaders
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True, backend_args=backend_args),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=image_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-5, 1e-5), by_mask=True),  # mmdet's: drop cropped-out masks
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True, backend_args=backend_args),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,  # one loader worker: the model step uses both cores
    sampler=dict(type='InfiniteSampler', shuffle=True),  # the demo's sampler (same image order for a seed)
    batch_sampler=None,  # plain batches of the shuffled sampler, as for the demo (all images are 128x128)
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(_delete_=True, img='train/'),  # no panoptic PNG folder
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(_delete_=True, img='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json', metric='segm')
test_evaluator = val_evaluator

# the demo's schedule: from scratch on a tiny dataset, lr 5e-4 and no backbone lr multiplier, poly decay
optim_wrapper = dict(
    optimizer=dict(lr=5e-4),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0, decay_mult=1.0)}))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1, save_last=True))
randomness = dict(seed=0)
