"""OneFormer data: panoptic and semantic datasets, per-segment loading, task sampling / targets, synthetic data.

Importing this package registers the datasets in mmdet's ``DATASETS`` and the transforms in ``TRANSFORMS``.
"""
from .ade20k_panoptic import ADE20K_PANOPTIC_METAINFO, ADE20K_SEMANTIC_CLASSES, ADE20KPanopticOneFormerDataset
from .cityscapes_panoptic import (
    CITYSCAPES_PANOPTIC_METAINFO,
    LABEL_TO_CITYSCAPES_ID,
    LABEL_TO_TRAIN_ID,
    TRAIN_ID_TO_LABEL,
    CityscapesPanopticDataset,
)
from .mapillary_panoptic import MAPILLARY_VISTAS_PANOPTIC_METAINFO, MapillaryVistasPanopticDataset  # noqa: F401
from .oneformer_panoptic import FROM_JSON, OneFormerPanopticDataset, check_things_first, coco_panoptic_classes
from .semantic import OneFormerSemSegDataset
from .synthetic import SYNTHETIC_METAINFO, SyntheticPanopticDataset
from .transforms import (
    LoadPanopticSegments,
    LoadPanopticTestAnnotations,
    LoadSemSegAsSegments,
    LoadSemSegMap,
    OneFormerTaskTargets,
    check_panoptic_ids,
    check_task_probs,
    read_label_map,
    read_panoptic_png,
)

__all__ = [
    'OneFormerPanopticDataset', 'CityscapesPanopticDataset', 'ADE20KPanopticOneFormerDataset',
    'SyntheticPanopticDataset', 'check_things_first', 'SYNTHETIC_METAINFO',
    'CITYSCAPES_PANOPTIC_METAINFO', 'ADE20K_PANOPTIC_METAINFO', 'ADE20K_SEMANTIC_CLASSES', 'LABEL_TO_TRAIN_ID',
    'LABEL_TO_CITYSCAPES_ID', 'TRAIN_ID_TO_LABEL', 'LoadPanopticSegments', 'LoadSemSegAsSegments',
    'OneFormerTaskTargets', 'check_task_probs', 'OneFormerSemSegDataset', 'coco_panoptic_classes', 'FROM_JSON',
    'LoadPanopticTestAnnotations', 'LoadSemSegMap', 'check_panoptic_ids', 'read_label_map', 'read_panoptic_png'
]
