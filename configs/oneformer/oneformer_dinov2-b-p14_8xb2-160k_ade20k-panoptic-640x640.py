# OneFormer with a plain ViT: DINOv2 ViT-B/14 (self-supervised on LVD-142M), ADE20K-150 panoptic, 160k, crop 640.
# Not an official OneFormer recipe (the paper has no ViT models): the ADE20K 640 recipe of the Swin-L config (data,
# schedule, 250 queries, thresholds) with the backbone swapped, ViTDet's simple feature pyramid as the neck and
# ViTDet's fine-tuning rules (layer-wise lr decay 0.7 at the full lr, no decay on embeddings). No result yet.
# Pretrained weights: mmpretrain model `vit-base-p14_dinov2-pre_3rdparty` (configs/dinov2/metafile.yml there),
# converted by mmpretrain from the official dinov2_vitb14_pretrain.pth. Loaded at build by init_cfg (not in tests).
# Patch 14: the neck resamples the 46x46 token grid of a 640 crop to the stride-16 grid (40x40), and the position
# embeddings (pre-trained at 518 = 37x37 patches) are resized to the input's patch grid in every forward.
_base_ = './oneformer_swin-l-p4-w12-384-in21k_8xb2-160k_ade20k-panoptic-640x640.py'
custom_imports = dict(imports=['oneformer', 'mmpretrain.models'], allow_failed_imports=False)
pretrained = 'https://download.openmmlab.com/mmpretrain/v1.0/dinov2/vit-base-p14_dinov2-pre_3rdparty_20230426-ba246503.pth'  # noqa

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.VisionTransformer',
        arch='base',
        img_size=518,  # the checkpoint's position-embedding grid (37x37); any input size works
        patch_size=14,
        layer_scale_init_value=1e-5,
        drop_path_rate=0.1,
        out_type='featmap',  # (B, 768, H/14, W/14) patch tokens, for the neck
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    # ViTDet pyramid: strides 4, 8, 16, 32 with 256 channels; its in_channels / backbone_stride come from the backbone
    neck=dict(type='SimpleFeaturePyramid', out_channels=256),
    panoptic_head=dict(in_channels=None),  # found from the neck: 4 x 256 at strides 4..32
    freeze_backbone=False,  # True: linear-probe style (only the neck and head train)
    backbone_checkpoint=False)  # True: activation checkpointing of every ViT block (less memory, ~30% slower)

optim_wrapper = dict(
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.7,  # ViTDet, ViT-B: block i of 12 trains at lr * 0.7 ** (12 - i)
        custom_keys={
            'backbone': dict(lr_mult=1.0, decay_mult=1.0),  # layer decay replaces the 0.1 backbone multiplier
            'backbone.pos_embed': dict(lr_mult=1.0, decay_mult=0.),
            'backbone.cls_token': dict(lr_mult=1.0, decay_mult=0.),
        }))
