"""A deterministic, easy synthetic COCO-panoptic dataset (coloured shapes on two textured backgrounds).

Things are filled shapes (circle, square, triangle) in saturated per-class colours with a little per-instance
jitter and a dark 1-px outline, several per image, drawn in order so later shapes may overlap / touch earlier
ones (every instance keeps at least half of its area visible). Stuff is a noisy "sky" top band and a "ground" bottom
region split by a random
wavy boundary. Layout written under ``root``::

    annotations/panoptic_{split}.json    COCO panoptic
    annotations/instances_{split}.json   COCO instance (things, RLE) for mask AP
    panoptic_{split}/{id:06d}.png         panoptic PNGs (id = R + 256 G + 256^2 B)
    {split}/{id:06d}.jpg                  images
    meta.json                             classes / thing_classes / stuff_classes / palette
"""
import colorsys
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ..datasets.synthetic import (
    _DEFAULT_COLORS,
    SHAPES,
    SYNTHETIC_STUFF_CLASSES,
    SYNTHETIC_THING_CLASSES,
)
from ..structures import write_panoptic_png
from .common import dump_json, segment_entry
from .panoptic2instance import panoptic_to_instance


def _palette(things: Sequence[str], stuff: Sequence[str]) -> Dict[str, Tuple[int, int, int]]:
    """Known colours for the default classes, evenly spaced hues otherwise (things saturated, stuff pale)."""
    colors = {}
    for group, sat, val in ((things, 0.85, 0.9), (stuff, 0.35, 0.8)):
        for i, name in enumerate(group):
            hsv = ((i + 0.5) / max(len(group), 1), sat, val)
            colors[name] = _DEFAULT_COLORS.get(name) or tuple(int(255 * v) for v in colorsys.hsv_to_rgb(*hsv))
    return colors


def _shape_mask(kind: str, xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, r: float,
                angle: float) -> np.ndarray:
    dx, dy = xx - cx, yy - cy
    if kind == 'circle':
        return dx * dx + dy * dy <= r * r
    cos, sin = np.cos(angle), np.sin(angle)
    u, v = cos * dx + sin * dy, -sin * dx + cos * dy
    if kind == 'square':
        half = r * 0.85
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    # equilateral triangle of circumradius r: inside the three half-planes
    inside = np.ones_like(u, dtype=bool)
    for k in range(3):
        a = angle + 2 * np.pi * k / 3
        inside &= np.cos(a) * dx + np.sin(a) * dy <= r / 2
    return inside


def _edge(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a 4-neighbour outside it (the shape's 1-px outline)."""
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def _render(rng: np.random.Generator, shape: Tuple[int, int], things: Sequence[str], stuff: Sequence[str],
            colors: dict, max_objects: int):
    """One image: returns (uint8 RGB image, segment ids (H, W), [(seg_id, category_index, mask)])."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    ids = np.zeros((h, w), np.int64)
    cat_of_id = {}
    num_things = len(things)

    # stuff: top / bottom split by a wavy boundary
    if stuff:
        top, bottom = (0, 1) if len(stuff) == 2 else tuple(rng.choice(len(stuff), 2, replace=len(stuff) < 2))
        base, amp = rng.uniform(0.35, 0.65) * h, rng.uniform(0.03, 0.08) * h
        freq, phase = rng.uniform(0.5, 2.0), rng.uniform(0, 2 * np.pi)
        upper = yy < base + amp * np.sin(2 * np.pi * freq * xx / w + phase)
        for region, s in ((upper, top), (~upper, bottom)):
            label = num_things + int(s)
            seg_id = (label + 1) * 1000
            ids[region] = seg_id
            cat_of_id[seg_id] = label
            noise = rng.normal(0, 12, (h, w, 1)) + rng.normal(0, 5, (h, w, 3))
            img[region] = (np.array(colors[stuff[s]], np.float32) + noise)[region]

    # things, drawn in order: later ones occlude earlier ones
    shapes = [n if n in SHAPES else SHAPES[i % len(SHAPES)] for i, n in enumerate(things)]
    placed = []  # (seg_id, full area)
    min_area = max(16, h * w // 400)
    for k in range(int(rng.integers(2, max_objects + 1)) if num_things else 0):
        for _ in range(20):
            c = int(rng.integers(num_things))
            r = rng.uniform(0.10, 0.22) * min(h, w)
            cx, cy = rng.uniform(0.5 * r, w - 0.5 * r), rng.uniform(0.5 * r, h - 0.5 * r)
            mask = _shape_mask(shapes[c], xx, yy, cx, cy, r, rng.uniform(0, 2 * np.pi))
            ok = mask.sum() >= min_area and all(
                ((ids == sid) & ~mask).sum() >= max(min_area, area // 2) for sid, area in placed)
            if ok:
                break
        else:
            continue
        seg_id = (c + 1) * 1000 + k + 1
        ids[mask] = seg_id
        cat_of_id[seg_id] = c
        placed.append((seg_id, int(mask.sum())))
        color = np.array(colors[things[c]], np.float32) + rng.uniform(-20, 20, 3)
        img[mask] = color + rng.normal(0, 6, (int(mask.sum()), 3))
        img[_edge(mask)] *= 0.55  # dark outline: touching instances of one class stay separable

    segments = [(sid, cat_of_id[sid], ids == sid) for sid in np.unique(ids).tolist() if sid != 0]
    return np.clip(img, 0, 255).round().astype(np.uint8), ids, segments


def generate_synthetic_panoptic(root: str,
                                num_train: int = 200,
                                num_val: int = 50,
                                img_size: Union[int, Tuple[int, int]] = 128,
                                seed: int = 0,
                                max_objects: int = 5,
                                thing_classes: Optional[Sequence[str]] = None,
                                stuff_classes: Optional[Sequence[str]] = None,
                                image_ext: str = '.jpg') -> dict:
    """Write the synthetic dataset under ``root`` (see the module docstring); same seed -> identical files.

    Args:
        root: Output folder.
        num_train / num_val: Number of images per split (a split with 0 images is skipped).
        img_size: Image size, ``S`` or ``(H, W)``.
        seed: Random seed (each split uses its own stream).
        max_objects: Maximum number of thing instances per image (at least 2 are attempted).
        thing_classes / stuff_classes: Class names (default: circle/square/triangle + sky/ground); thing class
            ``i`` is drawn as ``SHAPES[i % 3]`` unless its name is a shape. Useful to fake another dataset's
            classes in tests.
        image_ext: '.jpg' (default) or '.png'.

    Returns:
        dict: The metainfo (classes, thing_classes, stuff_classes, palette).
    """
    things = tuple(thing_classes if thing_classes is not None else SYNTHETIC_THING_CLASSES)
    stuff = tuple(stuff_classes if stuff_classes is not None else SYNTHETIC_STUFF_CLASSES)
    if not things and not stuff:
        raise ValueError('need at least one thing or stuff class')
    if image_ext not in ('.jpg', '.png'):
        raise ValueError(f"image_ext must be '.jpg' or '.png', got {image_ext!r}")
    shape = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
    colors = _palette(things, stuff)
    classes = things + stuff
    categories = [dict(id=i + 1, name=n, isthing=int(i < len(things)), color=list(colors[n]))
                  for i, n in enumerate(classes)]
    for split_idx, (split, num) in enumerate((('train', num_train), ('val', num_val))):
        if num <= 0:
            continue
        rng = np.random.default_rng([seed, split_idx])
        images, annotations = [], []
        for i in range(num):
            img, ids, segments = _render(rng, shape, things, stuff, colors, max_objects)
            name = f'{i + 1:06d}'
            path = osp.join(root, split, name + image_ext)
            os.makedirs(osp.dirname(path), exist_ok=True)
            params = [cv2.IMWRITE_JPEG_QUALITY, 95] if image_ext == '.jpg' else []
            if not cv2.imwrite(path, img[..., ::-1], params):
                raise OSError(f'cannot write {path}')
            write_panoptic_png(ids, osp.join(root, f'panoptic_{split}', name + '.png'))
            images.append(dict(id=i + 1, file_name=name + image_ext, height=shape[0], width=shape[1]))
            annotations.append(dict(image_id=i + 1, file_name=name + '.png', segments_info=[
                segment_entry(sid, label + 1, mask) for sid, label, mask in segments]))
        panoptic = dict(images=images, annotations=annotations, categories=categories)
        dump_json(panoptic, osp.join(root, 'annotations', f'panoptic_{split}.json'))
        panoptic_to_instance(panoptic, osp.join(root, f'panoptic_{split}'),
                             osp.join(root, 'annotations', f'instances_{split}.json'))
    meta = dict(classes=classes, thing_classes=things, stuff_classes=stuff, palette=[colors[n] for n in classes])
    dump_json({k: list(v) for k, v in meta.items()}, osp.join(root, 'meta.json'))
    return meta
