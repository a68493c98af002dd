from .query_transformer import TaskGuidedQueryTransformer
from .task_encoder import TaskEncoder
from .text_mapper import TextMapper

__all__ = ['TaskEncoder', 'TaskGuidedQueryTransformer', 'TextMapper']
