# OneFormer, ConvNeXt-L (ImageNet-22k pre-trained, 1k fine-tuned, 384; mmpretrain), Mapillary Vistas v1.2 panoptic,
# 300k iterations, crop 1024.
# Official recipe: SHI-Labs/OneFormer configs/mapillary_vistas/convnext/oneformer_convnext_large_bs16_300k.yaml.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   300k iters, poly 0.9, no warmup | 250 queries | object_mask_thr 0.8 | AMP on (`--amp`)
#   short edge 1024..4096 (x0.5-2.0 of 2048), long edge <= 8192, crop / pad 1024, test long edge 2048
#   task sampling: half semantic, half panoptic (TASK_PROB 0.5 / 0.5), never instance
# Published by the authors (official checkpoint 250_16_convnext_l_oneformer_mapillary_300k.pth,
#   not reproduced here): PQ 47.9, mIoU 63.2 (63.8 ms+flip), 220M parameters.
#   This config builds the architecture of that checkpoint; it loads it once converted (README.md).
_base_ = [
    '../_base_/models/oneformer_convnext-l.py', '../_base_/datasets/mapillary_panoptic.py',
    '../_base_/schedules/schedule_mapillary_300k.py', '../_base_/default_runtime.py'
]
custom_imports = dict(imports=['oneformer', 'mmpretrain.models'], allow_failed_imports=False)

num_queries = 250  # ONE_FORMER.NUM_OBJECT_QUERIES
object_mask_thr = 0.8  # MODEL.TEST.OBJECT_MASK_THRESHOLD (Mapillary Vistas)

model = dict(
    data_preprocessor=dict(batch_augments=[
        # INPUT.SIZE_DIVISIBILITY 1024: every crop is padded to exactly 1024x1024 (pixels outside are void)
        dict(type='BatchFixedSizePad', size=_base_.crop_size[::-1], img_pad_value=0, pad_mask=True,
             mask_pad_value=0, pad_seg=True, seg_pad_value=255)
    ]),
    panoptic_head=dict(
        num_things_classes=_base_.num_things_classes,
        num_stuff_classes=_base_.num_stuff_classes,
        num_queries=num_queries),
    panoptic_fusion_head=dict(
        num_things_classes=_base_.num_things_classes, num_stuff_classes=_base_.num_stuff_classes),
    test_cfg=dict(object_mask_thr=object_mask_thr, max_per_image=num_queries))  # TEST.DETECTIONS_PER_IMAGE 250

train_dataloader = dict(batch_size=2)  # 8 GPUs x 2 = SOLVER.IMS_PER_BATCH 16
