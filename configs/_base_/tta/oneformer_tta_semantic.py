# Multi-scale + flip test-time augmentation for semantic-only data (configs/_base_/datasets/custom_semantic.py:
# image + label-map pairs, evaluated by mIoU). Add this file to the _base_ of a config built on custom_semantic.py
# and run `tools/test.py CONFIG CKPT --tta --task semantic`.
#
# Scales as oneformer_tta_ade20k_512.py (custom_semantic.py tests at short edge 512): short edges
# [256, 384, 512, 640, 768, 896], long edge <= 3584, each un-flipped and flipped. The ground truth is the label map,
# read by LoadSemSegMap; its arguments are left out here on purpose: `tools/test.py --tta` takes num_classes,
# reduce_zero_label (and the rest) from the LoadSemSegMap of the config's test pipeline, so the TTA pass reads the
# labels exactly as the plain test does (a value given here that differs from the test pipeline's is refused).
# For panoptic data use oneformer_tta_ade20k*.py / oneformer_tta_cityscapes.py instead.
tta_model = dict(type='OneFormerTTAModel', single_scale=(3584, 512))
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(3584, 256), keep_ratio=True),
                dict(type='Resize', scale=(3584, 384), keep_ratio=True),
                dict(type='Resize', scale=(3584, 512), keep_ratio=True),
                dict(type='Resize', scale=(3584, 640), keep_ratio=True),
                dict(type='Resize', scale=(3584, 768), keep_ratio=True),
                dict(type='Resize', scale=(3584, 896), keep_ratio=True),
            ],
            [dict(type='RandomFlip', prob=0.), dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='LoadSemSegMap')],
            [
                dict(
                    type='PackDetInputs',
                    meta_keys=('img_path', 'ori_shape', 'img_shape', 'scale_factor', 'scale', 'flip',
                               'flip_direction'))
            ],
        ])
]
