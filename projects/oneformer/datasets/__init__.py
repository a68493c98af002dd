"""OneFormer data: panoptic datasets, per-segment loading, task sampling / targets, synthetic data, converters.

Importing this package registers the datasets in mmdet's ``DATASETS`` and the transforms in ``TRANSFORMS``.
"""
from .ade20k_panoptic import (ADE20K_PANOPTIC_METAINFO, ADE20K_SEMANTIC_CLASSES,
                              ADE20KPanopticOneFormerDataset)
from .cityscapes_panoptic import (CITYSCAPES_PANOPTIC_METAINFO, LABEL_TO_CITYSCAPES_ID, LABEL_TO_TRAIN_ID,
                                  TRAIN_ID_TO_LABEL, CityscapesPanopticDataset)
from .oneformer_panoptic import OneFormerPanopticDataset, check_things_first
from .synthetic import SYNTHETIC_METAINFO, SyntheticPanopticDataset, generate_synthetic_panoptic
from .transforms import LoadPanopticSegments, LoadSemSegAsSegments, OneFormerTaskTargets, check_task_probs

__all__ = [
    'OneFormerPanopticDataset', 'CityscapesPanopticDataset', 'ADE20KPanopticOneFormerDataset',
    'SyntheticPanopticDataset', 'check_things_first', 'generate_synthetic_panoptic', 'SYNTHETIC_METAINFO',
    'CITYSCAPES_PANOPTIC_METAINFO', 'ADE20K_PANOPTIC_METAINFO', 'ADE20K_SEMANTIC_CLASSES', 'LABEL_TO_TRAIN_ID',
    'LABEL_TO_CITYSCAPES_ID', 'TRAIN_ID_TO_LABEL', 'LoadPanopticSegments', 'LoadSemSegAsSegments',
    'OneFormerTaskTargets', 'check_task_probs'
]
