# Multi-scale + flip semantic TTA for ADE20K at 1280 (Swin-L, DiNAT-L): the TEST.AUG of
# configs/ade20k/{swin,dinat}/*oneformer_*_160k_1280x1280.yaml, MIN_SIZES [640, 960, 1280, 1600, 1920, 2240],
# MAX_SIZE 8960, FLIP True. Everything else as oneformer_tta_ade20k.py (640 crop).
_base_ = './oneformer_tta_ade20k.py'

tta_model = dict(single_scale=(8960, 1280))  # MIN_SIZE_TEST 1280
tta_max_size, tta_min_sizes = 8960, [640, 960, 1280, 1600, 1920, 2240]  # TEST.AUG.MAX_SIZE, MIN_SIZES
tta_pipeline = [
    _base_.tta_pipeline[0],
    dict(_base_.tta_pipeline[1],
         transforms=[[dict(type='Resize', scale=(tta_max_size, s), keep_ratio=True) for s in tta_min_sizes]] +
         _base_.tta_pipeline[1].transforms[1:])
]
