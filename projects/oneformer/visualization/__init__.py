from .visualizer import OneFormerVisualizer

__all__ = ['OneFormerVisualizer']
