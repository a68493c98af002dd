# OneFormer with EVA-02 ViT-B/14 (MIM pre-trained on ImageNet-21k: RoPE, SwiGLU, sub-LN), ADE20K panoptic, crop 640.
# The DINOv2-B recipe with the backbone swapped (not an official recipe; no result yet).
# Pretrained weights: mmpretrain model `vit-base-p14_eva02-pre_in21k` (configs/eva02/metafile.yml there),
# converted by mmpretrain from the official eva02_B_pt_in21k_p14.pt. EVA-02 uses CLIP's pixel mean / std.
_base_ = './oneformer_dinov2-b-p14_8xb2-160k_ade20k-panoptic-640x640.py'
pretrained = 'https://download.openmmlab.com/mmpretrain/v1.0/eva02/eva02-base-p14_pre_in21k_20230505-2f2d4d3c.pth'  # noqa

model = dict(
    data_preprocessor=dict(mean=[122.771, 116.746, 104.094], std=[68.501, 66.632, 70.323]),  # CLIP's x 255
    backbone=dict(
        _base_.vit_model.backbone,
        type='mmpretrain.ViTEVA02',
        arch='b',
        img_size=224,  # the checkpoint's position-embedding grid (16x16); RoPE and embeddings follow the input
        patch_size=14,
        sub_ln=True,
        final_norm=False,  # the MIM checkpoint has no final norm
        init_cfg=dict(_base_.vit_model.backbone.init_cfg, checkpoint=pretrained)))
