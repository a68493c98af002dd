# OneFormer, ResNet-50, Mapillary Vistas v1.2 panoptic, 300k iterations, crop 1024.
# Official recipe: SHI-Labs/OneFormer configs/mapillary_vistas/oneformer_R50_bs16_300k.yaml.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   300k iters, poly 0.9, no warmup | 150 queries | object_mask_thr 0.8 | AMP on (`--amp`)
#   short edge 1024..4096 (x0.5-2.0 of 2048), long edge <= 8192, crop / pad 1024, test long edge 2048
#   task sampling: half semantic, half panoptic (TASK_PROB 0.5 / 0.5), never instance
# No published R50 Mapillary Vistas number in the official README.
_base_ = [
    '../_base_/models/oneformer_r50.py', '../_base_/datasets/mapillary_panoptic.py',
    '../_base_/schedules/schedule_mapillary_300k.py', '../_base_/default_runtime.py'
]

num_queries = 150  # ONE_FORMER.NUM_OBJECT_QUERIES (150 for R50 on every dataset)
object_mask_thr = 0.8  # MODEL.TEST.OBJECT_MASK_THRESHOLD (Mapillary Vistas)

model = dict(
    # RESNETS.NORM SyncBN, FREEZE_AT 0: trainable synchronised BN (the runner turns it into BN without DDP)
    backbone=dict(norm_cfg=dict(type='SyncBN', requires_grad=True), norm_eval=False),
    data_preprocessor=dict(batch_augments=_base_.batch_augments),  # INPUT.SIZE_DIVISIBILITY
    panoptic_head=dict(num_things_classes=_base_.num_things_classes, num_stuff_classes=_base_.num_stuff_classes,
                       num_queries=num_queries),
    test_cfg=dict(object_mask_thr=object_mask_thr))  # max_per_image (TEST.DETECTIONS_PER_IMAGE) = num_queries

train_dataloader = dict(batch_size=2)  # 8 GPUs x 2 = SOLVER.IMS_PER_BATCH 16
