# OneFormer with EVA-02 ViT-L/14 (MIM pre-trained on Merged-38M), ADE20K panoptic, crop 640: the EVA-02-B recipe
# with ViTDet's ViT-L settings (layer decay 0.8, drop path 0.4) and activation checkpointing of the 24 blocks (the
# backbone has no with_cp of its own). Not an official recipe; no result yet.
# Pretrained weights: mmpretrain model `vit-large-p14_eva02-pre_m38m` (configs/eva02/metafile.yml there), converted
# by mmpretrain from the official eva02_L_pt_m38m_p14.pt.
_base_ = './oneformer_eva02-b-p14_8xb2-160k_ade20k-panoptic-640x640.py'
pretrained = 'https://download.openmmlab.com/mmpretrain/v1.0/eva02/eva02-large-p14_pre_m38m_20230505-b8a1a261.pth'  # noqa

model = dict(
    backbone=dict(arch='l', drop_path_rate=0.4, init_cfg=dict(checkpoint=pretrained)),
    backbone_checkpoint=True)
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8))  # ViTDet, ViT-L
