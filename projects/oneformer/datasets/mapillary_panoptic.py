"""Mapillary Vistas v1.2 panoptic (65 classes: 37 things + 28 stuff) with the thing classes first.

The official OneFormer code (``oneformer/data/datasets/register_mapillary_vistas_panoptic.py``) numbers the classes
by their Mapillary category id (1..65, the order of ``panoptic_2018.json``), things and stuff interleaved: that is
the row order of the class head of the official Mapillary checkpoints. Our models list the things first (mmdet
convention), so our label of a class is its position in ``MAPILLARY_VISTAS_PANOPTIC_METAINFO['classes']``: the 37
thing classes in official order, then the 28 stuff classes in official order.
``LABEL_TO_MAPILLARY_ID`` / ``MAPILLARY_ID_TO_LABEL`` convert between the two numberings.

The annotation files come from ``tools/dataset_converters/mapillary_panoptic.py``: it rewrites the release's
``panoptic_2018.json`` with the categories in this order and integer image ids, so that mmdet's panoptic / COCO
metrics (which map labels in JSON category order) agree with the labels.
"""
from mmdet.registry import DATASETS

from .oneformer_panoptic import OneFormerPanopticDataset

# (Mapillary category id, name, Mapillary label key, isthing, colour) in official order, as in the official
# registration and in the categories of the v1.2 ``panoptic_2018.json``.
MAPILLARY_VISTAS_CATEGORIES = (
    (1, 'Bird', 'animal--bird', 1, (165, 42, 42)),
    (2, 'Ground Animal', 'animal--ground-animal', 1, (0, 192, 0)),
    (3, 'Curb', 'construction--barrier--curb', 0, (196, 196, 196)),
    (4, 'Fence', 'construction--barrier--fence', 0, (190, 153, 153)),
    (5, 'Guard Rail', 'construction--barrier--guard-rail', 0, (180, 165, 180)),
    (6, 'Barrier', 'construction--barrier--other-barrier', 0, (90, 120, 150)),
    (7, 'Wall', 'construction--barrier--wall', 0, (102, 102, 156)),
    (8, 'Bike Lane', 'construction--flat--bike-lane', 0, (128, 64, 255)),
    (9, 'Crosswalk - Plain', 'construction--flat--crosswalk-plain', 1, (140, 140, 200)),
    (10, 'Curb Cut', 'construction--flat--curb-cut', 0, (170, 170, 170)),
    (11, 'Parking', 'construction--flat--parking', 0, (250, 170, 160)),
    (12, 'Pedestrian Area', 'construction--flat--pedestrian-area', 0, (96, 96, 96)),
    (13, 'Rail Track', 'construction--flat--rail-track', 0, (230, 150, 140)),
    (14, 'Road', 'construction--flat--road', 0, (128, 64, 128)),
    (15, 'Service Lane', 'construction--flat--service-lane', 0, (110, 110, 110)),
    (16, 'Sidewalk', 'construction--flat--sidewalk', 0, (244, 35, 232)),
    (17, 'Bridge', 'construction--structure--bridge', 0, (150, 100, 100)),
    (18, 'Building', 'construction--structure--building', 0, (70, 70, 70)),
    (19, 'Tunnel', 'construction--structure--tunnel', 0, (150, 120, 90)),
    (20, 'Person', 'human--person', 1, (220, 20, 60)),
    (21, 'Bicyclist', 'human--rider--bicyclist', 1, (255, 0, 0)),
    (22, 'Motorcyclist', 'human--rider--motorcyclist', 1, (255, 0, 100)),
    (23, 'Other Rider', 'human--rider--other-rider', 1, (255, 0, 200)),
    (24, 'Lane Marking - Crosswalk', 'marking--crosswalk-zebra', 1, (200, 128, 128)),
    (25, 'Lane Marking - General', 'marking--general', 0, (255, 255, 255)),
    (26, 'Mountain', 'nature--mountain', 0, (64, 170, 64)),
    (27, 'Sand', 'nature--sand', 0, (230, 160, 50)),
    (28, 'Sky', 'nature--sky', 0, (70, 130, 180)),
    (29, 'Snow', 'nature--snow', 0, (190, 255, 255)),
    (30, 'Terrain', 'nature--terrain', 0, (152, 251, 152)),
    (31, 'Vegetation', 'nature--vegetation', 0, (107, 142, 35)),
    (32, 'Water', 'nature--water', 0, (0, 170, 30)),
    (33, 'Banner', 'object--banner', 1, (255, 255, 128)),
    (34, 'Bench', 'object--bench', 1, (250, 0, 30)),
    (35, 'Bike Rack', 'object--bike-rack', 1, (100, 140, 180)),
    (36, 'Billboard', 'object--billboard', 1, (220, 220, 220)),
    (37, 'Catch Basin', 'object--catch-basin', 1, (220, 128, 128)),
    (38, 'CCTV Camera', 'object--cctv-camera', 1, (222, 40, 40)),
    (39, 'Fire Hydrant', 'object--fire-hydrant', 1, (100, 170, 30)),
    (40, 'Junction Box', 'object--junction-box', 1, (40, 40, 40)),
    (41, 'Mailbox', 'object--mailbox', 1, (33, 33, 33)),
    (42, 'Manhole', 'object--manhole', 1, (100, 128, 160)),
    (43, 'Phone Booth', 'object--phone-booth', 1, (142, 0, 0)),
    (44, 'Pothole', 'object--pothole', 0, (70, 100, 150)),
    (45, 'Street Light', 'object--street-light', 1, (210, 170, 100)),
    (46, 'Pole', 'object--support--pole', 1, (153, 153, 153)),
    (47, 'Traffic Sign Frame', 'object--support--traffic-sign-frame', 1, (128, 128, 128)),
    (48, 'Utility Pole', 'object--support--utility-pole', 1, (0, 0, 80)),
    (49, 'Traffic Light', 'object--traffic-light', 1, (250, 170, 30)),
    (50, 'Traffic Sign (Back)', 'object--traffic-sign--back', 1, (192, 192, 192)),
    (51, 'Traffic Sign (Front)', 'object--traffic-sign--front', 1, (220, 220, 0)),
    (52, 'Trash Can', 'object--trash-can', 1, (140, 140, 20)),
    (53, 'Bicycle', 'object--vehicle--bicycle', 1, (119, 11, 32)),
    (54, 'Boat', 'object--vehicle--boat', 1, (150, 0, 255)),
    (55, 'Bus', 'object--vehicle--bus', 1, (0, 60, 100)),
    (56, 'Car', 'object--vehicle--car', 1, (0, 0, 142)),
    (57, 'Caravan', 'object--vehicle--caravan', 1, (0, 0, 90)),
    (58, 'Motorcycle', 'object--vehicle--motorcycle', 1, (0, 0, 230)),
    (59, 'On Rails', 'object--vehicle--on-rails', 0, (0, 80, 100)),
    (60, 'Other Vehicle', 'object--vehicle--other-vehicle', 1, (128, 64, 64)),
    (61, 'Trailer', 'object--vehicle--trailer', 1, (0, 0, 110)),
    (62, 'Truck', 'object--vehicle--truck', 1, (0, 0, 70)),
    (63, 'Wheeled Slow', 'object--vehicle--wheeled-slow', 1, (0, 0, 192)),
    (64, 'Car Mount', 'void--car-mount', 0, (32, 32, 32)),
    (65, 'Ego Vehicle', 'void--ego-vehicle', 0, (120, 10, 10)),
)

_THINGS = [c for c in MAPILLARY_VISTAS_CATEGORIES if c[3]]
_STUFF = [c for c in MAPILLARY_VISTAS_CATEGORIES if not c[3]]
_ORDERED = _THINGS + _STUFF

#: class names in the official (checkpoint) order, and the official indices of the thing classes
MAPILLARY_VISTAS_OFFICIAL_CLASSES = tuple(c[1] for c in MAPILLARY_VISTAS_CATEGORIES)
MAPILLARY_VISTAS_OFFICIAL_THING_IDS = tuple(i for i, c in enumerate(MAPILLARY_VISTAS_CATEGORIES) if c[3])
LABEL_TO_MAPILLARY_ID = tuple(c[0] for c in _ORDERED)
MAPILLARY_ID_TO_LABEL = {cat_id: label for label, cat_id in enumerate(LABEL_TO_MAPILLARY_ID)}

MAPILLARY_VISTAS_PANOPTIC_METAINFO = dict(
    classes=tuple(c[1] for c in _ORDERED),
    thing_classes=tuple(c[1] for c in _THINGS),
    stuff_classes=tuple(c[1] for c in _STUFF),
    palette=[c[4] for c in _ORDERED])


@DATASETS.register_module()
class MapillaryVistasPanopticDataset(OneFormerPanopticDataset):
    """Mapillary Vistas v1.2 panoptic: 37 things + 28 stuff, things first (see the module docstring)."""
    METAINFO = MAPILLARY_VISTAS_PANOPTIC_METAINFO
