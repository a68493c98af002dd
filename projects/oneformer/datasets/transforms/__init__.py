from ...structures import check_panoptic_ids, read_panoptic_png  # re-exported: the codec's home is structures
from .loading import (
                      LoadPanopticSegments,
                      LoadPanopticTestAnnotations,
                      LoadSemSegAsSegments,
                      LoadSemSegMap,
                      read_label_map,
)
from .task_targets import OneFormerTaskTargets, check_task_probs

__all__ = [
    'LoadPanopticSegments', 'LoadPanopticTestAnnotations', 'LoadSemSegAsSegments', 'LoadSemSegMap',
    'OneFormerTaskTargets', 'check_task_probs', 'check_panoptic_ids', 'read_label_map', 'read_panoptic_png'
]
