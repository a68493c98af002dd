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
_base_ = './oneformer_tta_ade20k.py'  # the same pipeline with Cityscapes's scales

tta_model = dict(single_scale=(4096, 1024))  # MIN_SIZE_TEST 1024
tta_max_size, tta_min_sizes = 4096, [512, 768, 1024, 1280, 1536, 1792]  # TEST.AUG.MAX_SIZE, MIN_SIZES
tta_pipeline = [
    _base_.tta_pipeline[0],
    dict(_base_.tta_pipeline[1],
         transforms=[[dict(type='Resize', scale=(tta_max_size, s), keep_ratio=True) for s in tta_min_sizes]] +
         _base_.tta_pipeline[1].transforms[1:])
]
