"""COCO-panoptic-format dataset with the per-segment annotation OneFormer needs."""
import hashlib
import logging
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence

from mmdet.datasets import CocoPanopticDataset
from mmdet.registry import DATASETS
from mmengine.fileio import load
from mmengine.logging import print_log
from mmengine.utils import is_abs

#: ``metainfo=dict(classes=FROM_JSON)`` takes every category of the annotation file (things first)
FROM_JSON = 'from_json'


def _json_categories(data: dict, ann_file: str) -> List[dict]:
    cats = data.get('categories')
    if not cats:
        raise KeyError(f"{ann_file} has no 'categories': not a COCO panoptic annotation file")
    no_flag = [c.get('name', c.get('id')) for c in cats if 'isthing' not in c]
    if no_flag:
        raise KeyError(f"{ann_file}: categories {no_flag[:5]} have no 'isthing' flag; list thing_classes and "
                       'stuff_classes in metainfo instead')
    return cats


def coco_panoptic_classes(ann_file, classes: Optional[Sequence[str]] = None,
                          backend_args: Optional[dict] = None) -> dict:
    """Class names of a COCO-panoptic JSON as a dataset ``metainfo`` (so nobody types 133 names).

    The thing categories (``isthing=1``) come first, then the stuff ones, each group in JSON order: the label order
    OneFormer needs (labels below the number of thing classes are things) and the order mmdet's panoptic / COCO
    metrics map labels in.

    Example (in a config with ``_base_``, the usual kind - mmengine imports lazily in configs without it, where
    the call fails; the JSON is read when the config is loaded)::

        from oneformer.datasets import coco_panoptic_classes
        metainfo = coco_panoptic_classes('data/my/annotations/panoptic_train.json', ['person', 'grass', 'sky'])
        num_things_classes = len(metainfo['thing_classes'])
        num_stuff_classes = len(metainfo['stuff_classes'])

    Args:
        ann_file (str | dict): Path of the JSON (or its loaded content).
        classes (Sequence[str], optional): Keep only these categories (a subset: the others become void, see
            :class:`OneFormerPanopticDataset`). Defaults to every category.
        backend_args (dict, optional): File backend arguments.

    Returns:
        dict: ``classes`` (things then stuff), ``thing_classes``, ``stuff_classes`` (tuples of names).

    Raises:
        KeyError / ValueError: naming the file and the unknown names.
    """
    data = ann_file if isinstance(ann_file, dict) else load(ann_file, file_format='json', backend_args=backend_args)
    name = '<annotation dict>' if isinstance(ann_file, dict) else ann_file
    cats = _json_categories(data, name)
    if classes is not None:
        if isinstance(classes, str):
            raise TypeError(f'classes must be a sequence of names, got the string {classes!r}')
        known = {c['name'] for c in cats}
        unknown = [c for c in classes if c not in known]
        if unknown:
            raise ValueError(f'{name}: classes {unknown} are not categories of the file (categories: '
                             f'{sorted(known)})')
        wanted = set(classes)
        cats = [c for c in cats if c['name'] in wanted]
    things = tuple(c['name'] for c in cats if c['isthing'])
    stuff = tuple(c['name'] for c in cats if not c['isthing'])
    return dict(classes=things + stuff, thing_classes=things, stuff_classes=stuff)


def _palette_for(classes: Sequence[str], known: dict) -> List[tuple]:
    """A colour per class: the known one of that name, else a fixed colour derived from the name."""
    palette = []
    for name in classes:
        if name in known:
            palette.append(tuple(known[name]))
        else:
            digest = hashlib.md5(name.encode()).digest()
            palette.append((digest[0], digest[1], digest[2]))
    return palette


def check_things_first(metainfo: dict) -> int:
    """Check ``classes`` lists the thing classes first; returns the number of thing classes.

    Raises ``ValueError`` naming the offending class when ``classes`` is not ``thing_classes`` (in any order)
    followed by ``stuff_classes``.
    """
    classes = tuple(metainfo.get('classes') or ())
    if not classes:
        raise ValueError("metainfo['classes'] is empty")
    things = tuple(metainfo.get('thing_classes') or ())
    stuff = tuple(metainfo.get('stuff_classes') or ())
    dup = sorted({c for c in classes if classes.count(c) > 1})
    if dup:
        raise ValueError(f"metainfo['classes'] lists {dup} more than once")
    head, tail = classes[:len(things)], classes[len(things):]
    if set(head) != set(things):
        wrong = next(c for c in head if c not in things) if set(head) - set(things) else next(
            t for t in things if t not in head)
        raise ValueError(
            "metainfo['classes'] must list the thing classes first (labels < num_things are things, mmdet "
            f"convention): {wrong!r} breaks this. Got classes={classes[:len(things) + 1]}..., "
            f'thing_classes={things}. Set classes, thing_classes and stuff_classes together.')
    if set(tail) != set(stuff):
        wrong = sorted(set(tail) ^ set(stuff))
        raise ValueError(f"metainfo['stuff_classes'] must be the classes after the things; mismatch on {wrong}. "
                         'Set classes, thing_classes and stuff_classes together.')
    return len(things)


@DATASETS.register_module()
class OneFormerPanopticDataset(CocoPanopticDataset):
    """A COCO-panoptic folder (JSON + PNGs) with one entry per segment, crowd included.

    Differences from mmdet's :class:`CocoPanopticDataset`:

    - labels follow ``metainfo['classes']`` matched **by name** against the JSON categories (not JSON order);
      ``classes`` must list the thing classes first; the JSON ``isthing`` flags must agree;
    - ``classes`` may be a **subset** of the JSON categories (e.g. ``('person', 'grass', 'sky')`` of COCO): the
      segments of the other categories become **void** - no training target, 255 in the semantic map, ignored by
      the loaders' PNG check (``ignored_segment_ids``) and by :class:`~oneformer.evaluation.OneFormerPanopticMetric`
      (they count like unlabelled pixels in PQ); a warning lists them;
    - ``metainfo=dict(classes='from_json')`` takes every JSON category, things first; ``classes`` given without
      ``thing_classes`` / ``stuff_classes`` get the split from the JSON ``isthing`` flags (the JSON is then read
      once more at construction); :func:`coco_panoptic_classes` does the same in a config, where the counts are
      needed for the model;
    - ``segments_info`` keeps every segment with its true ``is_thing`` and ``iscrowd`` (mmdet marks crowd things as
      stuff); segments with ``area == 0`` (not drawn in the PNG) are dropped;
    - the PNG path is the annotation's ``file_name`` (so e.g. Cityscapes names work);
    - ``get_data_info`` adds ``classes`` and ``num_things_classes`` for the transforms (not stored per image);
    - ``filter_cfg.filter_empty_gt`` (default False) drops images without any non-crowd segment.

    mmdet's ``CocoPanopticMetric`` and ``CocoMetric`` map label ``i`` to the ``i``-th JSON category among
    ``classes`` in *JSON order*; a warning is printed when that order differs from ``classes``.
    ``instances`` (thing boxes, crowd with ``ignore_flag=1``) are also produced, so mmdet's
    ``LoadPanopticAnnotations`` can be used in test pipelines.
    """

    def __init__(self, ann_file: str = '', metainfo: Optional[dict] = None, data_root: Optional[str] = None,
                 **kwargs) -> None:
        self._json_cache = None
        metainfo = self._resolve_metainfo(metainfo, ann_file, data_root, kwargs)
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root, **kwargs)
        self._json_cache = None
        # also checked with lazy_init=True (load_data_list sets it otherwise)
        self.num_things_classes = check_things_first(self.metainfo)

    def _resolve_metainfo(self, metainfo: Optional[dict], ann_file: str, data_root: Optional[str],
                          kwargs: dict) -> Optional[dict]:
        """``classes='from_json'`` -> every JSON category; ``classes`` without ``thing_classes`` /
        ``stuff_classes`` -> the split from the JSON ``isthing`` flags; a palette for classes of other names."""
        if not metainfo or 'classes' not in metainfo:
            return metainfo
        metainfo = dict(metainfo)
        classes = metainfo['classes']
        from_json = isinstance(classes, str)
        if from_json and classes != FROM_JSON:
            raise ValueError(f"metainfo classes={classes!r}: give a list of names or {FROM_JSON!r}")
        if from_json or ('thing_classes' not in metainfo and 'stuff_classes' not in metainfo):
            path = ann_file if (not data_root or not ann_file or is_abs(ann_file)) else osp.join(data_root, ann_file)
            data = load(path, file_format='json', backend_args=kwargs.get('backend_args'))
            if not kwargs.get('lazy_init', False):
                self._json_cache = (path, data)  # load_data_list reuses it
            split = coco_panoptic_classes(data, None if from_json else classes)
            split['classes'] = tuple(split['classes'])
            if not from_json and tuple(classes) != split['classes']:
                raise ValueError(
                    f'{path}: metainfo classes must list the thing classes first (labels below the number of thing '
                    f"classes are things); by the JSON isthing flags use classes={split['classes']} "
                    f"(thing_classes={split['thing_classes']}, stuff_classes={split['stuff_classes']})")
            metainfo.update(split)
        if 'palette' not in metainfo:
            base = self.METAINFO
            known = dict(zip(base.get('classes', ()), base.get('palette', ())))
            if tuple(metainfo['classes']) != tuple(base.get('classes', ())):
                metainfo['palette'] = _palette_for(metainfo['classes'], known)
        return metainfo

    # ------------------------------------------------------------------ categories
    def _category_mapping(self, categories: List[dict]) -> Dict[int, int]:
        classes = tuple(self.metainfo['classes'])
        num_things = self.num_things_classes = check_things_first(self.metainfo)
        by_name = {}
        for cat in categories:
            if cat['name'] in by_name:
                raise ValueError(f"{self.ann_file}: category name {cat['name']!r} appears twice")
            by_name[cat['name']] = cat
        missing = [c for c in classes if c not in by_name]
        if missing:
            raise ValueError(f"{self.ann_file}: metainfo classes {missing} have no JSON category of that name "
                             f'(JSON categories: {sorted(by_name)})')
        unknown = [c['name'] for c in categories if c['name'] not in classes]
        self.ignored_cat_ids = {c['id'] for c in categories if c['name'] not in classes}
        if unknown:
            shown = ', '.join(repr(u) for u in unknown[:10]) + (f' and {len(unknown) - 10} more' if len(unknown) > 10
                                                                 else '')
            print_log(f"{self.ann_file}: {len(unknown)} JSON categories are not in metainfo['classes'] and become "
                      f'void (ignored in training and evaluation): {shown}', logger='current', level=logging.WARNING)
        cat2label = {}
        for label, name in enumerate(classes):
            cat = by_name[name]
            is_thing = label < num_things
            if 'isthing' in cat and bool(cat['isthing']) != is_thing:
                raise ValueError(f"{self.ann_file}: category {name!r} has isthing={cat['isthing']} but metainfo "
                                 f"lists it as a {'thing' if is_thing else 'stuff'} class")
            cat2label[cat['id']] = label
        json_order = [c['name'] for c in categories if c['name'] in classes]
        if json_order != list(classes):
            warnings.warn(f'{self.ann_file}: JSON category order differs from metainfo classes; training labels '
                          'follow metainfo, but mmdet CocoPanopticMetric/CocoMetric map labels in JSON order - '
                          'write the JSON categories in classes order before evaluating.')
        return cat2label

    # ------------------------------------------------------------------ loading
    def load_data_list(self) -> List[dict]:
        cached, self._json_cache = self._json_cache, None
        if cached is not None and cached[0] == self.ann_file:
            data = cached[1]
        else:
            data = load(self.ann_file, file_format='json', backend_args=self.backend_args)
        for key in ('images', 'categories'):
            if key not in data:
                raise KeyError(f'{self.ann_file} has no {key!r}: not a COCO panoptic annotation file')
        if not data['images']:
            raise ValueError(f"{self.ann_file} lists no images ('images' is empty): a dataset needs at least one "
                             'image; check that the file is the split you meant and was written completely')
        self.cat2label = self._category_mapping(data['categories'])
        self.cat_ids = list(self.cat2label)
        anns = {}
        for ann in data.get('annotations', []):
            anns[ann['image_id']] = ann
        return [self.parse_data_info(dict(raw_img_info=img, raw_ann_info=anns.get(img['id'])))
                for img in data['images']]

    def parse_data_info(self, raw_data_info: dict) -> dict:
        img = raw_data_info['raw_img_info']
        ann = raw_data_info['raw_ann_info']
        seg_prefix = self.data_prefix.get('seg')
        seg_name = ann.get('file_name') if ann else None
        if seg_name is None:
            seg_name = osp.splitext(img['file_name'])[0] + '.png'
        info = dict(
            img_path=osp.join(self.data_prefix.get('img') or '', img['file_name']),
            img_id=img['id'],
            seg_map_path=osp.join(seg_prefix, seg_name) if seg_prefix else None,
            height=img['height'],
            width=img['width'])
        segments, instances, ignored = [], [], []
        for seg in (ann or {}).get('segments_info', []):
            if seg.get('area', 1) <= 0:
                continue  # not drawn in the PNG
            cat_id = seg['category_id']
            if cat_id in self.ignored_cat_ids:
                ignored.append(seg['id'])  # a category outside metainfo classes: void
                continue
            if cat_id not in self.cat2label:
                raise ValueError(f"{self.ann_file}: image {img['id']} segment {seg['id']} has category_id {cat_id} "
                                 'missing from the JSON categories')
            label = self.cat2label[cat_id]
            is_thing = label < self.num_things_classes
            iscrowd = int(seg.get('iscrowd', 0))
            segments.append(dict(id=seg['id'], category=label, is_thing=is_thing, iscrowd=iscrowd))
            if is_thing:  # same order as mmdet LoadPanopticAnnotations' thing masks
                x, y, w, h = seg.get('bbox', (0, 0, 0, 0))
                instances.append(dict(bbox=[x, y, x + w, y + h], bbox_label=label, ignore_flag=iscrowd))
        info['segments_info'] = segments
        info['instances'] = instances
        info['ignored_segment_ids'] = ignored
        return info

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info['classes'] = self.metainfo['classes']
        info['num_things_classes'] = self.num_things_classes
        return info

    def filter_data(self) -> List[dict]:
        if self.test_mode or self.filter_cfg is None:
            return self.data_list
        filter_empty_gt = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        kept = [
            info for info in self.data_list
            if min(info['width'], info['height']) >= min_size and not (
                filter_empty_gt and not any(not s['iscrowd'] for s in info['segments_info']))
        ]
        if self.data_list and not kept:
            raise ValueError(f'{self.ann_file}: filter_cfg={dict(self.filter_cfg)} drops all {len(self.data_list)} '
                             'images (none has a non-crowd segment of a class in metainfo, or all are smaller than '
                             'min_size); check the classes and the filter settings')
        return kept
