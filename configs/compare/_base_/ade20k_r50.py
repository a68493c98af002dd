# What the ADE20K peers of the R50 OneFormer (configs/oneformer/oneformer_r50_8xb2-160k_ade20k-panoptic-512x512.py)
# take from its recipe for the paper-scale comparison (docs/compare.md): the data folder
# (tools/dataset_converters/ade20k_panoptic.py writes the annotation files), its augmentation (short edge 256-1024,
# 512 crop, photometric distortion, flip; test short edge 512), batch 16 and schedule length (poly 0.9, 160k
# iterations, validation every 5000). mmdet's Mask2Former recipe keeps the rest (AdamW 1e-4, backbone lr x0.1, 100
# queries, losses, fusion thresholds). Mask2Former's own ADE20K recipes crop 640 (short edge 320-1280, test 640):
# set crop_size, train_scales and test_scale here to train that instead.
#
# A peer lists this file after mmdet's recipe and places the pieces named ade20k_* (mmengine refuses a key that two
# bases of one config define, and the recipe defines data_root, max_iters, the loaders and the schedule).
crop_size = (512, 512)  # (w, h)
train_scales = [(2048, int(512 * x * 0.1)) for x in range(5, 21)]
test_scale = (2048, 512)
ade20k_data_root = 'data/ADEChallengeData2016/'
ade20k_max_iters = 160000

ade20k_augmentation = [
    dict(type='RandomChoiceResize', scales=train_scales, keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, crop_type='absolute', recompute_bbox=True, allow_negative_crop=True),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomFlip', prob=0.5),
]
ade20k_train_loader = dict(
    batch_size=2,  # 8 GPUs x 2
    sampler=dict(type='InfiniteSampler', shuffle=True))  # iteration based, as OneFormer's recipe
ade20k_schedule = dict(
    train_cfg=dict(_delete_=True, type='IterBasedTrainLoop', max_iters=ade20k_max_iters, val_interval=5000),
    param_scheduler=[dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=ade20k_max_iters, by_epoch=False)])
