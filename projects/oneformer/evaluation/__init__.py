# Copyright (c) OpenMMLab. All rights reserved.
"""One-pass three-task evaluation support.

The metrics themselves are mmdet's (``CocoPanopticMetric``, ``CocoMetric(metric='segm')``, ``SemSegMetric``); this
package adds the summary hook, a ``CocoPanopticMetric`` that checks the ground truth, supports a class subset and
leaves the predictions untouched, and a ``SemSegMetric`` whose ``aAcc`` is the overall pixel accuracy. Importing it
registers ``TaskMetricsSummaryHook`` (``HOOKS``), ``OneFormerPanopticMetric`` and ``OneFormerSemSegMetric``
(``METRICS``) in mmdet's registries.
"""
from .metric_summary import TABLE_COLUMNS, TASK_KEYS, format_markdown_table, summarize_metrics
from .panoptic_metric import OneFormerPanopticMetric
from .semseg_metric import OneFormerSemSegMetric
from .summary_hook import TaskMetricsSummaryHook

__all__ = [
    'TaskMetricsSummaryHook', 'OneFormerPanopticMetric', 'OneFormerSemSegMetric', 'summarize_metrics',
    'format_markdown_table', 'TABLE_COLUMNS', 'TASK_KEYS'
]
