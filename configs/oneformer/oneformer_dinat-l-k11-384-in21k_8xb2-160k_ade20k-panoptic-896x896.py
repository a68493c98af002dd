# OneFormer, DiNAT-L (ImageNet-22k pre-trained, 1k fine-tuned, 384, 11x11), ADE20K-150 panoptic, 160k iterations, crop
# 896.
# Official recipe: SHI-Labs/OneFormer configs/ade20k/dinat/oneformer_dinat_large_bs16_160k_896x896.yaml.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   160k iters, poly 0.9, no warmup | 250 queries | object_mask_thr 0.5 | AMP off
#   short edge 448..1792 (x0.5-2.0 of 896), long edge <= 3584, crop / pad 896, test short 896 / long 3584
# Published by the authors (official checkpoint 896x896_250_16_dinat_l_oneformer_ade20k_160k.pth,
#   not reproduced here): PQ 51.2, AP 36.8, mIoU 58.1 (58.6 ms+flip), 223M parameters.
#   This config builds the architecture of that checkpoint; it loads it once converted (README.md).
_base_ = ['./oneformer_swin-l-p4-w12-384-in21k_8xb2-160k_ade20k-panoptic-896x896.py', '../_base_/models/backbones/dinat-l.py']

model = _base_.dinat_l_model
