# OneFormer, ResNet-50, COCO panoptic (133 classes), 50 epochs, LSJ 1024.
# Official recipe: SHI-Labs/OneFormer configs/coco/oneformer_R50_bs16_50ep.yaml. No published R50
# COCO number in the official README.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   368,750 iters (50 ep), steps 327,778 / 355,092 | 150 queries | object_mask_thr 0.8 | AMP on (`--amp`)
_base_ = [
    '../_base_/models/oneformer_r50.py', '../_base_/datasets/coco_panoptic.py',
    '../_base_/schedules/schedule_coco_50e.py', '../_base_/default_runtime.py'
]

num_queries = 150  # ONE_FORMER.NUM_OBJECT_QUERIES
object_mask_thr = 0.8  # MODEL.TEST.OBJECT_MASK_THRESHOLD (COCO)

model = dict(
    data_preprocessor=dict(batch_augments=_base_.batch_augments),  # LSJ: padded to 1024x1024
    panoptic_head=dict(num_things_classes=_base_.num_things_classes, num_stuff_classes=_base_.num_stuff_classes,
                       num_queries=num_queries),
    test_cfg=dict(object_mask_thr=object_mask_thr))  # max_per_image (TEST.DETECTIONS_PER_IMAGE) = num_queries

train_dataloader = dict(batch_size=2)  # 8 GPUs x 2 = IMS_PER_BATCH 16
