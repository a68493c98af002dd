# OneFormer, ResNet-50, ADE20K-150 panoptic (100 things + 50 stuff), 160k iterations, crop 512.
# Official recipe: SHI-Labs/OneFormer configs/ade20k/oneformer_R50_bs16_160k.yaml. No published
# R50 ADE20K number in the official README.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   160k iters, poly 0.9, no warmup | 150 queries | object_mask_thr 0.5 | AMP on (`--amp`)
_base_ = [
    '../_base_/models/oneformer_r50.py', '../_base_/datasets/ade20k_panoptic.py',
    '../_base_/schedules/schedule_ade20k_160k.py', '../_base_/default_runtime.py'
]

num_queries = 150  # ONE_FORMER.NUM_OBJECT_QUERIES (R50 and Swin-T use 150 on every dataset)
object_mask_thr = 0.5  # MODEL.TEST.OBJECT_MASK_THRESHOLD (ADE20K)

model = dict(
    data_preprocessor=dict(batch_augments=_base_.batch_augments),  # INPUT.SIZE_DIVISIBILITY
    panoptic_head=dict(num_things_classes=_base_.num_things_classes, num_stuff_classes=_base_.num_stuff_classes,
                       num_queries=num_queries),
    test_cfg=dict(object_mask_thr=object_mask_thr))  # max_per_image (TEST.DETECTIONS_PER_IMAGE) = num_queries

train_dataloader = dict(batch_size=2)  # 8 GPUs x 2 = IMS_PER_BATCH 16
