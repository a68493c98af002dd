"""Cityscapes panoptic (19 evaluated classes) with the thing classes first.

Cityscapes' train ids put the 11 stuff classes first (road=0 ... sky=10) and the 8 things last (person=11 ...
bicycle=18). OneFormer/mmdet labels must list things first, so our label of a class is::

    label = train_id - 11   if train_id >= 11   (things: person 0, rider 1, car 2, truck 3, bus 4, train 5,
                                                  motorcycle 6, bicycle 7)
    label = train_id + 8    otherwise           (stuff: road 8, sidewalk 9, building 10, wall 11, fence 12,
                                                  pole 13, traffic light 14, traffic sign 15, vegetation 16,
                                                  terrain 17, sky 18)

``LABEL_TO_TRAIN_ID`` / ``LABEL_TO_CITYSCAPES_ID`` convert predictions back (e.g. for the official scripts).
The annotation files come from ``tools/dataset_converters/cityscapes_panoptic.py``.
"""
from cityscapesscripts.helpers.labels import labels as _CS_LABELS
from mmdet.registry import DATASETS

from .oneformer_panoptic import OneFormerPanopticDataset

_EVAL = sorted((lb for lb in _CS_LABELS if not lb.ignoreInEval), key=lambda lb: lb.trainId)
_THINGS = [lb for lb in _EVAL if lb.hasInstances]
_STUFF = [lb for lb in _EVAL if not lb.hasInstances]
_ORDERED = _THINGS + _STUFF

LABEL_TO_TRAIN_ID = tuple(lb.trainId for lb in _ORDERED)
LABEL_TO_CITYSCAPES_ID = tuple(lb.id for lb in _ORDERED)
TRAIN_ID_TO_LABEL = {t: i for i, t in enumerate(LABEL_TO_TRAIN_ID)}

CITYSCAPES_PANOPTIC_METAINFO = dict(
    classes=tuple(lb.name for lb in _ORDERED),
    thing_classes=tuple(lb.name for lb in _THINGS),
    stuff_classes=tuple(lb.name for lb in _STUFF),
    palette=[tuple(lb.color) for lb in _ORDERED])


@DATASETS.register_module()
class CityscapesPanopticDataset(OneFormerPanopticDataset):
    """Cityscapes panoptic: 8 things + 11 stuff, things first (see the module docstring for the label order)."""
    METAINFO = CITYSCAPES_PANOPTIC_METAINFO
