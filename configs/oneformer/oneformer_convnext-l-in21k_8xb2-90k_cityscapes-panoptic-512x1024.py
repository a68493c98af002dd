# OneFormer, ConvNeXt-L (ImageNet-22k pre-trained, 1k fine-tuned, 384; mmpretrain), Cityscapes panoptic, 90k
# iterations, crop 512x1024.
# Official recipe: SHI-Labs/OneFormer configs/cityscapes/convnext/oneformer_convnext_large_bs16_90k.yaml.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   90k iters, poly 0.9, no warmup | 250 queries | object_mask_thr 0.8 | AMP on (`--amp`)
#   short edge 512..2048 (x0.5-2.0 of 1024), long edge <= 4096, crop 512x1024 (no padding), test short 1024 / long 2048
# Published by the authors (official checkpoint 250_16_convnext_l_oneformer_cityscapes_90k.pth,
#   not reproduced here): PQ 68.5, AP 46.5, mIoU 83.0 (84.0 ms+flip), 220M parameters.
#   This config builds the architecture of that checkpoint; it loads it once converted (README.md).
_base_ = ['./oneformer_swin-l-p4-w12-384-in21k_8xb2-90k_cityscapes-panoptic-512x1024.py', '../_base_/models/backbones/convnext-l.py']
custom_imports = dict(imports=['oneformer', 'mmpretrain.models'], allow_failed_imports=False)

model = _base_.convnext_l_model
