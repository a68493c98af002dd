# OneFormer with a plain ViT: DINOv2 ViT-B/14 (self-supervised on LVD-142M), ADE20K-150 panoptic, 160k, crop 640.
# Not an official OneFormer recipe (the paper has no ViT models): the ADE20K 640 recipe of the Swin-L config (data,
# schedule, 250 queries, thresholds) with the backbone swapped, ViTDet's simple feature pyramid as the neck and
# ViTDet's fine-tuning rules (layer-wise lr decay 0.7 at the full lr, no decay on embeddings). No result yet.
# Pretrained weights: mmpretrain model `vit-base-p14_dinov2-pre_3rdparty` (configs/dinov2/metafile.yml there),
# converted by mmpretrain from the official dinov2_vitb14_pretrain.pth. Loaded at build by init_cfg (not in tests).
# The ViT block (neck, fine-tuning rules) is ../_base_/models/backbones/vit.py's. Patch 14: the neck resamples the
# 46x46 token grid of a 640 crop to the stride-16 grid (40x40), and the position embeddings (pre-trained at
# 518 = 37x37 patches) are resized to the input's patch grid in every forward.
_base_ = ['./oneformer_swin-l-p4-w12-384-in21k_8xb2-160k_ade20k-panoptic-640x640.py', '../_base_/models/backbones/vit.py']
custom_imports = dict(imports=['oneformer', 'mmpretrain.models'], allow_failed_imports=False)
pretrained = 'https://download.openmmlab.com/mmpretrain/v1.0/dinov2/vit-base-p14_dinov2-pre_3rdparty_20230426-ba246503.pth'  # noqa

model = dict(
    _base_.vit_model,
    backbone=dict(
        _base_.vit_model.backbone,
        type='mmpretrain.VisionTransformer',
        arch='base',
        img_size=518,  # the checkpoint's position-embedding grid (37x37); any input size works
        patch_size=14,
        layer_scale_init_value=1e-5,
        init_cfg=dict(_base_.vit_model.backbone.init_cfg, checkpoint=pretrained)))
optim_wrapper = _base_.vit_optim_wrapper
