from .losses import QueryTextContrastiveLoss
from .oneformer import OneFormer
from .oneformer_fusion_head import OneFormerFusionHead
from .oneformer_head import OneFormerHead
from .query_transformer import TaskGuidedQueryTransformer
from .seg_head import OneFormerSegHead  # noqa: F401  (registers in mmseg's MODELS)
from .task_encoder import TaskEncoder
from .text_mapper import TextMapper

__all__ = [
    'OneFormer', 'OneFormerHead', 'OneFormerFusionHead', 'TaskEncoder', 'TaskGuidedQueryTransformer',
    'TextMapper', 'QueryTextContrastiveLoss'
]
