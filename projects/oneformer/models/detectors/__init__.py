from .oneformer import OneFormer

__all__ = ['OneFormer']
