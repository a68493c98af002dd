# Multi-scale + flip test-time augmentation for semantic-only data (configs/_base_/datasets/custom_semantic.py:
# image + label-map pairs, evaluated by mIoU). Add this file to the _base_ of a config built on custom_semantic.py
# and run `tools/test.py CONFIG CKPT --tta --task semantic`.
#
# oneformer_tta_ade20k_512.py (custom_semantic.py tests at short edge 512: short edges [256, 384, 512, 640, 768,
# 896], long edge <= 3584, each un-flipped and flipped) with the label map as the ground truth, read by
# LoadSemSegMap; its arguments are left out here on purpose: `tools/test.py --tta` takes num_classes,
# reduce_zero_label (and the rest) from the LoadSemSegMap of the config's test pipeline, so the TTA pass reads the
# labels exactly as the plain test does (a value given here that differs from the test pipeline's is refused).
# For panoptic data use oneformer_tta_ade20k*.py / oneformer_tta_cityscapes.py instead.
_base_ = './oneformer_tta_ade20k_512.py'

tta_pipeline = [
    _base_.tta_pipeline[0],
    dict(_base_.tta_pipeline[1],
         transforms=_base_.tta_pipeline[1].transforms[:2] + [
             [dict(type='LoadSemSegMap')],
             [dict(_base_.tta_pipeline[1].transforms[3][0],  # no img_id: label-map data have none
                   meta_keys=('img_path', 'ori_shape', 'img_shape', 'scale_factor', 'scale', 'flip',
                              'flip_direction'))]
         ])
]
