from .visualizer import TASK_FIELDS, OneFormerVisualizer

__all__ = ['OneFormerVisualizer', 'TASK_FIELDS']
