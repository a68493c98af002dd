# OneFormer, ResNet-50 (SyncBN), Cityscapes panoptic (8 things + 11 stuff), 90k iterations, crop 512x1024.
# Official recipe: SHI-Labs/OneFormer configs/cityscapes/oneformer_R50_bs16_90k.yaml. No published
# R50 Cityscapes number in the official README.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   90k iters, poly 0.9, no warmup | 150 queries | object_mask_thr 0.8 | AMP on (`--amp`)
#   short edge 512..2048, crop 512x1024 (no padding), test short 1024 / long 2048
_base_ = [
    '../_base_/models/oneformer_r50.py', '../_base_/datasets/cityscapes_panoptic.py',
    '../_base_/schedules/schedule_cityscapes_90k.py', '../_base_/default_runtime.py'
]

num_queries = 150  # ONE_FORMER.NUM_OBJECT_QUERIES (150 for R50 on every dataset; the large models use 250)
object_mask_thr = 0.8  # MODEL.TEST.OBJECT_MASK_THRESHOLD (Cityscapes)

model = dict(
    # RESNETS.NORM SyncBN, FREEZE_AT 0: trainable synchronised BN (the runner turns it into BN without DDP)
    backbone=dict(norm_cfg=dict(type='SyncBN', requires_grad=True), norm_eval=False),
    panoptic_head=dict(num_things_classes=_base_.num_things_classes, num_stuff_classes=_base_.num_stuff_classes,
                       num_queries=num_queries),
    test_cfg=dict(object_mask_thr=object_mask_thr))  # max_per_image (TEST.DETECTIONS_PER_IMAGE) = num_queries

train_dataloader = dict(batch_size=2)  # 8 GPUs x 2 = IMS_PER_BATCH 16
