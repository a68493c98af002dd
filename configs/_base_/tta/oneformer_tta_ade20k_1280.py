# Multi-scale + flip semantic TTA for ADE20K at 1280 (Swin-L, DiNAT-L): the TEST.AUG of
# configs/ade20k/{swin,dinat}/*oneformer_*_160k_1280x1280.yaml, MIN_SIZES [640, 960, 1280, 1600, 1920, 2240],
# MAX_SIZE 8960, FLIP True. Everything else as oneformer_tta_ade20k.py (640 crop).
_base_ = './oneformer_tta_ade20k.py'

tta_model = dict(type='OneFormerTTAModel', single_scale=(8960, 1280))  # MIN_SIZE_TEST 1280
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(type='Resize', scale=(8960, 640), keep_ratio=True),
                dict(type='Resize', scale=(8960, 960), keep_ratio=True),
                dict(type='Resize', scale=(8960, 1280), keep_ratio=True),
                dict(type='Resize', scale=(8960, 1600), keep_ratio=True),
                dict(type='Resize', scale=(8960, 1920), keep_ratio=True),
                dict(type='Resize', scale=(8960, 2240), keep_ratio=True),
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
