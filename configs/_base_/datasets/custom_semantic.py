# Semantic-only data (image + label-map pairs, mmdet BaseSegDataset layout) trained with the semantic task.
# Each class present in a label map becomes one segment (LoadSemSegAsSegments); pixels = ignore_index are void.
# Override: data_root, img/seg folders and suffixes, classes (label k = classes[k]), reduce_zero_label
# (True for ADE-style maps where 0 = unlabeled), num_queries, crop_size, test_scale; then rebuild the
# pipelines / dataloaders (see coco_panoptic.py).

dataset_type = 'BaseSegDataset'  # mmdet's
data_root = 'data/my_semseg/'
train_img_dir, train_seg_dir = 'images/train/', 'annotations/train/'
val_img_dir, val_seg_dir = 'images/val/', 'annotations/val/'
img_suffix, seg_map_suffix = '.jpg', '.png'
reduce_zero_label = False
backend_args = None

classes = ('class_a', 'class_b', 'class_c')
# no thing/stuff split is needed for the semantic task: all classes count as stuff here
num_things_classes = 0
num_stuff_classes = len(classes)
num_classes = num_things_classes + num_stuff_classes
num_queries = 150
num_text_ctx = 16
task_probs = dict(semantic=1.0)
crop_size = (512, 512)  # (w, h)
train_scales = [(2048, int(512 * x * 0.1)) for x in range(5, 21)]
test_scale = (2048, 512)
meta_keys = ('img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction', 'task',
             'task_tokens', 'text_tokens')
test_meta_keys = ('img_path', 'ori_shape', 'img_shape', 'scale_factor', 'task', 'task_tokens')

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadSemSegAsSegments', num_classes=num_classes, reduce_zero_label=reduce_zero_label,
         backend_args=backend_args),
    dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='OneFormerTaskTargets', num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes,
         num_queries=num_queries, num_text_ctx=num_text_ctx, task_probs=task_probs, class_names=classes),
    dict(type='PackDetInputs', meta_keys=meta_keys)
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=False, with_label=False, with_seg=True,
         reduce_zero_label=reduce_zero_label, backend_args=backend_args),
    dict(type='PackDetInputs', meta_keys=test_meta_keys)
]

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        metainfo=dict(classes=classes),
        data_root=data_root,
        data_prefix=dict(img_path=train_img_dir, seg_map_path=train_seg_dir),
        img_suffix=img_suffix,
        seg_map_suffix=seg_map_suffix,
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
        data_prefix=dict(img_path=val_img_dir, seg_map_path=val_seg_dir),
        img_suffix=img_suffix,
        seg_map_suffix=seg_map_suffix,
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(type='SemSegMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
