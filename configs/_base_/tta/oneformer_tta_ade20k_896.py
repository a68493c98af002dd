# Multi-scale + flip semantic TTA for ADE20K at 896 (Swin-L, DiNAT-L): the TEST.AUG of
# configs/ade20k/{swin,dinat}/oneformer_*_160k_896x896.yaml, MIN_SIZES [448, 678, 896, 1120, 1344, 1568] (678, not
# 672, as in the official yaml), MAX_SIZE 6272, FLIP True. Everything else as oneformer_tta_ade20k.py (640 crop).
_base_ = './oneformer_tta_ade20k.py'

tta_model = dict(type='OneFormerTTAModel', single_scale=(6272, 896))  # MIN_SIZE_TEST 896
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(6272, 448), keep_ratio=True),
                dict(type='Resize', scale=(6272, 678), keep_ratio=True),
                dict(type='Resize', scale=(6272, 896), keep_ratio=True),
                dict(type='Resize', scale=(6272, 1120), keep_ratio=True),
                dict(type='Resize', scale=(6272, 1344), keep_ratio=True),
                dict(type='Resize', scale=(6272, 1568), keep_ratio=True),
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
