# OneFormer, Swin-L (ImageNet-22k pre-trained, 1k fine-tuned, 384), Mapillary Vistas v1.2 panoptic, 300k iterations,
# crop 1024.
# Official recipe: SHI-Labs/OneFormer configs/mapillary_vistas/swin/oneformer_swin_large_bs16_300k.yaml.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   300k iters, poly 0.9, no warmup | 250 queries | object_mask_thr 0.8 | AMP on (`--amp`)
#   short edge 1024..4096 (x0.5-2.0 of 2048), long edge <= 8192, crop / pad 1024, test long edge 2048
#   task sampling: half semantic, half panoptic (TASK_PROB 0.5 / 0.5), never instance
# Published by the authors (official checkpoint 250_16_swin_l_oneformer_mapillary_300k.pth,
#   not reproduced here): PQ 46.7, mIoU 62.9 (64.1 ms+flip), 219M parameters.
#   This config builds the architecture of that checkpoint; it loads it once converted (README.md).
_base_ = ['./oneformer_r50_8xb2-300k_mapillary-panoptic-1024x1024.py', '../_base_/models/backbones/swin-l.py']

num_queries = 250  # ONE_FORMER.NUM_OBJECT_QUERIES (test_cfg.max_per_image follows)
model = dict(
    backbone=_base_.swin_l_model.backbone,
    panoptic_head=dict(in_channels=_base_.swin_l_model.panoptic_head.in_channels, num_queries=num_queries))
