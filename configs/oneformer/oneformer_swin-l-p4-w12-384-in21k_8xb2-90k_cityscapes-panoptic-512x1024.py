# OneFormer, Swin-L (ImageNet-22k pre-trained, 1k fine-tuned, 384), Cityscapes panoptic, 90k iterations, crop 512x1024.
# Official recipe: SHI-Labs/OneFormer configs/cityscapes/swin/oneformer_swin_large_bs16_90k.yaml.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   90k iters, poly 0.9, no warmup | 250 queries | object_mask_thr 0.8 | AMP on (`--amp`)
#   short edge 512..2048 (x0.5-2.0 of 1024), long edge <= 4096, crop 512x1024 (no padding), test short 1024 / long 2048
# Published by the authors (official checkpoint 250_16_swin_l_oneformer_cityscapes_90k.pth,
#   not reproduced here): PQ 67.2, AP 45.6, mIoU 83.0 (84.4 ms+flip), 219M parameters.
#   This config builds the architecture of that checkpoint; it loads it once converted (README.md).
_base_ = ['./oneformer_r50_8xb2-90k_cityscapes-panoptic-512x1024.py', '../_base_/models/backbones/swin-l.py']

num_queries = 250  # ONE_FORMER.NUM_OBJECT_QUERIES (test_cfg.max_per_image follows)
model = dict(
    backbone=_base_.swin_l_model.backbone,
    panoptic_head=dict(in_channels=_base_.swin_l_model.panoptic_head.in_channels, num_queries=num_queries))
