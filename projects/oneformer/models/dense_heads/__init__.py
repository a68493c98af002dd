from .oneformer_head import OneFormerHead

__all__ = ['OneFormerHead']
