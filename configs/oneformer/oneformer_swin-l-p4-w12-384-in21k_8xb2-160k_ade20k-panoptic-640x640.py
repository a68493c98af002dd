# OneFormer, Swin-L (ImageNet-22k pre-trained, 1k fine-tuned, 384), ADE20K-150 panoptic, 160k iterations, crop 640.
# Official recipe: SHI-Labs/OneFormer configs/ade20k/swin/oneformer_swin_large_bs16_160k.yaml (spec sec. 5).
#   batch 16 = 8 GPUs x 2 | AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   160k iters, poly 0.9, no warmup | 250 queries | object_mask_thr 0.5 | AMP on (`--amp`)
#   short edge 320..1280, crop / pad 640, test short 640 / long 2560
# Published (official checkpoint 250_16_swin_l_oneformer_ade20k_160k.pth, not reproduced here):
#   PQ 49.8, AP 35.9, mIoU 57.0 (57.7 ms+flip). This config also loads that checkpoint once converted
#   (see README.md).
_base_ = [
    '../_base_/models/oneformer_r50.py', '../_base_/datasets/ade20k_panoptic_640.py',
    '../_base_/schedules/schedule_ade20k_160k.py', '../_base_/default_runtime.py'
]
# MODEL.WEIGHTS swin_large_patch4_window12_384_22kto1k
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window12_384_22kto1k.pth'  # noqa

num_queries = 250  # ONE_FORMER.NUM_OBJECT_QUERIES (Swin-L / ConvNeXt on ADE20K)
object_mask_thr = 0.5  # MODEL.TEST.OBJECT_MASK_THRESHOLD (ADE20K)

model = dict(
    data_preprocessor=dict(batch_augments=[
        # INPUT.SIZE_DIVISIBILITY 640: every crop is padded to exactly 640x640 (pixels outside are void)
        dict(type='BatchFixedSizePad', size=_base_.crop_size[::-1], img_pad_value=0, pad_mask=True,
             mask_pad_value=0, pad_seg=True, seg_pad_value=255)
    ]),
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',  # mmdet's; convert_weights maps the official Swin checkpoint names
        pretrain_img_size=384,
        embed_dims=192,
        depths=[2, 2, 18, 2],
        num_heads=[6, 12, 24, 48],
        window_size=12,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.3,  # SWIN.DROP_PATH_RATE
        patch_norm=True,
        use_abs_pos_embed=False,  # SWIN.APE False
        out_indices=(0, 1, 2, 3),
        with_cp=False,
        convert_weights=True,
        frozen_stages=-1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    panoptic_head=dict(
        in_channels=[192, 384, 768, 1536],
        num_things_classes=_base_.num_things_classes,
        num_stuff_classes=_base_.num_stuff_classes,
        num_queries=num_queries),
    panoptic_fusion_head=dict(
        num_things_classes=_base_.num_things_classes, num_stuff_classes=_base_.num_stuff_classes),
    test_cfg=dict(object_mask_thr=object_mask_thr, max_per_image=num_queries))  # TEST.DETECTIONS_PER_IMAGE 250

# the task-target step builds the text list (num_queries - 16 entries): keep it in sync with the model
train_pipeline = [
    *_base_.train_pipeline[:-2],
    dict(_base_.train_pipeline[-2], num_queries=num_queries), _base_.train_pipeline[-1]
]
train_dataloader = dict(batch_size=2, dataset=dict(pipeline=train_pipeline))  # 8 GPUs x 2 = IMS_PER_BATCH 16
