# OneFormer, DiNAT-L (ImageNet-22k pre-trained, 224, 7x7), Cityscapes panoptic, 90k iterations, crop 512x1024.
# Official recipe: SHI-Labs/OneFormer configs/cityscapes/dinat/oneformer_dinat_large_bs16_90k.yaml.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   90k iters, poly 0.9, no warmup | 250 queries | object_mask_thr 0.8 | AMP off
#   short edge 512..2048 (x0.5-2.0 of 1024), long edge <= 4096, crop 512x1024 (no padding), test short 1024 / long 2048
# Published by the authors (official checkpoint 250_16_dinat_l_oneformer_cityscapes_90k.pth,
#   not reproduced here): PQ 67.6, AP 45.6, mIoU 83.1 (84.0 ms+flip), 223M parameters.
#   This config builds the architecture of that checkpoint; it loads it once converted (README.md).
_base_ = ['./oneformer_swin-l-p4-w12-384-in21k_8xb2-90k_cityscapes-panoptic-512x1024.py', '../_base_/models/backbones/dinat-l.py']

# MODEL.WEIGHTS dinat_large_in22k_224 (ImageNet-22k only, 224, 7x7; the other DiNAT-L configs start from
# the 384 11x11 ImageNet-1k fine-tuned weights)
pretrained = 'https://shi-labs.com/projects/dinat/checkpoints/imagenet22k/dinat_large_in22k_224.pth'

model = dict(
    backbone=dict(
        _base_.dinat_l_model.backbone,
        kernel_size=7,  # DiNAT.KERNEL_SIZE (11 on the other datasets)
        # DiNAT.DILATIONS of the Cityscapes yaml
        dilations=[[1, 18, 1], [1, 5, 1, 9], [1, 2, 1, 3, 1, 4, 1, 2, 1, 3, 1, 4, 1, 2, 1, 3, 1, 4],
                   [1, 2, 1, 2, 1]],
        init_cfg=dict(_base_.dinat_l_model.backbone.init_cfg, checkpoint=pretrained)),
    panoptic_head=_base_.dinat_l_model.panoptic_head)
