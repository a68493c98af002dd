"""Segmentors (mmseg MODELS)."""
from .oneformer_encoder_decoder import OneFormerEncoderDecoder

__all__ = ['OneFormerEncoderDecoder']
