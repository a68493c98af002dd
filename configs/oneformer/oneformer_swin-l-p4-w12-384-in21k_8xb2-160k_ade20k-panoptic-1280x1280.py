# OneFormer, Swin-L (ImageNet-22k pre-trained, 1k fine-tuned, 384), ADE20K-150 panoptic, 160k iterations, crop 1280.
# Official recipe: SHI-Labs/OneFormer configs/ade20k/swin/oneformer_swin_large_bs16_160k_1280x1280.yaml.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   160k iters, poly 0.9, no warmup | 250 queries | object_mask_thr 0.5 | AMP on (`--amp`)
#   short edge 640..2560 (x0.5-2.0 of 1280), long edge <= 5120, crop / pad 1280, test short 1280 / long 5120
# Published by the authors (official checkpoint 1280x1280_250_16_swin_l_oneformer_ade20k_160k.pth,
#   not reproduced here): PQ 51.4, AP 37.8, mIoU 57.0 (57.7 ms+flip), 219M parameters.
#   This config builds the architecture of that checkpoint; it loads it once converted (README.md).
_base_ = [
    '../_base_/models/oneformer_swin-l.py', '../_base_/datasets/ade20k_panoptic_1280.py',
    '../_base_/schedules/schedule_ade20k_160k.py', '../_base_/default_runtime.py'
]

num_queries = 250  # ONE_FORMER.NUM_OBJECT_QUERIES
object_mask_thr = 0.5  # MODEL.TEST.OBJECT_MASK_THRESHOLD (ADE20K)

model = dict(
    data_preprocessor=dict(batch_augments=_base_.batch_augments),  # INPUT.SIZE_DIVISIBILITY
    panoptic_head=dict(num_things_classes=_base_.num_things_classes, num_stuff_classes=_base_.num_stuff_classes,
                       num_queries=num_queries),
    test_cfg=dict(object_mask_thr=object_mask_thr))  # max_per_image (TEST.DETECTIONS_PER_IMAGE) = num_queries

train_dataloader = dict(batch_size=2)  # 8 GPUs x 2 = SOLVER.IMS_PER_BATCH 16
