from .memory_efficient_attention import MemoryEfficientMultiheadAttention, use_reference_attention
from .query_transformer import TaskGuidedQueryTransformer
from .task_encoder import TaskEncoder
from .text_mapper import TextMapper

__all__ = [
    'MemoryEfficientMultiheadAttention', 'TaskEncoder', 'TaskGuidedQueryTransformer', 'TextMapper',
    'use_reference_attention'
]
