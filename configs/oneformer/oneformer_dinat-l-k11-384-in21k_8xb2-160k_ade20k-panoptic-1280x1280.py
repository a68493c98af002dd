# OneFormer, DiNAT-L (ImageNet-22k pre-trained, 1k fine-tuned, 384, 11x11), ADE20K-150 panoptic, 160k iterations, crop
# 1280.
# Official recipe: SHI-Labs/OneFormer configs/ade20k/dinat/oneformer_dinat_large_bs16_160k_1280x1280.yaml.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   160k iters, poly 0.9, no warmup | 250 queries | object_mask_thr 0.5 | AMP off
#   short edge 640..2560 (x0.5-2.0 of 1280), long edge <= 5120, crop / pad 1280, test short 1280 / long 5120
# Published by the authors (official checkpoint 1280x1280_250_16_dinat_l_oneformer_ade20k_160k.pth,
#   not reproduced here): PQ 51.5, AP 37.1, mIoU 58.3 (58.7 ms+flip), 223M parameters.
#   This config builds the architecture of that checkpoint; it loads it once converted (README.md).
_base_ = ['./oneformer_swin-l-p4-w12-384-in21k_8xb2-160k_ade20k-panoptic-1280x1280.py', '../_base_/models/backbones/dinat-l.py']

model = dict(
    backbone=dict(
        _base_.dinat_l_model.backbone,
        # DiNAT.DILATIONS of the 1280 yamls (larger than at 640 / 896: larger feature maps)
        dilations=[[1, 28, 1], [1, 7, 1, 14], [1, 3, 1, 5, 1, 5, 1, 7, 1, 3, 1, 5, 1, 5, 1, 7, 1, 7], [1, 3, 1, 3, 1]]),
    panoptic_head=_base_.dinat_l_model.panoptic_head)
