"""COCO panoptic -> COCO instance JSON (thing segments as RLE masks), for mask AP on any panoptic dataset."""
import json
import os.path as osp
from typing import Optional, Union

import numpy as np
import pycocotools.mask as mask_utils

from ..structures import read_panoptic_png
from .common import dump_json


def mask_to_rle(mask: np.ndarray) -> dict:
    """Compressed RLE of a boolean (H, W) mask with a JSON-serialisable ``counts`` string."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def panoptic_to_instance(panoptic_json: Union[str, dict], panoptic_dir: str,
                         out_file: Optional[str] = None) -> dict:
    """Convert a COCO panoptic annotation to a COCO instance annotation.

    Only thing categories (``isthing=1``) are kept, in the panoptic JSON order; every thing segment becomes an
    annotation with an RLE mask, its area / box from the PNG and its ``iscrowd`` flag (crowd regions are ignored
    by COCO evaluation). Images keep their ids, so predictions of a panoptic dataset evaluate against it.

    Args:
        panoptic_json: Path of the panoptic JSON, or the loaded dict.
        panoptic_dir: Folder of the panoptic PNGs (annotation ``file_name`` is relative to it).
        out_file: Where to write the instance JSON (optional).

    Returns:
        dict: The instance annotation.
    """
    src = panoptic_json if isinstance(panoptic_json, str) else '<panoptic dict>'
    if isinstance(panoptic_json, str):
        with open(panoptic_json) as f:
            panoptic_json = json.load(f)
    things = [c for c in panoptic_json['categories'] if c.get('isthing', 0)]
    thing_ids = {c['id'] for c in things}
    images = {img['id']: img for img in panoptic_json['images']}
    annotations = []
    for ann in panoptic_json.get('annotations', []):
        segs = [s for s in ann['segments_info'] if s['category_id'] in thing_ids]
        if not segs:
            continue
        png = osp.join(panoptic_dir, ann['file_name'])
        ids = read_panoptic_png(png)
        img = images.get(ann['image_id'])
        if img is None:
            raise ValueError(f"{src}: annotation {ann['file_name']} refers to unknown image id {ann['image_id']}")
        if ids.shape != (img['height'], img['width']):
            raise ValueError(f"{png} has shape {ids.shape}, image {ann['image_id']} is "
                             f"{(img['height'], img['width'])}")
        for seg in segs:
            mask = ids == seg['id']
            if not mask.any():
                raise ValueError(f"{src}: segment id {seg['id']} of {png} has no pixels in the PNG")
            rle = mask_to_rle(mask)
            annotations.append(dict(
                id=len(annotations) + 1, image_id=ann['image_id'], category_id=seg['category_id'],
                segmentation=rle, area=int(mask.sum()), bbox=[float(v) for v in mask_utils.toBbox(rle)],
                iscrowd=int(seg.get('iscrowd', 0))))
    categories = [{k: v for k, v in c.items() if k in ('id', 'name', 'supercategory', 'isthing', 'color')}
                  for c in things]
    out = dict(images=panoptic_json['images'], annotations=annotations, categories=categories)
    if out_file is not None:
        dump_json(out, out_file)
    return out
