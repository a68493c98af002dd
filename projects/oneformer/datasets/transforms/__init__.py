from .loading import (
    LoadPanopticSegments,
    LoadPanopticTestAnnotations,
    LoadSemSegAsSegments,
    LoadSemSegMap,
    check_panoptic_ids,
    read_label_map,
    read_panoptic_ids,
)
from .task_targets import OneFormerTaskTargets, check_task_probs

__all__ = [
    'LoadPanopticSegments', 'LoadPanopticTestAnnotations', 'LoadSemSegAsSegments', 'LoadSemSegMap',
    'OneFormerTaskTargets', 'check_task_probs', 'check_panoptic_ids', 'read_label_map', 'read_panoptic_ids'
]
