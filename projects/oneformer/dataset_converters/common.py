"""Small helpers shared by the annotation converters and the synthetic generator."""
import json
import os
import os.path as osp
from typing import List

import numpy as np


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
