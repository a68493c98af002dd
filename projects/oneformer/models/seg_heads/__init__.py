from .oneformer_fusion_head import OneFormerFusionHead

__all__ = ['OneFormerFusionHead']
