# The embedded default (`make demo`): a small OneFormer trained from scratch on the generated synthetic panoptic
# dataset (3 thing shapes + 2 textured stuff regions, 128x128), jointly on the three tasks, on CPU.
# Same architecture as the paper's models, every width and depth shrunk; no pretrained weights (no download).
_base_ = [
    '../_base_/models/oneformer_r50.py', '../_base_/datasets/synthetic_panoptic.py',
    '../_base_/schedules/oneformer_adamw.py', '../_base_/default_runtime.py'
]
num_queries = 32  # text list: 32 - 16 context embeddings = 16 entries
hidden_dim = 64
max_iters = 1000  # ~4-5 min on 2 CPU cores; PQ ~70 is reached after ~400

model = dict(
    backbone=dict(
        depth=18, base_channels=32, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
        init_cfg=None),  # from scratch
    panoptic_head=dict(
        feat_channels=hidden_dim,
        out_channels=hidden_dim,
        num_things_classes=_base_.num_things_classes,
        num_stuff_classes=_base_.num_stuff_classes,
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
        task_encoder=dict(embed_dims=hidden_dim),
        query_transformer=dict(
            embed_dims=hidden_dim,
            decoder=dict(layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=hidden_dim, num_heads=4, dropout=0.0),
                cross_attn_cfg=dict(embed_dims=hidden_dim, num_heads=4, dropout=0.0),
                ffn_cfg=dict(embed_dims=hidden_dim, feedforward_channels=256, ffn_drop=0.0)))),
        text_mapper=dict(embed_dims=hidden_dim, width=64, num_layers=2, num_heads=1)),
    train_cfg=dict(num_points=2048))  # masks are 32x32 at 1/4 of 128 px

# one loader worker: the model step uses both cores
train_dataloader = dict(batch_size=4, num_workers=1)
val_dataloader = dict(batch_size=4, num_workers=1)
test_dataloader = val_dataloader

# from scratch on a tiny dataset: a larger lr and no backbone lr multiplier (the paper's 0.1 is for pretrained)
optim_wrapper = dict(
    optimizer=dict(lr=5e-4),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0, decay_mult=1.0)}))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1, save_last=True))
randomness = dict(seed=0)
