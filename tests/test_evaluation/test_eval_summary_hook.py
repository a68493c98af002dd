"""TaskMetricsSummaryHook: one markdown table + metrics.json from the key names of mmdet's metrics."""
import json
import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmdet.registry import HOOKS

from oneformer.evaluation import TaskMetricsSummaryHook, format_markdown_table, summarize_metrics

# what CocoPanopticMetric + CocoMetric(segm) + SemSegMetric return together (mmdet 3.3 key names)
FULL = {
    'coco_panoptic/PQ': 58.333333, 'coco_panoptic/SQ': 70.0, 'coco_panoptic/RQ': 66.666667,
    'coco_panoptic/PQ_th': 37.5, 'coco_panoptic/SQ_th': 37.5, 'coco_panoptic/RQ_th': 50.0,
    'coco_panoptic/PQ_st': 100.0, 'coco_panoptic/SQ_st': 100.0, 'coco_panoptic/RQ_st': 100.0,
    'coco/segm_mAP': 0.413, 'coco/segm_mAP_50': 0.652, 'coco/segm_mAP_75': 0.44, 'coco/segm_mAP_s': -1.0,
    'coco/segm_mAP_m': 0.2, 'coco/segm_mAP_l': 0.5,
    'aAcc': np.float64(71.43), 'mIoU': np.float64(54.23), 'mAcc': np.float32(60.5),
}


class ListHandler(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def runner(tmp_path):
    logger = logging.getLogger(f'summary_hook_test_{id(tmp_path)}')
    logger.setLevel(logging.INFO)
    handler = ListHandler()
    logger.addHandler(handler)
    return SimpleNamespace(work_dir=str(tmp_path / 'work'), logger=logger, messages=handler.messages)


def test_summary_of_all_three_metrics():
    s = summarize_metrics(FULL)
    assert s['PQ'] == pytest.approx(58.333333) and s['PQ_th'] == 37.5 and s['PQ_st'] == 100.0
    assert s['SQ'] == 70.0 and s['RQ'] == pytest.approx(66.666667)
    # CocoMetric reports fractions: converted to percent without float noise
    assert (s['AP'], s['AP50'], s['AP75']) == (41.3, 65.2, 44.0)
    assert s['mIoU'] == 54.23 and type(s['mIoU']) is float
    assert s['raw'] == {k: float(v) for k, v in FULL.items()}
    json.dumps(s)  # serialisable (numpy scalars converted)


def test_missing_metrics_are_absent_and_prefixes_are_free():
    s = summarize_metrics({'sem_seg/mIoU': torch.tensor(47.5), 'sem_seg/aAcc': 80.0})
    assert set(s) == {'mIoU', 'raw'} and s['mIoU'] == 47.5
    assert format_markdown_table(s) == '| mIoU |\n|---:|\n| 47.50 |'
    s = summarize_metrics({'coco/bbox_mAP': 0.5, 'coco/segm_mAP': 0.25, 'cityscapes/mAP': 0.1})
    assert s['AP'] == 25.0  # mask AP, never the box AP; COCO preferred over Cityscapes
    assert summarize_metrics({'cityscapes/mAP': 0.1, 'cityscapes/AP@50': 0.2})['AP50'] == 20.0
    assert summarize_metrics({}) == {'raw': {}}
    assert format_markdown_table(summarize_metrics({'loss': 1.0})) == ''


def test_hook_writes_json_and_one_table(runner):
    hook = HOOKS.build(dict(type='TaskMetricsSummaryHook'))
    assert isinstance(hook, TaskMetricsSummaryHook) and hook.priority == 'LOW'
    hook.after_test_epoch(runner, metrics=dict(FULL))

    saved = json.load(open(f'{runner.work_dir}/metrics.json'))
    assert saved['PQ'] == pytest.approx(58.333333) and saved['AP'] == 41.3 and saved['mIoU'] == 54.23
    for key in ('PQ_th', 'PQ_st', 'SQ', 'RQ', 'AP50', 'AP75'):
        assert key in saved
    assert saved['raw']['coco/segm_mAP_s'] == -1.0 and len(saved['raw']) == len(FULL)

    tables = [m for m in runner.messages if '| PQ |' in m]
    assert len(tables) == 1
    lines = tables[0].splitlines()[1:]
    assert lines[0] == '| PQ | PQ_th | PQ_st | SQ | RQ | AP | AP50 | AP75 | mIoU |'
    assert lines[2] == '| 58.33 | 37.50 | 100.00 | 70.00 | 66.67 | 41.30 | 65.20 | 44.00 | 54.23 |'


def test_hook_val_and_no_metrics(runner, tmp_path):
    hook = TaskMetricsSummaryHook(out_file=str(tmp_path / 'abs' / 'val.json'), on_val=False)
    hook.after_val_epoch(runner, metrics={'mIoU': 50.0})
    assert not (tmp_path / 'abs' / 'val.json').exists()  # on_val=False
    hook.after_test_epoch(runner, metrics=None)
    assert not (tmp_path / 'abs' / 'val.json').exists()
    hook = TaskMetricsSummaryHook(out_file=str(tmp_path / 'abs' / 'val.json'))
    hook.after_val_epoch(runner, metrics={'mIoU': 50.0})
    assert json.load(open(tmp_path / 'abs' / 'val.json')) == {'mIoU': 50.0, 'raw': {'mIoU': 50.0}}
    with pytest.raises(ValueError, match='out_file'):
        TaskMetricsSummaryHook(out_file='')
