# Mask2Former (mmseg: EncoderDecoder + Mask2FormerHead), semantic only, on the synthetic shapes dataset: the semantic
# peer of the demo OneFormer (configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py) in
# tools/analysis_tools/compare_segmentors.py. mmseg, not mmdet: mmdet's MaskFormerFusionHead has no semantic
# inference (semantic_on is refused), mmseg's head is the semantic Mask2Former users train.
#
# Labels: semantic label maps derived from the panoptic PNGs (label = class index, things first, 255 = void, each
# segment's pixels take its class: the semantic ground truth the OneFormer evaluation reads from the same PNGs).
# compare_segmentors.py writes them to data/synthetic/semantic_{train,val}/ on first use; or run
#     python tools/analysis_tools/compare_segmentors.py --make-semantic-labels
# The demo's sizes, data and schedule as in the panoptic peer (_base_/synthetic_demo.py).
_base_ = ['mmseg::mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py', './_base_/synthetic_demo.py']

num_classes = 5
max_iters, image_size, data_root = _base_.demo_max_iters, _base_.demo_image_size, _base_.demo_data_root
metainfo = dict(classes=_base_.demo_metainfo.classes)

data_preprocessor = dict(size=None, size_divisor=32)  # pad batches to a multiple of 32, as the demo does
model = dict(
    data_preprocessor=data_preprocessor,
    # mmseg's ResNet has a stem width of its own: with it, the same network as mmdet's ResNet-18 at base width 32
    backbone=dict(_base_.demo_model.backbone, stem_channels=32),
    decode_head=dict(_base_.demo_model.head, num_classes=num_classes,
                     loss_cls=dict(class_weight=[1.0] * num_classes + [0.1]),
                     train_cfg=dict(num_points=_base_.demo_model.num_points)))

# the demo's augmentation with mmseg's loaders
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=image_size),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='PackSegInputs')
]
semantic_dataset = dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo, reduce_zero_label=False,
                        img_suffix='.jpg', seg_map_suffix='.png')
train_dataloader = dict(
    _base_.demo_train_loader,
    dataset=dict(semantic_dataset, data_prefix=dict(img_path='train/', seg_map_path='semantic_train/'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    _base_.demo_val_loader,
    dataset=dict(semantic_dataset, data_prefix=dict(img_path='val/', seg_map_path='semantic_val/'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = _base_.demo_schedule.optim_wrapper
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)  # mmseg's recipe is iteration based
param_scheduler = _base_.demo_schedule.param_scheduler
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1, save_last=True, save_best=None))
