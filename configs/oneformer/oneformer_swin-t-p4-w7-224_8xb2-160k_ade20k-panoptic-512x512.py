# OneFormer, Swin-T (ImageNet-1k, 224), ADE20K-150 panoptic, 160k iterations, crop 512.
# Official recipe: SHI-Labs/OneFormer configs/ade20k/swin/oneformer_swin_tiny_bs16_160k.yaml: the R50 recipe
# with a Swin-T backbone (embed 96, depths 2-2-6-2, heads 3-6-12-24, window 7, drop path 0.3), still 150 queries.
# The official checkpoint 150_16_swin_t_oneformer_ade20k_160k.pth is only on the HF hub
# (shi-labs/oneformer_ade20k_swin_tiny); no number in the official README.
_base_ = ['./oneformer_r50_8xb2-160k_ade20k-panoptic-512x512.py', '../_base_/models/backbones/swin-l.py']
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth'  # noqa

model = dict(
    backbone=dict(
        _base_.swin_l_model.backbone,  # mmdet's SwinTransformer as for Swin-L, with Swin-T's sizes
        pretrain_img_size=224,
        embed_dims=96,
        depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24],
        window_size=7,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    panoptic_head=dict(in_channels=[96, 192, 384, 768]))
