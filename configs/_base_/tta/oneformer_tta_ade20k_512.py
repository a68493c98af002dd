# Multi-scale + flip semantic TTA for ADE20K at 512 (R50, Swin-T): MIN_SIZES [256, 384, 512, 640, 768, 896],
# MAX_SIZE 3584, FLIP True -- the TEST.AUG of Mask2Former's configs/ade20k/semantic-segmentation/
# Base-ADE20K-SemanticSegmentation.yaml, which OneFormer's ADE20K R50 recipe builds on (its own base yaml was not
# available to check). Everything else as oneformer_tta_ade20k.py (640 crop).
_base_ = './oneformer_tta_ade20k.py'

tta_model = dict(single_scale=(3584, 512))  # MIN_SIZE_TEST 512
tta_max_size, tta_min_sizes = 3584, [256, 384, 512, 640, 768, 896]  # TEST.AUG.MAX_SIZE, MIN_SIZES
tta_pipeline = [
    _base_.tta_pipeline[0],
    dict(_base_.tta_pipeline[1],
         transforms=[[dict(type='Resize', scale=(tta_max_size, s), keep_ratio=True) for s in tta_min_sizes]] +
         _base_.tta_pipeline[1].transforms[1:])
]
