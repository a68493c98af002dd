# Copyright (c) OpenMMLab. All rights reserved.
"""Collapse the metric dicts of mmdet's metrics into the three OneFormer headline numbers.

Key names produced by the pinned metrics (mmdet 3.3.0, default prefixes):

* ``CocoPanopticMetric`` (prefix ``coco_panoptic``): ``coco_panoptic/{PQ,SQ,RQ}`` and the ``_th`` / ``_st``
  variants, already in percent.
* ``CocoMetric(metric='segm')`` (prefix ``coco``): ``coco/segm_mAP``, ``coco/segm_mAP_50``, ``coco/segm_mAP_75``,
  ``coco/segm_mAP_{s,m,l}`` as fractions rounded to 3 decimals.
* ``SemSegMetric`` (no default prefix): ``aAcc``, ``mIoU``, ``mAcc`` in percent. mmseg's ``IoUMetric`` uses the same
  names; a config may add ``prefix='sem_seg'`` which gives ``sem_seg/mIoU``.
* ``CityScapesMetric`` (prefix ``cityscapes``): ``cityscapes/mAP``, ``cityscapes/AP@50`` as fractions.

Lookup is done on the last ``/`` component so that any prefix works.
"""
import math
from collections import OrderedDict
from typing import Dict, Iterable, Optional, Sequence, Tuple

# summary key -> ordered candidate metric names (last key component) and their scale to percent.
# The first candidate found wins, so COCO mask AP is preferred over the Cityscapes instance AP.
_SOURCES: Dict[str, Tuple[Tuple[str, float], ...]] = OrderedDict([
    ('PQ', (('PQ', 1.0), )),
    ('PQ_th', (('PQ_th', 1.0), )),
    ('PQ_st', (('PQ_st', 1.0), )),
    ('SQ', (('SQ', 1.0), )),
    ('RQ', (('RQ', 1.0), )),
    ('AP', (('segm_mAP', 100.0), ('cityscapes/mAP', 100.0))),
    ('AP50', (('segm_mAP_50', 100.0), ('cityscapes/AP@50', 100.0))),
    ('AP75', (('segm_mAP_75', 100.0), )),
    ('mIoU', (('mIoU', 1.0), )),
])

#: Column order of the printed table.
TABLE_COLUMNS: Tuple[str, ...] = tuple(_SOURCES)


def _to_float(value) -> Optional[float]:
    """Python float of a scalar metric value (numpy / torch scalars included), None if not a scalar number."""
    if isinstance(value, bool):
        return None
    if not isinstance(value, (int, float)):
        item = getattr(value, 'item', None)
        if not callable(item):
            return None
        try:  # numpy / torch scalars; arrays of several elements raise
            value = item()
        except (TypeError, ValueError, RuntimeError):
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
    return float(value)


def _find(metrics: Dict[str, object], name: str) -> Optional[object]:
    """Value of the first metric key equal to ``name`` or ending in ``/name``."""
    if '/' in name:  # fully qualified candidate
        return metrics.get(name)
    for key, value in metrics.items():
        if key.rsplit('/', 1)[-1] == name:
            return value
    return None


def _jsonable(value):
    number = _to_float(value)
    if number is not None:
        return None if math.isnan(number) else number
    if isinstance(value, (str, type(None))):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


#: headline keys of each task; a task that was evaluated but returned none of them scores 0 (see below)
TASK_KEYS: Dict[str, Tuple[str, ...]] = {
    'panoptic': ('PQ', 'PQ_th', 'PQ_st', 'SQ', 'RQ'), 'instance': ('AP', 'AP50', 'AP75'), 'semantic': ('mIoU', )}


def summarize_metrics(metrics: Optional[Dict[str, object]], tasks: Iterable[str] = ()) -> Dict[str, object]:
    """Headline numbers (percent) of one evaluation.

    Args:
        metrics (dict | None): The merged metric dict of an mmengine ``Evaluator`` (keys with their metric prefix).
        tasks (Iterable[str]): Tasks whose metric ran. A task among them without any of its numbers in ``metrics``
            gets 0 for them: mmdet's ``CocoMetric`` returns nothing when there is no instance prediction at all
            (its AP is 0), which would otherwise drop the AP columns.

    Returns:
        dict: ``PQ``, ``PQ_th``, ``PQ_st``, ``SQ``, ``RQ``, ``AP``, ``AP50``, ``AP75``, ``mIoU`` for those that could
        be found (missing ones are absent), all in percent, plus ``raw``: every input metric as a JSON-serialisable
        value.
    """
    metrics = dict(metrics or {})
    summary: Dict[str, object] = OrderedDict()
    tasks = set(tasks)
    for out_key, candidates in _SOURCES.items():
        for name, scale in candidates:
            value = _to_float(_find(metrics, name))
            if value is not None:
                # round() removes float noise of the x100 (0.413 * 100 = 41.300000000000004)
                summary[out_key] = round(value * scale, 6)
                break
    for task, keys in TASK_KEYS.items():
        if task in tasks and not any(k in summary for k in keys):
            summary.update((k, 0.0) for k in keys)
    summary = OrderedDict((k, summary[k]) for k in _SOURCES if k in summary)
    summary['raw'] = {k: _jsonable(v) for k, v in metrics.items()}
    return summary


def format_markdown_table(summary: Dict[str, object], columns: Iterable[str] = TABLE_COLUMNS,
                          digits: int = 2) -> str:
    """One-row markdown table of the headline numbers present in ``summary`` (empty string if none)."""
    present: Sequence[str] = [c for c in columns if c in summary]
    if not present:
        return ''
    header = '| ' + ' | '.join(present) + ' |'
    rule = '|' + '|'.join(['---:'] * len(present)) + '|'
    row = '| ' + ' | '.join(f'{summary[c]:.{digits}f}' for c in present) + ' |'
    return '\n'.join([header, rule, row])
