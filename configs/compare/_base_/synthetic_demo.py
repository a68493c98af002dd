# What the synthetic peers of the demo OneFormer (configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py)
# in tools/analysis_tools/compare_segmentors.py take from it: its shrunk sizes (the same ResNet-18 at half width from
# scratch, 64-wide pixel decoder with 2 encoder layers, 3 decoder layers, 32 queries, 2048 sampled points), its data
# (the 128x128 synthetic shapes, batch 4, its sampler and augmentation) and its schedule (AdamW lr 5e-4 without a
# backbone lr multiplier, poly decay over 1000 iterations, seed 0).
#
# A peer lists this file (or synthetic_demo_panoptic.py) after its upstream recipe, mmdet's or mmseg's, and places
# the pieces into the recipe's keys. The pieces have names of their own (demo_*): mmengine refuses a key that two
# bases of one config define, and the recipes define max_iters, image_size, data_root, the model, the pipelines,
# the loaders and the schedule.
num_queries = 32
hidden_dim = 64
randomness = dict(seed=0)
demo_max_iters = 1000
demo_image_size = (128, 128)
demo_data_root = 'data/synthetic/'
demo_metainfo = dict(
    classes=('circle', 'square', 'triangle', 'sky', 'ground'),  # things first, as the generator numbers them
    thing_classes=('circle', 'square', 'triangle'),
    stuff_classes=('sky', 'ground'))

# the augmentation of configs/_base_/datasets/synthetic_panoptic.py (mmdet's transforms)
demo_augmentation = [
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=demo_image_size, ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=demo_image_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
]
# one loader worker: the model step uses both cores; the demo's sampler (the same image order for a seed)
demo_train_loader = dict(batch_size=4, num_workers=1, sampler=dict(type='InfiniteSampler', shuffle=True))
demo_val_loader = dict(batch_size=4, num_workers=1)

# the backbone, pixel decoder and decoder of the demo; each peer adds its class counts
demo_model = dict(
    backbone=dict(
        depth=18, base_channels=32, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
        init_cfg=None),  # from scratch
    head=dict(
        in_channels=[32, 64, 128, 256],
        feat_channels=hidden_dim,
        out_channels=hidden_dim,
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
                ffn_cfg=dict(embed_dims=hidden_dim, feedforward_channels=256)))),
    num_points=2048)  # Mask2Former's sampled points: masks are 32x32 at 1/4 of 128 px

# the demo's schedule: from scratch on a tiny dataset, lr 5e-4 and no backbone lr multiplier, poly decay
demo_schedule = dict(
    optim_wrapper=dict(
        optimizer=dict(lr=5e-4),
        paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0, decay_mult=1.0)})),
    train_cfg=dict(_delete_=True, type='IterBasedTrainLoop', max_iters=demo_max_iters, val_interval=demo_max_iters),
    param_scheduler=[dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=demo_max_iters, by_epoch=False)],
    default_hooks=dict(  # in mmdet's hook types; the mmseg peer keeps its recipe's
        logger=dict(type='LoggerHook', interval=25),
        checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=demo_max_iters, max_keep_ckpts=1,
                        save_last=True)))
