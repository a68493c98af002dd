from .oneformer_seg_head import OneFormerSegHead

__all__ = ['OneFormerSegHead']
