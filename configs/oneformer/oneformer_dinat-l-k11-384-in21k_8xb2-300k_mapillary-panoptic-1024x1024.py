# OneFormer, DiNAT-L (ImageNet-22k pre-trained, 1k fine-tuned, 384, 11x11), Mapillary Vistas v1.2 panoptic, 300k
# iterations, crop 1024.
# Official recipe: SHI-Labs/OneFormer configs/mapillary_vistas/dinat/oneformer_dinat_large_bs16_300k.yaml.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   300k iters, poly 0.9, no warmup | 250 queries | object_mask_thr 0.8 | AMP off
#   short edge 1024..4096 (x0.5-2.0 of 2048), long edge <= 8192, crop / pad 1024, test long edge 2048
#   task sampling: half semantic, half panoptic (TASK_PROB 0.5 / 0.5), never instance
# Published by the authors (official checkpoint 250_16_dinat_l_oneformer_mapillary_300k.pth,
#   not reproduced here): PQ 47.8, mIoU 64.0 (64.9 ms+flip), 223M parameters.
#   This config builds the architecture of that checkpoint; it loads it once converted (README.md).
_base_ = ['./oneformer_swin-l-p4-w12-384-in21k_8xb2-300k_mapillary-panoptic-1024x1024.py', '../_base_/models/backbones/dinat-l.py']

model = _base_.dinat_l_model
