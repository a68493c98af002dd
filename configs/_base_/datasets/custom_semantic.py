# Semantic-only data (image + label-map pairs, mmseg layout) trained with the semantic task.
# Label maps hold one class index per pixel (palette PNGs as in mmseg / VOC, grayscale or 16-bit PNGs); training
# (LoadSemSegAsSegments: each class present becomes one segment) and validation (LoadSemSegMap) decode them the same
# way. Pixels = 255 are void.
# Override: data_root, img/seg folders and suffixes, split files (mmseg-style: one image stem per line; '' = every
# image of the folder), classes (label k = classes[k]), reduce_zero_label (True for ADE-style maps where
# 0 = unlabeled), crop_size, test_scale; then rebuild the pipelines / dataloaders (see coco_panoptic.py).

dataset_type = 'OneFormerSemSegDataset'
data_root = 'data/my_semseg/'
train_img_dir, train_seg_dir = 'images/train/', 'annotations/train/'
val_img_dir, val_seg_dir = 'images/val/', 'annotations/val/'
train_split, val_split = '', ''  # e.g. 'ImageSets/Segmentation/train.txt' (relative to data_root)
img_suffix, seg_map_suffix = '.jpg', '.png'
reduce_zero_label = False
backend_args = None

classes = ('class_a', 'class_b', 'class_c')
# no thing/stuff split is needed for the semantic task: all classes count as stuff here
num_things_classes = 0
num_stuff_classes = len(classes)
num_classes = num_things_classes + num_stuff_classes
task_probs = dict(semantic=1.0)
crop_size = (512, 512)  # (w, h)
train_scales = [(2048, int(512 * x * 0.1)) for x in range(5, 21)]
test_scale = (2048, 512)
meta_keys = ('img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction', 'task',
             'text_tokens')
test_meta_keys = ('img_path', 'ori_shape', 'img_shape', 'scale_factor')

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadSemSegAsSegments', num_classes=num_classes, reduce_zero_label=reduce_zero_label,
         backend_args=backend_args),
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
    dict(type='LoadSemSegMap', num_classes=num_classes, reduce_zero_label=reduce_zero_label,
         backend_args=backend_args),
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
        ann_file=train_split,
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
        ann_file=val_split,
        data_prefix=dict(img_path=val_img_dir, seg_map_path=val_seg_dir),
        img_suffix=img_suffix,
        seg_map_suffix=seg_map_suffix,
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(type='OneFormerSemSegMetric', iou_metrics=['mIoU'])  # mmdet's SemSegMetric with a true aAcc
test_evaluator = val_evaluator
