# Copyright (c) OpenMMLab. All rights reserved.
import json
import os
import os.path as osp
from typing import Dict, Optional, Tuple

from mmdet.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from ..tasks import metric_task
from .metric_summary import format_markdown_table, summarize_metrics


@HOOKS.register_module()
class TaskMetricsSummaryHook(Hook):
    """Print the PQ / AP / mIoU headline numbers of an evaluation as one markdown table and save them as JSON.

    The three task metrics (``CocoPanopticMetric``, ``CocoMetric(metric='segm')``, ``SemSegMetric``) each log their
    own long tables; this hook collects the numbers a paper table needs after every test (and, optionally, val)
    epoch. The JSON file holds ``PQ``, ``AP``, ``mIoU`` (percent), the details ``PQ_th``, ``PQ_st``, ``SQ``, ``RQ``,
    ``AP50``, ``AP75`` and ``raw`` (every metric key). Metrics that were not evaluated are absent.

    Args:
        out_file (str): File name (relative to ``runner.work_dir``) or absolute path of the JSON output.
            Defaults to ``'metrics.json'``.
        on_val (bool): Also summarise validation epochs during training (the file then holds the latest
            validation). Defaults to True.
        digits (int): Decimals shown in the table. Defaults to 2.
    """
    priority = 'LOW'  # after the loggers/checkpoint hooks that also consume the metrics

    def __init__(self, out_file: str = 'metrics.json', on_val: bool = True, digits: int = 2) -> None:
        if not isinstance(out_file, str) or not out_file:
            raise ValueError(f'TaskMetricsSummaryHook: out_file must be a non-empty str, got {out_file!r}')
        self.out_file = out_file
        self.on_val = on_val
        self.digits = digits

    def after_val_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        if self.on_val:
            self._summarize(runner, metrics, mode='val')

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        self._summarize(runner, metrics, mode='test')

    @staticmethod
    def _evaluated_tasks(runner, mode: str) -> Tuple[str, ...]:
        """Tasks whose metric ran in the ``mode`` evaluator (format-only metrics compute nothing)."""
        try:
            evaluator = getattr(runner, f'{mode}_evaluator', None)
        except Exception:  # a runner without that loop
            return ()
        tasks = []
        for metric in getattr(evaluator, 'metrics', None) or ():
            if getattr(metric, 'format_only', False):
                continue
            task = metric_task(metric)
            if task is not None:
                tasks.append(task)
        return tuple(tasks)

    def _summarize(self, runner, metrics: Optional[Dict[str, float]], mode: str) -> None:
        if not metrics:
            return
        summary = summarize_metrics(metrics, self._evaluated_tasks(runner, mode))
        table = format_markdown_table(summary, digits=self.digits)
        if table:
            print_log(f'OneFormer {mode} summary (percent):\n{table}', logger=runner.logger)
        if is_main_process():
            path = self.out_file if osp.isabs(self.out_file) else osp.join(runner.work_dir, self.out_file)
            os.makedirs(osp.dirname(path) or '.', exist_ok=True)
            with open(path, 'w') as f:
                json.dump(summary, f, indent=2)
