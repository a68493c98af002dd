"""COCO-panoptic-format dataset with the per-segment annotation OneFormer needs."""
import os.path as osp
import warnings
from typing import Dict, List

from mmdet.datasets import CocoPanopticDataset
from mmdet.registry import DATASETS
from mmengine.fileio import load


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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # also checked with lazy_init=True (load_data_list sets it otherwise)
        self.num_things_classes = check_things_first(self.metainfo)

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
        if unknown:
            raise ValueError(f"{self.ann_file}: JSON categories {unknown} are not in metainfo['classes']; "
                             'add them to metainfo (classes + thing/stuff lists)')
        cat2label = {}
        for label, name in enumerate(classes):
            cat = by_name[name]
            is_thing = label < num_things
            if 'isthing' in cat and bool(cat['isthing']) != is_thing:
                raise ValueError(f"{self.ann_file}: category {name!r} has isthing={cat['isthing']} but metainfo "
                                 f"lists it as a {'thing' if is_thing else 'stuff'} class")
            cat2label[cat['id']] = label
        json_order = [c['name'] for c in categories]
        if json_order != list(classes):
            warnings.warn(f'{self.ann_file}: JSON category order differs from metainfo classes; training labels '
                          'follow metainfo, but mmdet CocoPanopticMetric/CocoMetric map labels in JSON order - '
                          'write the JSON categories in classes order before evaluating.')
        return cat2label

    # ------------------------------------------------------------------ loading
    def load_data_list(self) -> List[dict]:
        data = load(self.ann_file, file_format='json', backend_args=self.backend_args)
        for key in ('images', 'categories'):
            if key not in data:
                raise KeyError(f'{self.ann_file} has no {key!r}: not a COCO panoptic annotation file')
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
        segments, instances = [], []
        for seg in (ann or {}).get('segments_info', []):
            if seg.get('area', 1) <= 0:
                continue  # not drawn in the PNG
            cat_id = seg['category_id']
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
        return [
            info for info in self.data_list
            if min(info['width'], info['height']) >= min_size and not (
                filter_empty_gt and not any(not s['iscrowd'] for s in info['segments_info']))
        ]
