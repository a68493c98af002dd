"""Class order: our models list thing classes first (mmdet convention); source checkpoints may interleave them
(ADE20K) or put stuff first (Cityscapes). The class head rows are permuted accordingly."""
import json
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from .common import StateDict

CLS_KEYS = ('panoptic_head.cls_embed.weight', 'panoptic_head.cls_embed.bias')


def load_class_info(path: str) -> Tuple[List[str], List[int]]:
    """Read class names and thing ids from a JSON class-info file.

    Accepted formats: HF OneFormer's ``{"0": {"name": "wall", "isthing": 0}, ...}`` (the ``class_info_file`` of
    its image processor), a list ``[{"name": ..., "isthing": ...}, ...]`` in class order (e.g. COCO's
    ``panoptic_coco_categories.json``), or
    ``{"classes": [...], "thing_classes": [...]}``.

    Returns:
        tuple: class names in source order, source indices of the thing classes.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'class-info file {path} does not exist')
    with open(path, encoding='utf-8') as f:
        info = json.load(f)
    if isinstance(info, dict) and 'classes' in info:
        names = list(info['classes'])
        unknown = [c for c in info.get('thing_classes', []) if c not in names]
        if unknown:
            raise ValueError(f'{path}: thing_classes {unknown} are not in classes')
        return names, [names.index(c) for c in info.get('thing_classes', [])]
    if isinstance(info, dict):
        try:
            items = sorted(((int(k), v) for k, v in info.items()), key=lambda kv: kv[0])
        except ValueError as e:
            raise ValueError(f'{path}: keys must be class indices ("0", "1", ...): {e}') from None
        if [k for k, _ in items] != list(range(len(items))):
            raise ValueError(f'{path}: class indices must be 0..{len(items) - 1} without gaps')
        entries = [v for _, v in items]
    elif isinstance(info, list):
        entries = info
    else:
        raise ValueError(f'{path}: expected a JSON object or list, got {type(info).__name__}')
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or 'name' not in e or 'isthing' not in e:
            raise ValueError(f'{path}: entry {i} needs "name" and "isthing", got {e!r}')
    return [e['name'] for e in entries], [i for i, e in enumerate(entries) if e['isthing']]


def things_first_order(num_classes: int, thing_ids: Sequence[int]) -> List[int]:
    """Source class indices in our order: the thing classes, then the stuff classes (each in source order)."""
    bad = [i for i in thing_ids if not 0 <= i < num_classes]
    if bad:
        raise ValueError(f'thing class ids {bad} are outside 0..{num_classes - 1}')
    things = sorted(set(thing_ids))
    return things + [i for i in range(num_classes) if i not in set(things)]


def reorder_class_head(sd: StateDict, order: Sequence[int]) -> StateDict:
    """Permute the K+1 rows of ``cls_embed`` (the last, "no object", stays last)."""
    out = OrderedDict(sd)
    for key in CLS_KEYS:
        rows = out[key].shape[0]
        if rows != len(order) + 1:
            raise ValueError(f'{key} has {rows} rows, expected {len(order)} classes + 1 ("no object")')
        out[key] = out[key][torch.as_tensor(list(order) + [len(order)])].clone()
    return out


def dataset_meta(names: Optional[Sequence[str]], num_classes: int, thing_ids: Optional[Sequence[int]],
                 order: Sequence[int]) -> Dict:
    """``dataset_meta`` for the converted checkpoint, classes in our order.

    ``source_class_ids[i]`` is the source index of our class i (to map labels back to the source numbering).
    """
    if names is None:
        names = [f'class_{i}' for i in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f'{len(names)} class names for a class head with {num_classes} classes')
    num_things = num_classes if thing_ids is None else len(set(thing_ids))
    classes = tuple(names[i] for i in order)
    return dict(classes=classes, thing_classes=classes[:num_things], stuff_classes=classes[num_things:],
                source_class_ids=list(order))
