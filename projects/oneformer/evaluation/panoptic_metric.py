# Copyright (c) OpenMMLab. All rights reserved.
from typing import Sequence

from mmdet.evaluation import CocoPanopticMetric
from mmdet.registry import METRICS


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
    """mmdet's ``CocoPanopticMetric`` (same arguments, keys ``coco_panoptic/PQ`` ...) that does not modify the
    model's predictions.

    mmdet 3.3 turns ``pred_panoptic_seg.sem_seg`` into a numpy *view* and writes VOID (0) into it, so everything
    that reads the predictions after the evaluator - ``DetVisualizationHook`` (``tools/test.py --show-dir``),
    ``DumpDetResults`` (``--out``) - sees void pixels as id 0, i.e. class 0. This subclass hands the parent a copy.
    """

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        super().process(data_batch, [_with_own_panoptic_map(ds) for ds in data_samples])
