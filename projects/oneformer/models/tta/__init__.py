from .oneformer_seg_tta import OneFormerSegTTAModel
from .oneformer_tta import OneFormerTTAModel

__all__ = ['OneFormerTTAModel', 'OneFormerSegTTAModel']
