# Copyright (c) OpenMMLab. All rights reserved.
"""One-pass three-task evaluation support.

The metrics themselves are mmdet's (``CocoPanopticMetric``, ``CocoMetric(metric='segm')``, ``SemSegMetric``); this
package adds the summary hook, a ``CocoPanopticMetric`` that leaves the predictions untouched and the config edits
of the train/test tools. Importing it registers ``TaskMetricsSummaryHook`` (``HOOKS``) and
``OneFormerPanopticMetric`` (``METRICS``) in mmdet's registries.
"""
from .cli_config import (TASK_CHOICES, TASK_METRICS, add_summary_hook, metric_task, parse_task, select_task_metrics,
                         set_test_tasks, setup_test_cfg, setup_train_cfg)
from .metric_summary import TABLE_COLUMNS, format_markdown_table, summarize_metrics
from .panoptic_metric import OneFormerPanopticMetric
from .summary_hook import TaskMetricsSummaryHook

__all__ = [
    'TaskMetricsSummaryHook', 'OneFormerPanopticMetric', 'summarize_metrics', 'format_markdown_table',
    'TABLE_COLUMNS', 'TASK_CHOICES', 'TASK_METRICS', 'parse_task', 'metric_task', 'select_task_metrics',
    'set_test_tasks', 'add_summary_hook', 'setup_train_cfg', 'setup_test_cfg'
]
