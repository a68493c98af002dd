# OneFormer, Swin-L (ImageNet-22k pre-trained, 1k fine-tuned, 384), COCO panoptic (133 classes), 100 epochs, LSJ 1024.
# Official recipe: SHI-Labs/OneFormer configs/coco/swin/oneformer_swin_large_bs16_100ep.yaml.
#   batch 16 = 16 GPUs x 1 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   737,500 iters (100 ep), steps 655,556 / 735,184 | 150 queries | object_mask_thr 0.8 | AMP off
#   LSJ: flip, resize x0.1-2.0 of 1024, crop / pad 1024 | test short 800 / long 1333
#   (official: 8 A100 GPUs x 2; 16 x 1 as mmdet's Mask2Former Swin-L, same total batch)
# Published by the authors (official checkpoint 150_16_swin_l_oneformer_coco_100ep.pth,
#   not reproduced here): PQ 57.9 (PQth 64.4, PQst 48.0), AP 49.0, mIoU 67.4, 219M parameters.
#   This config builds the architecture of that checkpoint; it loads it once converted (README.md).
_base_ = [
    '../_base_/models/oneformer_swin-l.py', '../_base_/datasets/coco_panoptic.py',
    '../_base_/schedules/schedule_coco_100e.py', '../_base_/default_runtime.py'
]

num_queries = 150  # ONE_FORMER.NUM_OBJECT_QUERIES (150 on COCO for every backbone)
object_mask_thr = 0.8  # MODEL.TEST.OBJECT_MASK_THRESHOLD (COCO)

model = dict(
    data_preprocessor=dict(batch_augments=_base_.batch_augments),  # LSJ: padded to 1024x1024
    panoptic_head=dict(num_things_classes=_base_.num_things_classes, num_stuff_classes=_base_.num_stuff_classes,
                       num_queries=num_queries),
    test_cfg=dict(object_mask_thr=object_mask_thr))  # max_per_image (TEST.DETECTIONS_PER_IMAGE) = num_queries

train_dataloader = dict(batch_size=1)  # 16 GPUs x 1 = SOLVER.IMS_PER_BATCH 16
