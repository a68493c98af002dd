# OneFormer with SAM's ViT-B/16 image encoder (Segment Anything, SA-1B), ADE20K panoptic, crop 640: the DINOv2-B
# recipe with the backbone swapped (not an official recipe; no result yet). Windowed attention (14x14) with four
# global blocks and decomposed relative positions, as pre-trained; SAM's own 256-d neck is left out
# (out_channels=0): the simple feature pyramid reads the 768-d tokens, as in ViTDet.
# Pretrained weights: mmpretrain model `vit-base-p16_sam-pre_3rdparty_sa1b-1024px` (configs/sam/metafile.yml
# there), converted by mmpretrain from the official sam_vit_b_01ec64.pth (its channel-reduction neck is unused).
_base_ = './oneformer_dinov2-b-p14_8xb2-160k_ade20k-panoptic-640x640.py'
pretrained = 'https://download.openmmlab.com/mmclassification/v1/vit_sam/vit-base-p16_sam-pre_3rdparty_sa1b-1024px_20230411-2320f9cc.pth'  # noqa

model = dict(
    backbone=dict(
        _base_.vit_model.backbone,
        type='mmpretrain.ViTSAM',
        arch='base',
        img_size=1024,  # the checkpoint's grids (64x64 position embeddings, global relative positions)
        patch_size=16,
        window_size=14,
        out_channels=0,  # no SAM neck
        init_cfg=dict(_base_.vit_model.backbone.init_cfg, checkpoint=pretrained)))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'rel_pos': dict(lr_mult=1.0, decay_mult=0.)}))
