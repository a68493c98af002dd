# Copyright (c) OpenMMLab. All rights reserved.
from collections import OrderedDict

from mmdet.evaluation import SemSegMetric
from mmdet.registry import METRICS


@METRICS.register_module()
class OneFormerSemSegMetric(SemSegMetric):
    """mmdet's ``SemSegMetric`` (same arguments and keys: ``aAcc``, ``mIoU``, ``mAcc``, ...) with the overall pixel
    accuracy ``aAcc`` computed as mmseg's ``IoUMetric`` does.

    mmdet 3.3 computes ``aAcc`` per class and then averages it, so it always equals ``mAcc``; here it is the
    fraction of all labelled pixels predicted correctly: ``sum(intersection) / sum(label area)``.
    """

    def get_return_metrics(self, results: list) -> dict:
        metrics = super().get_return_metrics(results)
        intersect = sum(r['area_intersect'] for r in results).sum()
        labelled = sum(r['area_label'] for r in results).sum()
        out = OrderedDict(aAcc=(intersect / labelled).cpu().numpy())
        out.update((k, v) for k, v in metrics.items() if k != 'aAcc')
        return out
