"""Inference API (:class:`OneFormerInferencer`) and launch helpers."""
from .inferencer import OneFormerInferencer, config_metainfo
from .launch import setup_cpu_distributed
from .predictions import TASK_FIELDS, panoptic_segments, sample_to_dict, save_prediction

__all__ = [
    'OneFormerInferencer', 'config_metainfo', 'setup_cpu_distributed', 'TASK_FIELDS', 'panoptic_segments',
    'sample_to_dict', 'save_prediction'
]
