# The data of the mmdet panoptic peers of the demo OneFormer (Mask2Former, MaskFormer): the demo's pipelines and
# loaders (synthetic_demo.py) with mmdet's panoptic annotation loader and dataset.
_base_ = './synthetic_demo.py'

demo_panoptic_train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadPanopticAnnotations', with_bbox=True, with_mask=True, with_seg=True, backend_args=None),
    *_base_.demo_augmentation,
    dict(type='PackDetInputs')
]
demo_panoptic_test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=_base_.demo_image_size, keep_ratio=True),
    dict(type='LoadPanopticAnnotations', backend_args=None),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
demo_panoptic_dataset = dict(type='CocoPanopticDataset', data_root=_base_.demo_data_root, metainfo=_base_.demo_metainfo)
demo_panoptic_train_loader = dict(
    _base_.demo_train_loader,
    batch_sampler=None,  # plain batches of the shuffled sampler, as for the demo (all images are 128x128)
    dataset=dict(demo_panoptic_dataset, ann_file='annotations/panoptic_train.json',
                 data_prefix=dict(img='train/', seg='panoptic_train/'), pipeline=demo_panoptic_train_pipeline))
demo_panoptic_val_loader = dict(
    _base_.demo_val_loader,
    dataset=dict(demo_panoptic_dataset, ann_file='annotations/panoptic_val.json',
                 data_prefix=dict(img='val/', seg='panoptic_val/'), pipeline=demo_panoptic_test_pipeline))
