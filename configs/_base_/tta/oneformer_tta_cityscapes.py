# Multi-scale + flip semantic test-time augmentation for Cityscapes (the "mIoU ms+flip" column; PQ / AP stay
# single-scale), as the official TEST.AUG of configs/cityscapes/Base-Cityscapes-UnifiedSegmentation.yaml (all
# backbones): MIN_SIZES [512, 768, 1024, 1280, 1536, 1792], MAX_SIZE 4096, FLIP True, evaluated by
# SemanticSegmentorWithTTA (OneFormer oneformer/test_time_augmentation.py). Add this file to a recipe's _base_ and
# run `tools/test.py CONFIG CKPT --tta`.
#
# mmcv's TestTimeAug takes the product of the lists: per scale, the un-flipped then the flipped view (the official
# DatasetMapperTTA order). Ground truth is loaded after the resize and flip, at the original size, as in the test
# pipeline. OneFormerTTAModel reads `scale`, `flip` and `flip_direction` from the metainfo: the un-flipped view at
# `single_scale` (the test size, MIN_SIZE_TEST 1024; 2048x1024 as with MAX_SIZE_TEST 2048) gives the single-scale
# panoptic and instance outputs.
tta_model = dict(type='OneFormerTTAModel', single_scale=(4096, 1024))
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(4096, 512), keep_ratio=True),
                dict(type='Resize', scale=(4096, 768), keep_ratio=True),
                dict(type='Resize', scale=(4096, 1024), keep_ratio=True),
                dict(type='Resize', scale=(4096, 1280), keep_ratio=True),
                dict(type='Resize', scale=(4096, 1536), keep_ratio=True),
                dict(type='Resize', scale=(4096, 1792), keep_ratio=True),
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
