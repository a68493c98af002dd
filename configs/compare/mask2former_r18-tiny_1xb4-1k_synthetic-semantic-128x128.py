# Mask2Former (mmseg: EncoderDecoder + Mask2FormerHead), semantic only, on the synthetic shapes dataset: the semantic
# peer of the demo OneFormer (configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py) in
# tools/analysis_tools/compare_segmentors.py. mmseg, not mmdet: mmdet's MaskFormerFusionHead has no semantic
# inference (semantic_on is refused), mmseg's head is the semantic Mask2Former users train.
#
# Labels: semantic label maps derived from the panoptic PNGs (label = class index, things first, 255 = void, each
# segment's pixels take its class: the semantic ground truth the OneFormer evaluation reads from the same PNGs).
# compare_segmentors.py writes them to data/synthetic/semantic_{train,val}/ on first use; or run
#     python tools/analysis_tools/compare_segmentors.py --make-semantic-labels
# Sizes and schedule as in the panoptic peer (same file name, -panoptic); same ResNet-18 at half width.
_base_ = ['mmseg::mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py']

num_classes = 5
num_queries = 32
hidden_dim = 64
max_iters = 1000
image_size = (128, 128)  # square: (h, w) = (w, h)
data_root = 'data/synthetic/'
metainfo = dict(classes=('circle', 'square', 'triangle', 'sky', 'ground'))

data_preprocessor = dict(size=None, size_divisor=32)  # pad batches to a multiple of 32, as the demo does
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        depth=18, stem_channels=32, base_channels=32, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
        init_cfg=None),  # from scratch; the same network as mmdet's ResNet-18 at base width 32
    decode_head=dict(
        in_channels=[32, 64, 128, 256],
        feat_channels=hidden_dim,
        out_channels=hidden_dim,
        num_classes=num_classes,
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
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1]),
        train_cfg=dict(num_points=2048)))  # masks are 32x32 at 1/4 of 128 px

# the augmentation of configs/_base_/datasets/synthetic_panoptic.py with mmseg's loaders
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=image_size),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=4,
    num_workers=1,  # one loader worker: the model step uses both cores
    sampler=dict(type='InfiniteSampler', shuffle=True),  # the demo's sampler (same image order for a seed)
    dataset=dict(
        type='BaseSegDataset',
        data_root=data_root,
        metainfo=metainfo,
        reduce_zero_label=False,
        data_prefix=dict(img_path='train/', seg_map_path='semantic_train/'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        type='BaseSegDataset',
        data_root=data_root,
        metainfo=metainfo,
        reduce_zero_label=False,
        data_prefix=dict(img_path='val/', seg_map_path='semantic_val/'),
        img_suffix='.jpg',
        seg_map_suffix='.png',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# the demo's schedule: from scratch on a tiny dataset, lr 5e-4 and no backbone lr multiplier, poly decay
optim_wrapper = dict(
    optimizer=dict(lr=5e-4),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0, decay_mult=1.0)}))
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1, save_last=True, save_best=None))
randomness = dict(seed=0)
