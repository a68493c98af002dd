# Instance-only data (COCO instance JSON, things only) trained with the instance task.
# mmdet's LoadAnnotations(with_mask=True, poly2mask=True) already gives one bitmap mask per object (crowd
# objects flagged in gt_ignore_flags), which is the per-segment input OneFormerTaskTargets expects.
# Override: data_root, ann files, image folders, classes, crop_size, test_scale; then rebuild the
# pipelines / dataloaders (see coco_panoptic.py).

dataset_type = 'CocoDataset'  # mmdet's
data_root = 'data/my_instances/'
train_ann_file, val_ann_file = 'annotations/instances_train.json', 'annotations/instances_val.json'
train_img_prefix, val_img_prefix = 'train/', 'val/'
backend_args = None

classes = ('object_a', 'object_b')
num_things_classes = len(classes)
num_stuff_classes = 0
num_classes = num_things_classes + num_stuff_classes
task_probs = dict(instance=1.0)
crop_size = (512, 512)  # (w, h)
train_scales = [(2048, int(512 * x * 0.1)) for x in range(5, 21)]
test_scale = (2048, 512)
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction', 'task',
             'text_tokens')
test_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True, poly2mask=True, backend_args=backend_args),
    dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='OneFormerTaskTargets', task_probs=task_probs, num_things_classes=num_things_classes,
         class_names=classes),
    dict(type='PackDetInputs', meta_keys=meta_keys)
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True, backend_args=backend_args),
    dict(type='PackDetInputs', meta_keys=test_meta_keys)
]

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),  # iteration-based recipes: no restart at epoch ends
    dataset=dict(
        type=dataset_type,
        metainfo=dict(classes=classes),
        data_root=data_root,
        ann_file=train_ann_file,
        data_prefix=dict(img=train_img_prefix),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
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
        metainfo=dict(classes=classes),
        data_root=data_root,
        ann_file=val_ann_file,
        data_prefix=dict(img=val_img_prefix),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(type='CocoMetric', ann_file=data_root + val_ann_file, metric='segm',
                     backend_args=backend_args)
test_evaluator = val_evaluator
