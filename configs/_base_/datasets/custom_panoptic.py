# Your own COCO-panoptic-format dataset. Override in your config (then rebuild the pipelines, see below):
#   data_root           folder holding everything below
#   train_ann_file / val_ann_file     COCO panoptic JSONs (relative to data_root)
#   train_img_prefix / val_img_prefix folders of the images
#   train_seg_prefix / val_seg_prefix folders of the panoptic PNGs (annotation file_name is relative to them;
#                                     name each PNG like its image with .png for CocoPanopticMetric)
#   val_instance_ann_file             COCO instance JSON of the val split for mask AP
#                                     (tools/dataset_converters/panoptic2instance.py makes it)
#   thing_classes / stuff_classes     class names, matched by name against the JSON categories; labels are
#                                     thing_classes then stuff_classes, in this order. A subset of the JSON
#                                     categories is fine: the others become void (ignored). Or read the names
#                                     from the JSON: see `metainfo` below.
#   task_probs, crop_size, test_scale (num_queries belongs to the model config)
# Because mmengine evaluates a base config before the child, a child that changes these must rebuild
# `metainfo`, the pipelines, dataloaders and evaluators (a new top-level `metainfo` alone does not reach the
# dataloaders below; tools/train.py refuses such a config) - copy this file and edit the top block instead
# when in doubt.

# Keep this line first: with a `_base_`, mmengine reads the file as a classic config, where the Python call of the
# `metainfo` alternative below works (with an import and no `_base_` it would take the file for a lazy-import config
# and refuse it as a base: "The configuration file type in the inheritance chain must match ...").
_base_ = []

dataset_type = 'OneFormerPanopticDataset'
data_root = 'data/my_dataset/'
train_ann_file = 'annotations/panoptic_train.json'
val_ann_file = 'annotations/panoptic_val.json'
val_instance_ann_file = 'annotations/instances_val.json'
train_img_prefix = 'train/'
val_img_prefix = 'val/'
train_seg_prefix = 'panoptic_train/'
val_seg_prefix = 'panoptic_val/'
backend_args = None

thing_classes = ('thing_a', 'thing_b')
stuff_classes = ('stuff_a', )
metainfo = dict(classes=thing_classes + stuff_classes, thing_classes=thing_classes, stuff_classes=stuff_classes)
# To read the names from the JSON instead (all categories, or a subset: the others become void), replace the three
# lines above by these two (the JSON is read when the config is loaded):
#   from oneformer.datasets import coco_panoptic_classes
#   metainfo = coco_panoptic_classes(data_root + train_ann_file, ['person', 'grass', 'sky'])  # no list: all
classes = metainfo['classes']
num_things_classes = len(metainfo['thing_classes'])
num_stuff_classes = len(metainfo['stuff_classes'])
num_classes = num_things_classes + num_stuff_classes
task_probs = dict(semantic=1 / 3, instance=1 / 3, panoptic=1 / 3)
crop_size = (512, 512)  # (w, h)
train_scales = [(2048, int(512 * x * 0.1)) for x in range(5, 21)]
test_scale = (2048, 512)
meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction', 'task',
             'text_tokens')
test_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadPanopticSegments', backend_args=backend_args),
    dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='OneFormerTaskTargets', task_probs=task_probs),
    dict(type='PackDetInputs', meta_keys=meta_keys)
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='LoadPanopticTestAnnotations', backend_args=backend_args),  # mmdet's + the PNG/JSON check
    dict(type='PackDetInputs', meta_keys=test_meta_keys)
]

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),  # iteration-based recipes: no restart at epoch ends
    dataset=dict(
        type=dataset_type,
        metainfo=metainfo,
        data_root=data_root,
        ann_file=train_ann_file,
        data_prefix=dict(img=train_img_prefix, seg=train_seg_prefix),
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
        metainfo=metainfo,
        data_root=data_root,
        ann_file=val_ann_file,
        data_prefix=dict(img=val_img_prefix, seg=val_seg_prefix),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='OneFormerPanopticMetric', ann_file=data_root + val_ann_file, seg_prefix=data_root + val_seg_prefix,
         backend_args=backend_args),
    dict(type='CocoMetric', ann_file=data_root + val_instance_ann_file, metric='segm', backend_args=backend_args),
    dict(type='OneFormerSemSegMetric', iou_metrics=['mIoU'])
]
test_evaluator = val_evaluator
