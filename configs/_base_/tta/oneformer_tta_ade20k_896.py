# Multi-scale + flip semantic TTA for ADE20K at 896 (Swin-L, DiNAT-L): the TEST.AUG of
# configs/ade20k/{swin,dinat}/oneformer_*_160k_896x896.yaml, MIN_SIZES [448, 678, 896, 1120, 1344, 1568] (678, not
# 672, as in the official yaml), MAX_SIZE 6272, FLIP True. Everything else as oneformer_tta_ade20k.py (640 crop).
_base_ = './oneformer_tta_ade20k.py'

tta_model = dict(single_scale=(6272, 896))  # MIN_SIZE_TEST 896
tta_max_size, tta_min_sizes = 6272, [448, 678, 896, 1120, 1344, 1568]  # TEST.AUG.MAX_SIZE, MIN_SIZES
tta_pipeline = [
    _base_.tta_pipeline[0],
    dict(_base_.tta_pipeline[1],
         transforms=[[dict(type='Resize', scale=(tta_max_size, s), keep_ratio=True) for s in tta_min_sizes]] +
         _base_.tta_pipeline[1].transforms[1:])
]
