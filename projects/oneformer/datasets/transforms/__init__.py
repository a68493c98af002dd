from .loading import LoadPanopticSegments, LoadSemSegAsSegments
from .task_targets import OneFormerTaskTargets, check_task_probs

__all__ = ['LoadPanopticSegments', 'LoadSemSegAsSegments', 'OneFormerTaskTargets', 'check_task_probs']
