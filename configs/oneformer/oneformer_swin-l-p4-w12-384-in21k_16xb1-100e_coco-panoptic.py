# OneFormer, Swin-L (ImageNet-22k pre-trained, 1k fine-tuned, 384), COCO panoptic (133 classes), 100 epochs, LSJ 1024.
# Official recipe: SHI-Labs/OneFormer configs/coco/swin/oneformer_swin_large_bs16_100ep.yaml (spec sec. 5).
#   batch 16 (official: 8 x A100 x 2; here 16 GPUs x 1 as mmdet's Mask2Former Swin-L, same total batch)
#   AdamW lr 1e-4, wd 0.05, backbone lr x0.1 | clip 0.01 (L2, full model)
#   737,500 iters (100 ep), steps 655,556 / 735,184 | 150 queries | object_mask_thr 0.8 | AMP off
# Published (official checkpoint 150_16_swin_l_oneformer_coco_100ep.pth, not reproduced here):
#   PQ 57.9 (PQth 64.4, PQst 48.0), AP 49.0, mIoU 67.4. This config also loads that checkpoint once converted
#   (see README.md).
_base_ = [
    '../_base_/models/oneformer_r50.py', '../_base_/datasets/coco_panoptic.py',
    '../_base_/schedules/schedule_coco_100e.py', '../_base_/default_runtime.py'
]
# MODEL.WEIGHTS swin_large_patch4_window12_384_22kto1k
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window12_384_22kto1k.pth'  # noqa

num_queries = 150  # ONE_FORMER.NUM_OBJECT_QUERIES (COCO keeps 150 for Swin-L)
object_mask_thr = 0.8  # MODEL.TEST.OBJECT_MASK_THRESHOLD (COCO)

model = dict(
    data_preprocessor=dict(batch_augments=[
        # LSJ: every image of the batch is padded to 1024x1024 (d2 FixedSizeCrop pads the crop)
        dict(type='BatchFixedSizePad', size=_base_.image_size, img_pad_value=0, pad_mask=True, mask_pad_value=0,
             pad_seg=True, seg_pad_value=255)
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
    test_cfg=dict(object_mask_thr=object_mask_thr, max_per_image=num_queries))  # TEST.DETECTIONS_PER_IMAGE

# the task-target step builds the text list (num_queries - 16 entries): keep it in sync with the model
train_pipeline = [
    *_base_.train_pipeline[:-2],
    dict(_base_.train_pipeline[-2], num_queries=num_queries), _base_.train_pipeline[-1]
]
train_dataloader = dict(batch_size=1, dataset=dict(pipeline=train_pipeline))  # 16 GPUs x 1 = IMS_PER_BATCH 16
