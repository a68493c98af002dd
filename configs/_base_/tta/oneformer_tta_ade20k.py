# Multi-scale + flip semantic test-time augmentation for ADE20K (the "mIoU ms+flip" column; PQ / AP stay
# single-scale), as the official TEST.AUG of configs/ade20k/{swin,convnext,dinat}/oneformer_*_bs16_160k.yaml
# (640 crop: Swin-L, ConvNeXt-L / XL, DiNAT-L): MIN_SIZES [320, 480, 640, 800, 960, 1120], MAX_SIZE 4480, FLIP True,
# evaluated by SemanticSegmentorWithTTA (OneFormer oneformer/test_time_augmentation.py). Add this file to a recipe's
# _base_ and run `tools/test.py CONFIG CKPT --tta`.
#
# Other official sizes (use instead of this file):
#   512 crop (R50, Swin-T): oneformer_tta_ade20k_512.py, 896 crop: oneformer_tta_ade20k_896.py,
#   1280 crop: oneformer_tta_ade20k_1280.py
#
# mmcv's TestTimeAug takes the product of the lists: per scale, the un-flipped then the flipped view (the official
# DatasetMapperTTA order). Ground truth is loaded after the resize and flip, at the original size, as in the test
# pipeline. OneFormerTTAModel reads `scale`, `flip` and `flip_direction` from the metainfo: the un-flipped view at
# `single_scale` (the test size, MIN_SIZE_TEST 640) gives the single-scale panoptic and instance outputs.
tta_model = dict(type='OneFormerTTAModel', single_scale=(4480, 640))
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(4480, 320), keep_ratio=True),
                dict(type='Resize', scale=(4480, 480), keep_ratio=True),
                dict(type='Resize', scale=(4480, 640), keep_ratio=True),
                dict(type='Resize', scale=(4480, 800), keep_ratio=True),
                dict(type='Resize', scale=(4480, 960), keep_ratio=True),
                dict(type='Resize', scale=(4480, 1120), keep_ratio=True),
            ],
            [dict(type='RandomFlip', prob=0.), dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='LoadPanopticTestAnnotations', backend_args=None)],
            [
                dict(
                    type='PackDetInputs',
                    meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'scale', 'flip',
                               'flip_direction'))
            ],
        ])
]
