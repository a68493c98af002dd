# A plain ViT (mmpretrain) as OneFormer's backbone, ViTDet style, as a partial model config (`vit_model`) and
# optimizer wrapper (`vit_optim_wrapper`) that the ViT zoo configs (DINOv2, SAM, EVA-02) merge into a recipe; each
# adds its backbone type, size and checkpoint (`init_cfg.checkpoint`).
# The backbone returns the token map of its last block; ViTDet's simple feature pyramid makes strides 4, 8, 16, 32
# of it (256 channels; its in_channels / backbone_stride come from the backbone, the head's from the neck).
# ViTDet's fine-tuning rules: layer-wise lr decay at the full lr, no weight decay on embeddings.
vit_model = dict(
    backbone=dict(
        _delete_=True,  # every key of the recipe's backbone
        drop_path_rate=0.1,
        out_type='featmap',  # (B, C, H/patch, W/patch) patch tokens, for the neck
        init_cfg=dict(type='Pretrained', prefix='backbone.')),
    neck=dict(type='SimpleFeaturePyramid', out_channels=256),
    panoptic_head=dict(in_channels=None),  # found from the neck: 4 x 256 at strides 4..32
    freeze_backbone=False,  # True: linear-probe style (only the neck and head train)
    backbone_checkpoint=False)  # True: activation checkpointing of every ViT block (less memory, ~30% slower)

vit_optim_wrapper = dict(
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.7,  # ViTDet, ViT-B: block i of 12 trains at lr * 0.7 ** (12 - i)
        custom_keys={
            'backbone': dict(lr_mult=1.0, decay_mult=1.0),  # layer decay replaces the 0.1 backbone multiplier
            'backbone.pos_embed': dict(lr_mult=1.0, decay_mult=0.),
            'backbone.cls_token': dict(lr_mult=1.0, decay_mult=0.),
        }))
