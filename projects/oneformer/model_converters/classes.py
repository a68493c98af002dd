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


# ------------------------------------------------------------------------------------ official class orders
def official_classes(dataset: str) -> Tuple[List[str], List[int]]:
    """Class names in the order of the official checkpoints' class head, and the indices of the thing classes.

    The official code numbers classes by their position in its dataset registration (SHI-Labs/OneFormer
    ``oneformer/data/datasets/register_*.py``); the HF hub checkpoints (``shi-labs/oneformer_*``) keep that
    numbering. Our datasets list the same classes under the same names, thing classes first.

    Args:
        dataset (str): 'coco', 'ade20k', 'cityscapes' or 'mapillary'.

    Returns:
        tuple: (names, thing indices).
    """
    if dataset == 'coco':
        # COCO panoptic categories sorted by id: the 80 things (ids 1..90) come before the 53 stuff (92..200),
        # which is also the order of mmdet's CocoPanopticDataset
        from mmdet.datasets import CocoPanopticDataset
        meta = CocoPanopticDataset.METAINFO
        names = list(meta['classes'])
        return names, [i for i, n in enumerate(names) if n in set(meta['thing_classes'])]
    if dataset == 'ade20k':
        # ADE20K-150 in objectInfo150 order (the scene-parsing label order), things interleaved with stuff
        from ..datasets import ADE20K_PANOPTIC_METAINFO, ADE20K_SEMANTIC_CLASSES
        things = set(ADE20K_PANOPTIC_METAINFO['thing_classes'])
        return list(ADE20K_SEMANTIC_CLASSES), [i for i, n in enumerate(ADE20K_SEMANTIC_CLASSES) if n in things]
    if dataset == 'cityscapes':
        # the 19 evaluated classes in train-id order: 11 stuff (road=0 ... sky=10), then 8 things
        from ..datasets import CITYSCAPES_PANOPTIC_METAINFO, TRAIN_ID_TO_LABEL
        ours = CITYSCAPES_PANOPTIC_METAINFO['classes']
        names = [ours[TRAIN_ID_TO_LABEL[t]] for t in range(len(ours))]
        things = set(CITYSCAPES_PANOPTIC_METAINFO['thing_classes'])
        return names, [i for i, n in enumerate(names) if n in things]
    if dataset == 'mapillary':
        # Mapillary Vistas v1.2 by category id (panoptic_2018.json order), things interleaved with stuff
        from ..datasets.mapillary_panoptic import MAPILLARY_VISTAS_OFFICIAL_CLASSES, MAPILLARY_VISTAS_OFFICIAL_THING_IDS
        return list(MAPILLARY_VISTAS_OFFICIAL_CLASSES), list(MAPILLARY_VISTAS_OFFICIAL_THING_IDS)
    raise ValueError(f'unknown dataset {dataset!r} (coco, ade20k, cityscapes, mapillary)')


def _normalise(name: str) -> str:
    return ' '.join(str(name).lower().split())


def target_order(source_names: Sequence[str], target_classes: Sequence[str], what: str) -> List[int]:
    """Source index of each target class, matching names exactly, else case- and whitespace-insensitively.

    Args:
        source_names (Sequence[str]): Class names in the checkpoint's order.
        target_classes (Sequence[str]): Class names in the dataset's order.
        what (str): Names the two sides in errors.

    Raises:
        ValueError: A target class is not among the source names, or a name is ambiguous.
    """
    if len(source_names) != len(target_classes):
        raise ValueError(f'{what}: the checkpoint has {len(source_names)} classes, the dataset '
                         f'{len(target_classes)}')
    exact = {n: i for i, n in enumerate(source_names)}
    loose: Dict[str, List[int]] = {}
    for i, n in enumerate(source_names):
        loose.setdefault(_normalise(n), []).append(i)
    order, missing = [], []
    for name in target_classes:
        if name in exact:
            order.append(exact[name])
        elif len(loose.get(_normalise(name), [])) == 1:
            order.append(loose[_normalise(name)][0])
        else:
            missing.append(name)
    if missing:
        raise ValueError(f'{what}: dataset classes {missing[:10]} are not (unambiguously) among the checkpoint '
                         f'classes {list(source_names)[:10]}...; give a class-info JSON whose names match the '
                         f'dataset')
    if len(set(order)) != len(order):
        raise ValueError(f'{what}: several dataset classes match the same checkpoint class')
    return order


def plan_classes(num_classes: int, names: Optional[Sequence[str]], thing_ids: Optional[Sequence[int]],
                 target: Optional[Dict] = None, what: str = 'classes') -> Tuple[List[int], Dict]:
    """The class order of the converted model and its ``dataset_meta``.

    Without ``target`` the thing classes are moved first (each group in source order). With ``target`` (the
    metainfo of the dataset the config evaluates on) our class i is the source class of the same name as
    ``target['classes'][i]``, and the thing classes must agree.

    Args:
        num_classes (int): Classes of the checkpoint's class head (no "no object").
        names (Sequence[str], optional): Source class names; required with ``target``.
        thing_ids (Sequence[int], optional): Source indices of the thing classes; None: unknown (every class is a
            thing without ``target``, the target's split with it).
        target (dict, optional): ``classes`` and ``thing_classes`` of the dataset, things first.
        what (str): Names the inputs in errors.

    Returns:
        tuple: ``order`` (source index of our class i) and ``dataset_meta``.
    """
    if target is None:
        order = things_first_order(num_classes, thing_ids if thing_ids is not None else range(num_classes))
        return order, dataset_meta(names, num_classes, thing_ids, order)
    classes, target_things = list(target['classes']), list(target['thing_classes'])
    if classes[:len(target_things)] != target_things:
        raise ValueError(f'{what}: the dataset does not list its thing classes first')
    if names is None:
        raise ValueError(f'{what}: the checkpoint has no class names to match with the dataset classes; give a '
                         f'class-info JSON')
    order = target_order(names, classes, what)
    if thing_ids is not None:
        source_things = {order.index(i) for i in thing_ids}
        if source_things != set(range(len(target_things))):
            differ = sorted(classes[i] for i in source_things ^ set(range(len(target_things))))
            raise ValueError(f'{what}: checkpoint and dataset disagree on which classes are things: {differ[:10]}')
    meta = dict(classes=tuple(classes), thing_classes=tuple(target_things),
                stuff_classes=tuple(classes[len(target_things):]), source_class_ids=list(order))
    return order, meta
