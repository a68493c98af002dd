# Mask2Former R-50 (mmdet), ADE20K instance (the 100 thing classes), 160k iterations at batch 16: the instance peer of
# configs/oneformer/oneformer_r50_8xb2-160k_ade20k-panoptic-512x512.py for the paper-scale comparison (docs/compare.md).
# Reads the instance JSONs tools/dataset_converters/ade20k_panoptic.py writes next to the panoptic ones
# (ade20k_instance_{train,val}.json; category names = the panoptic thing classes, listed below, which differ from the
# spelling of mmdet's ADE20KInstanceDataset). Pipeline and schedule as in the panoptic peer (_base_/ade20k_r50.py);
# Mask2Former's own ADE20K instance recipe crops 640 (see there).
_base_ = ['mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco.py', './_base_/ade20k_r50.py']

num_things_classes = 100
num_stuff_classes = 0
num_classes = num_things_classes + num_stuff_classes
data_root, max_iters = _base_.ade20k_data_root, _base_.ade20k_max_iters
ade20k_thing_classes = ('bed', 'window', 'cabinet', 'person', 'door', 'table', 'curtain', 'chair', 'car',
    'painting, picture', 'sofa', 'shelf', 'mirror', 'armchair', 'seat', 'fence', 'desk', 'wardrobe, closet, press',
    'lamp', 'tub', 'rail', 'cushion', 'box', 'column, pillar', 'signboard, sign',
    'chest of drawers, chest, bureau, dresser', 'counter', 'sink', 'fireplace', 'refrigerator, icebox', 'stairs',
    'case, display case, showcase, vitrine', 'pool table, billiard table, snooker table', 'pillow',
    'screen door, screen', 'bookcase', 'coffee table', 'toilet, can, commode, crapper, pot, potty, stool, throne',
    'flower', 'book', 'bench', 'countertop', 'stove', 'palm, palm tree', 'kitchen island', 'computer',
    'swivel chair', 'boat', 'arcade machine', 'bus', 'towel', 'light', 'truck', 'chandelier',
    'awning, sunshade, sunblind', 'street lamp', 'booth', 'tv', 'airplane', 'clothes', 'pole',
    'bannister, banister, balustrade, balusters, handrail', 'ottoman, pouf, pouffe, puff, hassock', 'bottle', 'van',
    'ship', 'fountain', 'washer, automatic washer, washing machine', 'plaything, toy', 'stool', 'barrel, cask',
    'basket, handbasket', 'bag', 'minibike, motorbike', 'oven', 'ball', 'food, solid food', 'step, stair',
    'trade name', 'microwave', 'pot', 'animal', 'bicycle', 'dishwasher', 'screen', 'sculpture', 'hood, exhaust hood',
    'sconce', 'vase', 'traffic light', 'tray', 'trash can', 'fan', 'plate', 'monitor', 'bulletin board', 'radiator',
    'glass, drinking glass', 'clock', 'flag')

batch_augments = [
    dict(type='BatchFixedSizePad', size=_base_.crop_size[::-1], img_pad_value=0, pad_mask=True, mask_pad_value=0,
         pad_seg=False)
]
model = dict(
    data_preprocessor=dict(batch_augments=batch_augments),
    panoptic_head=dict(
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes,
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])),
    panoptic_fusion_head=dict(num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True, backend_args=None),
    *_base_.ade20k_augmentation,
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-5, 1e-5), by_mask=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=_base_.test_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True, backend_args=None),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    _base_.ade20k_train_loader,
    dataset=dict(data_root=data_root, metainfo=dict(classes=ade20k_thing_classes),
                 ann_file='ade20k_instance_train.json',
                 data_prefix=dict(_delete_=True, img='images/training/'),  # no panoptic PNG folder
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=dict(classes=ade20k_thing_classes), ann_file='ade20k_instance_val.json',
                 data_prefix=dict(_delete_=True, img='images/validation/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'ade20k_instance_val.json', metric='segm')
test_evaluator = val_evaluator

train_cfg = _base_.ade20k_schedule.train_cfg
param_scheduler = _base_.ade20k_schedule.param_scheduler
