# OneFormer, DiNAT-L (ImageNet-22k pre-trained, 1k fine-tuned, 384, 11x11), COCO panoptic (133 classes), 100 epochs,
# LSJ 1024.
# Official recipe: SHI-Labs/OneFormer configs/coco/dinat/oneformer_dinat_large_bs16_100ep.yaml.
#   batch 16 = 16 GPUs x 1 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   737,500 iters (100 ep), steps 655,556 / 710,184 | 150 queries | object_mask_thr 0.8 | AMP off
#   LSJ: flip, resize x0.1-2.0 of 1024, crop / pad 1024 | test short 800 / long 1333
#   (official: 8 A100 GPUs x 2; 16 x 1 as mmdet's Mask2Former Swin-L, same total batch)
# Published by the authors (official checkpoint 150_16_dinat_l_oneformer_coco_100ep.pth,
#   not reproduced here): PQ 58.0 (PQth 64.3, PQst 48.4), AP 49.2, mIoU 68.1, 223M parameters.
#   This config builds the architecture of that checkpoint; it loads it once converted (README.md).
_base_ = ['./oneformer_swin-l-p4-w12-384-in21k_16xb1-100e_coco-panoptic.py', '../_base_/models/backbones/dinat-l.py']

model = _base_.dinat_l_model

# SOLVER.STEPS (655556, 710184) of the DiNAT-L yaml (the Swin-L yaml decays at 735184)
param_scheduler = [dict(_base_.param_scheduler[0], milestones=[655556, 710184])]
