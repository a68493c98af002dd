"""Data formats shared by every layer (the lowest floor, with ``tasks`` and ``compat``)."""
from .panoptic_png import check_panoptic_ids, id2rgb, read_panoptic_png, rgb2id, write_panoptic_png  # noqa: F401

__all__ = ['check_panoptic_ids', 'id2rgb', 'read_panoptic_png', 'rgb2id', 'write_panoptic_png']
