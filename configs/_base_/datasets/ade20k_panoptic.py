# ADE20K-150 panoptic (100 things + 50 stuff, things first) for OneFormer R50 / Swin-T (crop 512).
# Annotations: tools/dataset_converters/ade20k_panoptic.py. Variables: see coco_panoptic.py for how to
# override them in a child config (rebuild train_pipeline).

dataset_type = 'ADE20KPanopticOneFormerDataset'
data_root = 'data/ADEChallengeData2016/'
backend_args = None

num_things_classes = 100
num_stuff_classes = 50
num_classes = num_things_classes + num_stuff_classes
num_queries = 150
num_text_ctx = 16
task_probs = dict(semantic=1 / 3, instance=1 / 3, panoptic=1 / 3)
crop_size = (512, 512)  # (w, h)
# short edge 0.5-2.0 x 512 (256 ... 1024), long edge <= 2048
train_scales = [(2048, int(512 * x * 0.1)) for x in range(5, 21)]
test_scale = (2048, 512)
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction', 'task',
             'task_tokens', 'text_tokens')
test_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'task', 'task_tokens')

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadPanopticSegments', backend_args=backend_args),
    dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='OneFormerTaskTargets', num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes,
         num_queries=num_queries, num_text_ctx=num_text_ctx, task_probs=task_probs),
    dict(type='PackDetInputs', meta_keys=meta_keys)
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='LoadPanopticAnnotations', backend_args=backend_args),
    dict(type='PackDetInputs', meta_keys=test_meta_keys)
]

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ade20k_panoptic_train.json',
        data_prefix=dict(img='images/training/', seg='ade20k_panoptic_train/'),
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='ade20k_panoptic_val.json',
        data_prefix=dict(img='images/validation/', seg='ade20k_panoptic_val/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='OneFormerPanopticMetric', ann_file=data_root + 'ade20k_panoptic_val.json',
         seg_prefix=data_root + 'ade20k_panoptic_val/', backend_args=backend_args),
    dict(type='CocoMetric', ann_file=data_root + 'ade20k_instance_val.json', metric='segm',
         backend_args=backend_args),
    dict(type='SemSegMetric', iou_metrics=['mIoU'])
]
test_evaluator = val_evaluator
