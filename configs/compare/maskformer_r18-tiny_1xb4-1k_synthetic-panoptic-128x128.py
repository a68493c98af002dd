# MaskFormer (mmdet), panoptic only, on the synthetic shapes dataset: the MaskFormer peer of the default leaderboard of the
# demo OneFormer (configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py) in
# tools/analysis_tools/compare_segmentors.py. Same backbone, widths, queries, data, pipeline and schedule as the
# Mask2Former peers; MaskFormer's own pixel decoder (a plain transformer encoder on the last feature map, 2 layers
# here), its 3-layer DETR decoder, losses (focal + dice), dropout 0.1 and weight decay 1e-4 are kept.
_base_ = ['mmdet::maskformer/maskformer_r50_ms-16xb1-75e_coco.py']
# `import oneformer`: the panopticapi names mmdet's CocoPanopticDataset / metric import (panopticapi is not on PyPI)
custom_imports = dict(imports=['oneformer'], allow_failed_imports=False)

num_things_classes = 3
num_stuff_classes = 2
num_classes = num_things_classes + num_stuff_classes
num_queries = 32
hidden_dim = 64
max_iters = 1000
image_size = (128, 128)
data_root = 'data/synthetic/'
metainfo = dict(
    classes=('circle', 'square', 'triangle', 'sky', 'ground'),
    thing_classes=('circle', 'square', 'triangle'),
    stuff_classes=('sky', 'ground'))
backend_args = None

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),  # as the demo and the Mask2Former peers
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
                    self_attn_cfg=dict(embed_dims=hidden_dim, num_heads=4),
                    ffn_cfg=dict(embed_dims=hidden_dim, feedforward_channels=256))),
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
    test_cfg=dict(max_per_image=num_queries))

# the pipeline of configs/_base_/datasets/synthetic_panoptic.py with mmdet's loaders instead of OneFormer's
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadPanopticAnnotations', with_bbox=True, with_mask=True, with_seg=True, backend_args=backend_args),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=image_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadPanopticAnnotations', backend_args=backend_args),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,  # one loader worker: the model step uses both cores
    sampler=dict(type='InfiniteSampler', shuffle=True),  # the demo's sampler (same image order for a seed)
    batch_sampler=None,  # plain batches of the shuffled sampler, as for the demo (all images are 128x128)
    dataset=dict(
        type='CocoPanopticDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/panoptic_train.json',
        data_prefix=dict(img='train/', seg='panoptic_train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        type='CocoPanopticDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/panoptic_val.json',
        data_prefix=dict(img='val/', seg='panoptic_val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/panoptic_val.json', seg_prefix=data_root + 'panoptic_val/')
test_evaluator = val_evaluator

# the demo's schedule (iteration based): lr 5e-4 and no backbone lr multiplier, poly decay
optim_wrapper = dict(
    optimizer=dict(lr=5e-4),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0, decay_mult=1.0)}))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1, save_last=True))
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
randomness = dict(seed=0)
