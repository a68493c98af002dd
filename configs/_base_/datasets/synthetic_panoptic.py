# The synthetic shapes dataset (3 things: circle/square/triangle, 2 stuff: sky/ground), 128x128 images.
# Make it with: python tools/dataset_converters/make_synthetic_panoptic.py data/synthetic
# Small enough to train a tiny OneFormer on CPU.
_base_ = './oneformer_panoptic_base.py'

dataset_type = 'SyntheticPanopticDataset'
data_root = 'data/synthetic/'

num_things_classes = 3
num_stuff_classes = 2
num_classes = num_things_classes + num_stuff_classes
image_size = (128, 128)

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadPanopticSegments', backend_args=_base_.backend_args),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=image_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='OneFormerTaskTargets', task_probs=_base_.task_probs),
    dict(type='PackDetInputs', meta_keys=_base_.meta_keys)
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadPanopticTestAnnotations', backend_args=_base_.backend_args),
    dict(type='PackDetInputs', meta_keys=_base_.test_meta_keys)
]

train_dataloader = dict(
    batch_size=4,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/panoptic_train.json',
        data_prefix=dict(img='train/', seg='panoptic_train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/panoptic_val.json',
        data_prefix=dict(img='val/', seg='panoptic_val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='OneFormerPanopticMetric', ann_file=data_root + 'annotations/panoptic_val.json',
         seg_prefix=data_root + 'panoptic_val/', backend_args=_base_.backend_args),
    dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json', metric='segm',
         backend_args=_base_.backend_args),
    dict(type='OneFormerSemSegMetric', iou_metrics=['mIoU'])
]
test_evaluator = val_evaluator
