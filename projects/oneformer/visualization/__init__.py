from .palette import resolve_palette
from .visualizer import DEFAULT_MIN_DRAW_SIZE, OneFormerVisualizer, upscale_sample

__all__ = ['OneFormerVisualizer', 'DEFAULT_MIN_DRAW_SIZE', 'upscale_sample', 'resolve_palette']
