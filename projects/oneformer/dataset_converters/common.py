"""Small helpers shared by the annotation converters and the synthetic generator."""
import json
import os
import os.path as osp
from typing import List

import numpy as np
from PIL import Image


def rgb2id(rgb: np.ndarray) -> np.ndarray:
    """COCO panoptic id of an (H, W, 3) uint8 RGB array: R + 256 G + 256^2 B."""
    from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import rgb2id as _rgb2id
    return _rgb2id(rgb)


def id2rgb(ids: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb2id` for an (H, W) integer array."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.min(initial=0) < 0 or ids.max(initial=0) >= 256**3:
        raise ValueError('panoptic segment ids must be in [0, 256^3)')
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)


def read_panoptic_png(path: str) -> np.ndarray:
    """Segment ids (H, W) of a COCO panoptic PNG."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'Panoptic PNG not found: {path}')
    return rgb2id(np.asarray(Image.open(path).convert('RGB')))


def write_panoptic_png(ids: np.ndarray, path: str) -> None:
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    Image.fromarray(id2rgb(ids)).save(path)


def mask_bbox(mask: np.ndarray) -> List[int]:
    """COCO ``[x, y, w, h]`` of a non-empty boolean mask (integer pixels, inclusive extent)."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return [0, 0, 0, 0]
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


def segment_entry(seg_id: int, category_id: int, mask: np.ndarray, iscrowd: int = 0) -> dict:
    return dict(id=int(seg_id), category_id=int(category_id), area=int(mask.sum()), bbox=mask_bbox(mask),
                iscrowd=int(iscrowd))


def dump_json(obj: dict, path: str) -> None:
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f)
