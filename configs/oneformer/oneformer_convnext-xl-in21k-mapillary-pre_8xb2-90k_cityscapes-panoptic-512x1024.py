# OneFormer, ConvNeXt-XL, Cityscapes panoptic, 90k iterations, crop 512x1024, fine-tuned from a Mapillary Vistas model.
# Official recipe: SHI-Labs/OneFormer
#   configs/cityscapes/convnext/mapillary_pretrain_oneformer_convnext_xlarge_bs16_90k.yaml:
#   the ConvNeXt-XL Cityscapes recipe started from a Mapillary Vistas checkpoint instead of the ImageNet weights.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   90k iters, poly 0.9, no warmup | 250 queries | object_mask_thr 0.8 | AMP on (`--amp`)
# Published by the authors (official checkpoint mapillary_pretrain_250_16_convnext_xl_oneformer_cityscapes_90k.pth,
#   not reproduced here): PQ 69.7, AP 48.9, mIoU 84.5 (85.8 ms+flip), 372M parameters.
#   This config builds the architecture of that checkpoint; it loads it once converted (README.md).
# Pre-training: mapillary_pretrain_250_16_convnext_xl_oneformer_mapillary_300k.pth (the official README's
#   "pretrained" link), trained with
#   oneformer_convnext-xl-in21k_8xb2-300k_mapillary-panoptic-1024x1024-for-cityscapes.py (Mapillary Vistas, all
#   three tasks). Convert it first:
#   python tools/model_converters/oneformer_d2_to_mm.py \
#       mapillary_pretrain_250_16_convnext_xl_oneformer_mapillary_300k.pth \
#       checkpoints/mapillary_pretrain_250_16_convnext_xl_oneformer_mapillary_300k.pth --dataset mapillary
#   Every tensor loads except the class head (65 Mapillary classes vs 19 here), which starts from scratch:
#   load_mismatch='reinit_cls' keeps the freshly initialised class head (OneFormerHead.class_head_keys), as
#   detectron2 skips tensors of another shape; any other mismatch is an error naming the tensors.
_base_ = './oneformer_convnext-xl-in21k_8xb2-90k_cityscapes-panoptic-512x1024.py'

load_from = 'checkpoints/mapillary_pretrain_250_16_convnext_xl_oneformer_mapillary_300k.pth'  # converted, see above

model = dict(
    backbone=dict(init_cfg=None),  # the ImageNet weights would be overwritten by load_from
    load_mismatch='reinit_cls')  # another dataset's class head (see above)
