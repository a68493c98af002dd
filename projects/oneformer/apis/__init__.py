"""Inference API (:class:`OneFormerInferencer`) and launch helpers."""
from .compile import compile_network
from .inferencer import OneFormerInferencer, config_metainfo, load_pytorch_model
from .launch import setup_cpu_distributed
from .predictions import panoptic_segments, sample_to_dict, save_prediction

__all__ = [
    'OneFormerInferencer', 'compile_network', 'config_metainfo', 'load_pytorch_model', 'setup_cpu_distributed',
    'panoptic_segments', 'sample_to_dict', 'save_prediction'
]
