"""Dataset annotation converters (the CLIs in ``tools/dataset_converters/`` call these)."""
from ..structures import id2rgb, read_panoptic_png, rgb2id, write_panoptic_png  # re-exported from the codec
from .ade20k import convert_ade20k_panoptic, read_category_mapping
from .cityscapes import convert_cityscapes_panoptic
from .common import mask_bbox
from .mapillary import convert_mapillary_panoptic  # noqa: F401
from .panoptic2instance import mask_to_rle, panoptic_to_instance
from .synthetic import generate_synthetic_panoptic

__all__ = [
    'convert_ade20k_panoptic', 'read_category_mapping', 'convert_cityscapes_panoptic', 'panoptic_to_instance',
    'mask_to_rle', 'id2rgb', 'rgb2id', 'mask_bbox', 'read_panoptic_png', 'write_panoptic_png',
    'generate_synthetic_panoptic'
]
