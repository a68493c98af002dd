# Copyright (c) OpenMMLab. All rights reserved.
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmdet.evaluation import CocoPanopticMetric
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import METRICS
from mmengine.logging import print_log

from ..structures import check_panoptic_ids, read_panoptic_png, write_panoptic_png


def _with_own_panoptic_map(data_sample: dict) -> dict:
    """Shallow copy of a data sample dict whose ``pred_panoptic_seg.sem_seg`` is a private copy."""
    pan = data_sample.get('pred_panoptic_seg')
    if pan is None or 'sem_seg' not in pan:
        return data_sample
    pan = dict(pan)
    pan['sem_seg'] = pan['sem_seg'].clone()
    return dict(data_sample, pred_panoptic_seg=pan)


@METRICS.register_module()
class OneFormerPanopticMetric(CocoPanopticMetric):
    """mmdet's ``CocoPanopticMetric`` (same arguments, keys ``coco_panoptic/PQ`` ...) that checks the ground truth,
    supports a subset of the JSON categories and does not modify the model's predictions.

    - **Ground-truth check**: every ground-truth PNG must match its ``segments_info`` in both directions, as in
      training (:func:`~oneformer.structures.check_panoptic_ids`); mmdet silently evaluates against a PNG id missing
      from the JSON (its pixels are neither void nor a segment) or a listed segment without pixels (a false
      negative). A ``ValueError`` names the file and the id. Listed segments with ``area == 0`` are allowed to be
      absent (the datasets drop them too).
    - **Class subset**: when ``dataset_meta['classes']`` (the dataset's ``metainfo``) is a subset of the JSON
      categories (see :class:`~oneformer.datasets.OneFormerPanopticDataset`), the other categories are left out of
      PQ and their ground-truth segments become void: the PNGs are rewritten to ``{outfile_prefix}.gt_subset/``
      (a temporary folder unless ``outfile_prefix`` is set).
    - **Predictions untouched**: mmdet 3.3 turns ``pred_panoptic_seg.sem_seg`` into a numpy *view* and writes VOID
      (0) into it, so everything that reads the predictions after the evaluator - ``DetVisualizationHook``
      (``tools/test.py --show-dir``), ``DumpDetResults`` (``--out``) - sees void pixels as id 0, i.e. class 0. This
      subclass hands the parent a copy.
    - **PNG names from the JSON**: the ground-truth PNG of an image is the one its JSON annotation names
      (``file_name``; without ``ann_file``, the sample's ``seg_map_path``), as in training and
      ``tools/misc/check_dataset.py --split val``; mmdet derives it from the image name (``.jpg`` -> ``.png``), so
      ``.jpeg`` images or differently named PNGs failed at the end of training (and a ``.jpeg`` name made it write
      the predicted PNG as a JPEG). :meth:`gt_png_name` is the rule.
    - Predicted labels beyond the dataset's classes raise a ``ValueError`` naming both class counts (mmdet fails
      with ``KeyError: np.int32(...)``).

    Args:
        check_gt (bool): Check every ground-truth PNG against its ``segments_info``. Defaults to True.
        **kwargs: Arguments of mmdet's :class:`CocoPanopticMetric`.
    """

    def __init__(self, *args, check_gt: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.check_gt = check_gt
        self.ann_file = kwargs.get('ann_file', args[0] if args else None)  # named in errors
        self._src_seg_prefix = self.seg_prefix
        self._void_ids: Optional[Dict[int, List[int]]] = None  # image id -> ids of excluded segments
        self._png_names: Optional[Dict[int, str]] = None  # image id -> the JSON annotation's file_name

    # ------------------------------------------------------------------ PNG names
    def gt_png_name(self, data_sample: dict) -> str:
        """The ground-truth PNG of a sample, relative to ``seg_prefix``, as evaluation reads it.

        With ``ann_file``: the ``file_name`` of the image's annotation in that JSON. Without: the basename of the
        sample's ``seg_map_path`` (the dataset took it from its JSON), else the image's stem + ``.png``.

        Raises:
            KeyError: if the JSON has no annotation for the sample's image id.
        """
        if self._coco_api is not None:
            if self._png_names is None:
                self._png_names = {a['image_id']: a['file_name'] for a in self._coco_api.dataset['annotations']}
                # mmdet's compute_metrics (outfile_prefix set) reads ``segm_file``, which COCOPanoptic derives from
                # the image name: make it the JSON's name too
                for img_id, info in self._coco_api.imgs.items():
                    if img_id in self._png_names:
                        info['segm_file'] = self._png_names[img_id]
            img_id = data_sample['img_id']
            if img_id not in self._png_names:
                raise KeyError(f'{self.ann_file} has no panoptic annotation for image id {img_id} '
                               f'({data_sample.get("img_path")})')
            return self._png_names[img_id]
        if data_sample.get('seg_map_path'):
            return osp.basename(data_sample['seg_map_path'])
        return osp.splitext(osp.basename(data_sample['img_path']))[0] + '.png'

    @staticmethod
    def _named_for_parent(data_sample: dict, png_name: str) -> dict:
        """A copy whose ``img_path`` makes mmdet's ``basename(img_path).replace('.jpg', '.png')`` give
        ``png_name`` (the PNG name of its ground truth and of the prediction it writes)."""
        if '.jpg' in png_name or osp.basename(png_name) != png_name:
            raise ValueError(f'OneFormerPanopticMetric: the panoptic PNG name {png_name!r} (image '
                             f'{data_sample.get("img_path")}) must be a file name without folders or ".jpg" '
                             '(mmdet\'s CocoPanopticMetric builds the PNG paths from it); rename the PNG and its '
                             'file_name in the JSON')
        return dict(data_sample, img_path=osp.join(osp.dirname(data_sample['img_path']), png_name))

    # ------------------------------------------------------------------ class subset
    def _prepare_subset(self) -> None:
        """Once ``dataset_meta`` is known: drop JSON categories outside the dataset's classes."""
        if self._void_ids is not None or self._coco_api is None or not self.dataset_meta:
            return
        self._void_ids = {}
        names = set(self.dataset_meta['classes'])
        excluded = {cat_id for cat_id, cat in self._coco_api.cats.items() if cat['name'] not in names}
        if not excluded:
            return
        self._coco_api.cats = {k: v for k, v in self._coco_api.cats.items() if k not in excluded}
        self.categories = self._coco_api.cats
        for img_id, segs in list(self._coco_api.imgToAnns.items()):
            self._void_ids[img_id] = [s['id'] for s in segs if s['category_id'] in excluded]
            self._coco_api.imgToAnns[img_id] = [s for s in segs if s['category_id'] not in excluded]
        self.seg_prefix = f'{self.outfile_prefix}.gt_subset'
        os.makedirs(self.seg_prefix, exist_ok=True)
        print_log(f'OneFormerPanopticMetric: {len(excluded)} JSON categories are not in the dataset classes; their '
                  f'ground-truth segments are void (ground-truth PNGs rewritten to {self.seg_prefix})',
                  logger='current')

    # ------------------------------------------------------------------ ground truth
    def _check_gt(self, data_sample: dict) -> None:
        """Check (and, for a class subset, rewrite) the ground-truth PNG the parent will evaluate against."""
        if self._src_seg_prefix is None:
            return
        segm_file = self.gt_png_name(data_sample)
        path = osp.join(self._src_seg_prefix, segm_file)
        img_id = data_sample['img_id']
        if self._coco_api is not None:
            segments = self._coco_api.imgToAnns[img_id]
            void = (self._void_ids or {}).get(img_id, [])
        elif 'segments_info' in data_sample:
            segments = data_sample['segments_info']
            void = data_sample.get('ignored_segment_ids', [])
        else:
            return
        rewrite = bool(self._void_ids)
        if not (self.check_gt or rewrite):
            return
        ids = read_panoptic_png(path, self.backend_args)
        if self.check_gt:
            check_panoptic_ids(ids, [s['id'] for s in segments if s.get('area', 1) > 0], path, void)
        if rewrite:
            if void:
                ids = np.where(np.isin(ids, void), 0, ids)
            write_panoptic_png(ids, osp.join(self.seg_prefix, segm_file))

    def _check_labels(self, data_sample: dict) -> None:
        pan = data_sample.get('pred_panoptic_seg')
        if pan is None or 'sem_seg' not in pan:
            return
        num_classes = len(self.dataset_meta['classes'])
        top = int((pan['sem_seg'] % INSTANCE_OFFSET).max()) if pan['sem_seg'].numel() else 0
        if top > num_classes:  # num_classes itself is void
            raise ValueError(
                f'the model predicts class {top} but the dataset ({data_sample.get("img_path")}) has {num_classes} '
                'classes: model.panoptic_head / panoptic_fusion_head num_things_classes + num_stuff_classes must '
                "equal the number of classes in the dataset's metainfo")

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        self._prepare_subset()
        samples = [_with_own_panoptic_map(ds) for ds in data_samples]
        for ds in samples:
            self._check_labels(ds)
            self._check_gt(ds)
        super().process(data_batch, [self._named_for_parent(ds, self.gt_png_name(ds)) for ds in samples])
