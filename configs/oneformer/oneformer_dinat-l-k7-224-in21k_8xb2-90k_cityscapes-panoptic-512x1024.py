# OneFormer, DiNAT-L (ImageNet-22k pre-trained, 224, 7x7), Cityscapes panoptic, 90k iterations, crop 512x1024.
# Official recipe: SHI-Labs/OneFormer configs/cityscapes/dinat/oneformer_dinat_large_bs16_90k.yaml.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   90k iters, poly 0.9, no warmup | 250 queries | object_mask_thr 0.8 | AMP off
#   short edge 512..2048 (x0.5-2.0 of 1024), long edge <= 4096, crop 512x1024 (no padding), test short 1024 / long 2048
# Published by the authors (official checkpoint 250_16_dinat_l_oneformer_cityscapes_90k.pth,
#   not reproduced here): PQ 67.6, AP 45.6, mIoU 83.1 (84.0 ms+flip), 223M parameters.
#   This config builds the architecture of that checkpoint; it loads it once converted (README.md).
_base_ = [
    '../_base_/models/oneformer_dinat-l.py', '../_base_/datasets/cityscapes_panoptic.py',
    '../_base_/schedules/schedule_cityscapes_90k.py', '../_base_/default_runtime.py'
]

# MODEL.WEIGHTS dinat_large_in22k_224 (ImageNet-22k only, 224, 7x7; the other DiNAT-L configs start from
# the 384 11x11 ImageNet-1k fine-tuned weights)
pretrained = 'https://shi-labs.com/projects/dinat/checkpoints/imagenet22k/dinat_large_in22k_224.pth'

num_queries = 250  # ONE_FORMER.NUM_OBJECT_QUERIES
object_mask_thr = 0.8  # MODEL.TEST.OBJECT_MASK_THRESHOLD (Cityscapes)

model = dict(
    backbone=dict(
        kernel_size=7,  # DiNAT.KERNEL_SIZE (11 on the other datasets)
        # DiNAT.DILATIONS of the Cityscapes yaml
        dilations=[[1, 18, 1], [1, 5, 1, 9], [1, 2, 1, 3, 1, 4, 1, 2, 1, 3, 1, 4, 1, 2, 1, 3, 1, 4],
                   [1, 2, 1, 2, 1]],
        init_cfg=dict(checkpoint=pretrained)),
    panoptic_head=dict(
        num_things_classes=_base_.num_things_classes,
        num_stuff_classes=_base_.num_stuff_classes,
        num_queries=num_queries),
    panoptic_fusion_head=dict(
        num_things_classes=_base_.num_things_classes, num_stuff_classes=_base_.num_stuff_classes),
    test_cfg=dict(object_mask_thr=object_mask_thr, max_per_image=num_queries))  # TEST.DETECTIONS_PER_IMAGE 250

train_dataloader = dict(batch_size=2)  # 8 GPUs x 2 = SOLVER.IMS_PER_BATCH 16
