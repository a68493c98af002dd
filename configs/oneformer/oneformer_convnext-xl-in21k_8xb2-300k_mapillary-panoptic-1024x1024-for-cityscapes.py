# OneFormer, ConvNeXt-XL (ImageNet-22k pre-trained, 1k fine-tuned, 384; mmpretrain), Mapillary Vistas v1.2 panoptic,
# 300k iterations, crop 1024, all three tasks.
# Official recipe: SHI-Labs/OneFormer
#   configs/mapillary_vistas/convnext/cityscapes_pretrain_oneformer_convnext_xlarge_bs16_300k.yaml.
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   300k iters, poly 0.9, no warmup | 250 queries | object_mask_thr 0.8 | AMP on (`--amp`)
#   short edge 1024..4096 (x0.5-2.0 of 2048), long edge <= 8192, crop / pad 1024, test long edge 2048
#   task sampling: semantic / instance / panoptic a third each (TASK_PROB 0.33 / 0.66)
# Mapillary Vistas pre-training of the Mapillary-pretrained Cityscapes model (its load_from).
# The authors publish the result: mapillary_pretrain_250_16_convnext_xl_oneformer_mapillary_300k.pth
# (no Mapillary number published).
_base_ = [
    '../_base_/models/oneformer_convnext-xl.py', '../_base_/datasets/mapillary_panoptic.py',
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

# TASK_PROB.SEMANTIC 0.33 / .INSTANCE 0.66 (these yamls restore the three tasks: Cityscapes is evaluated on all)
task_probs = dict(semantic=1 / 3, instance=1 / 3, panoptic=1 / 3)
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadPanopticSegments', backend_args=_base_.backend_args),
    dict(type='RandomChoiceResize', scales=_base_.train_scales, keep_ratio=True),
    dict(type='RandomCrop', crop_size=_base_.crop_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='OneFormerTaskTargets', task_probs=task_probs),
    dict(type='PackDetInputs', meta_keys=_base_.meta_keys)
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))  # 8 GPUs x 2 = SOLVER.IMS_PER_BATCH 16
