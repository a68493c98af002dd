# OneFormer, Swin-T (ImageNet-1k, 224), ADE20K-150 panoptic, 160k iterations, crop 512.
# Official recipe: SHI-Labs/OneFormer configs/ade20k/swin/oneformer_swin_tiny_bs16_160k.yaml: the R50 recipe
# with a Swin-T backbone (embed 96, depths 2-2-6-2, heads 3-6-12-24, window 7, drop path 0.3), still 150 queries.
# The official checkpoint 150_16_swin_t_oneformer_ade20k_160k.pth is only on the HF hub
# (shi-labs/oneformer_ade20k_swin_tiny); no number in the official README.
_base_ = './oneformer_r50_8xb2-160k_ade20k-panoptic-512x512.py'
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth'  # noqa

model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',  # mmdet's; convert_weights maps the official Swin checkpoint names
        pretrain_img_size=224,
        embed_dims=96,
        depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24],
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.3,  # SWIN.DROP_PATH_RATE
        patch_norm=True,
        use_abs_pos_embed=False,  # SWIN.APE False
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        convert_weights=True,
        frozen_stages=-1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    panoptic_head=dict(in_channels=[96, 192, 384, 768]))
