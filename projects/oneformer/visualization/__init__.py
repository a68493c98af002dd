from .palette import resolve_palette
from .panels import titled_strip
from .visualizer import DEFAULT_MIN_DRAW_SIZE, OneFormerVisualizer, gt_panoptic_map, upscale_sample

__all__ = ['OneFormerVisualizer', 'DEFAULT_MIN_DRAW_SIZE', 'upscale_sample', 'resolve_palette', 'gt_panoptic_map',
           'titled_strip']
