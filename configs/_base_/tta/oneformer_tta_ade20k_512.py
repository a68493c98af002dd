# Multi-scale + flip semantic TTA for ADE20K at 512 (R50, Swin-T): MIN_SIZES [256, 384, 512, 640, 768, 896],
# MAX_SIZE 3584, FLIP True -- the TEST.AUG of Mask2Former's configs/ade20k/semantic-segmentation/
# Base-ADE20K-SemanticSegmentation.yaml, which OneFormer's ADE20K R50 recipe builds on (its own base yaml was not
# available to check). Everything else as oneformer_tta_ade20k.py (640 crop).
_base_ = './oneformer_tta_ade20k.py'

tta_model = dict(type='OneFormerTTAModel', single_scale=(3584, 512))  # MIN_SIZE_TEST 512
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
            [dict(type='LoadPanopticTestAnnotations', backend_args=None)],
            [
                dict(
                    type='PackDetInputs',
                    meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'scale', 'flip',
                               'flip_direction'))
            ],
        ])
]
