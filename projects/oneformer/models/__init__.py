from .backbones import DiNAT
from .decode_heads import OneFormerSegHead  # noqa: F401  (registers in mmseg's MODELS)
from .dense_heads import OneFormerHead
from .detectors import OneFormer
from .layers import TaskEncoder, TaskGuidedQueryTransformer, TextMapper
from .losses import QueryTextContrastiveLoss
from .necks import SimpleFeaturePyramid
from .reference import reference_formulation
from .seg_heads import OneFormerFusionHead
from .segmentors import OneFormerEncoderDecoder  # noqa: F401  (mmseg MODELS)
from .tta import OneFormerSegTTAModel, OneFormerTTAModel  # noqa: F401  (mmdet / mmseg MODELS)

__all__ = [
    'DiNAT', 'OneFormer', 'OneFormerHead', 'OneFormerFusionHead', 'OneFormerSegHead', 'TaskEncoder',
    'TaskGuidedQueryTransformer', 'TextMapper', 'QueryTextContrastiveLoss', 'SimpleFeaturePyramid',
    'reference_formulation'
]
