# Copyright (c) OpenMMLab. All rights reserved.
"""Check the model's class counts against the datasets' classes before any iteration runs."""
import inspect
import logging
from typing import Dict, List, Optional, Tuple

from mmdet.engine.hooks import NumClassCheckHook
from mmdet.registry import HOOKS, MODELS
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper

from ..dataset_classes import describe_classes

#: config key of a class-count holder -> (num_things_classes, num_stuff_classes, num_classes); the split is None
#: where the holder has only a total (mmseg decode heads)
ClassCounts = Dict[str, Tuple[Optional[int], Optional[int], int]]

_HEADS = ('panoptic_head', 'panoptic_fusion_head')
_FIX = ('set num_things_classes / num_stuff_classes of model.panoptic_head and model.panoptic_fusion_head (the '
        'config variables num_things_classes / num_stuff_classes of the shipped configs) to the dataset\'s counts, '
        'or fix the dataset\'s metainfo (classes, thing_classes, stuff_classes)')


def model_class_counts(model) -> ClassCounts:
    """Class counts of a built OneFormer model (mmdet detector) or mmseg ``EncoderDecoder``."""
    model = model.module if is_model_wrapper(model) else model
    from mmengine.model import BaseTTAModel
    if isinstance(model, BaseTTAModel):  # tools/test.py --tta wraps the detector
        model = model.module
    counts: ClassCounts = {}
    for name in _HEADS:
        head = getattr(model, name, None)
        if head is not None and hasattr(head, 'num_things_classes') and hasattr(head, 'num_stuff_classes'):
            things, stuff = int(head.num_things_classes), int(head.num_stuff_classes)
            counts[f'model.{name}'] = (things, stuff, things + stuff)
    decode_head = getattr(model, 'decode_head', None)
    if decode_head is not None and hasattr(decode_head, 'num_classes'):
        counts['model.decode_head'] = (None, None, int(decode_head.num_classes))
    return counts


def _default_arg(type_name, arg: str):
    cls = MODELS.get(type_name) if isinstance(type_name, str) else type_name
    if cls is None:
        return None
    param = inspect.signature(cls.__init__).parameters.get(arg)
    return None if param is None or param.default is inspect.Parameter.empty else param.default


def config_class_counts(model_cfg: dict) -> ClassCounts:
    """Class counts of a model *config* (values the config leaves out take the head class's defaults)."""
    counts: ClassCounts = {}
    panoptic_head = model_cfg.get('panoptic_head') or {}
    for name in _HEADS:
        head = model_cfg.get(name)
        if not head:
            continue
        if name == 'panoptic_fusion_head':
            # what the fusion head leaves unset follows panoptic_head (OneFormer.follow_head_sizes)
            head = {**{k: panoptic_head[k] for k in ('num_things_classes', 'num_stuff_classes')
                       if k in panoptic_head}, **head}
        things = head.get('num_things_classes', _default_arg(head.get('type'), 'num_things_classes'))
        stuff = head.get('num_stuff_classes', _default_arg(head.get('type'), 'num_stuff_classes'))
        if things is not None and stuff is not None:
            counts[f'model.{name}'] = (int(things), int(stuff), int(things) + int(stuff))
    decode_head = model_cfg.get('decode_head')
    if isinstance(decode_head, dict) and decode_head.get('num_classes') is not None:
        counts['model.decode_head'] = (None, None, int(decode_head['num_classes']))
    return counts


def class_count_problems(metainfo: Optional[dict], counts: ClassCounts, dataset_key: str) -> List[str]:
    """Mismatches between a dataset's ``metainfo`` and the model's class counts, one message each.

    With ``thing_classes`` and ``stuff_classes`` that make up ``classes`` (panoptic datasets) both counts are
    compared; otherwise (semantic or instance data) the total ``num_things_classes + num_stuff_classes``.

    Args:
        metainfo (dict | None): The dataset's ``metainfo``.
        counts (dict): :func:`model_class_counts` or :func:`config_class_counts`.
        dataset_key (str): Where the dataset is configured, named in the messages (e.g. ``'train_dataloader'``).
    """
    classes = tuple((metainfo or {}).get('classes') or ())
    if not classes or not counts:
        return []
    things = tuple(metainfo.get('thing_classes') or ())
    stuff = tuple(metainfo.get('stuff_classes') or ())
    split = bool(things or stuff) and len(things) + len(stuff) == len(classes)
    where = f'{dataset_key}.dataset.metainfo'
    problems = []
    for key, (n_things, n_stuff, total) in counts.items():
        if split and n_things is not None:
            if (n_things, n_stuff) != (len(things), len(stuff)):
                problems.append(
                    f'{key} has num_things_classes={n_things}, num_stuff_classes={n_stuff} but {where} has '
                    f'{len(things)} thing_classes and {len(stuff)} stuff_classes ({len(classes)} classes)')
        elif total != len(classes):
            detail = f' (num_things_classes={n_things} + num_stuff_classes={n_stuff})' if n_things is not None else ''
            problems.append(f'{key} has {total} classes{detail} but {where} has {len(classes)} classes '
                            f'{_shorten(classes)}')
    return problems


def _shorten(names: tuple, n: int = 6) -> str:
    return str(names) if len(names) <= n else f"({', '.join(map(repr, names[:n]))}, ... {len(names) - n} more)"


def check_class_counts(metainfo: Optional[dict], counts: ClassCounts, dataset_key: str) -> None:
    """Raise a ``ValueError`` listing :func:`class_count_problems` and the keys to set, if there are any."""
    problems = class_count_problems(metainfo, counts, dataset_key)
    if problems:
        raise ValueError('the model and the data disagree on the number of classes:\n  ' + '\n  '.join(problems)
                         + f'\nTo fix: {_FIX}.')


@HOOKS.register_module()
class ClassCountCheckHook(NumClassCheckHook):
    """Fail fast when the model's class counts do not match a dataset's classes.

    Extends mmdet's :class:`NumClassCheckHook` at its hook point ``_check_head(runner, mode)`` (which its
    ``before_train_epoch`` / ``before_val_epoch`` call). mmdet's asserts every module's ``num_classes`` against
    ``len(classes)``; OneFormer needs the thing / stuff split of both heads checked, the test dataset too, and the
    check before the first iteration (``before_train``, also the val dataset) with a message naming the keys.

    A model with fewer classes than the data otherwise trains silently (the extra labels become "no object"), and
    one with more classes only crashes at the first validation, deep in the metric. Before training this hook
    compares the heads' ``num_things_classes`` / ``num_stuff_classes`` (``model.panoptic_head`` and
    ``model.panoptic_fusion_head``; ``model.decode_head.num_classes`` for mmseg models) with the ``metainfo``
    (``classes``, ``thing_classes``, ``stuff_classes``) of the train and val datasets, and before testing with the
    test dataset's. The ``ValueError`` names both numbers and the config keys to set. The classes each dataset
    uses are written to the log.

    ``tools/train.py`` and ``tools/test.py`` add it to ``custom_hooks`` (see
    :func:`oneformer.engine.add_default_hooks`).
    """
    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._checked = set()

    _LOOPS = dict(train=('train_loop', 'train_dataloader'), val=('val_loop', 'val_dataloader'),
                  test=('test_loop', 'test_dataloader'))

    def _check_head(self, runner, mode: str) -> None:
        """mmdet's hook point: check the ``mode`` ('train' | 'val' | 'test') dataset (each dataset once)."""
        self._check(runner, *self._LOOPS[mode])

    def _check(self, runner, loop_name: str, dataloader_key: str) -> None:
        try:
            loop = getattr(runner, loop_name)
        except Exception:  # e.g. a runner without that loop
            return
        dataloader = getattr(loop, 'dataloader', None)
        dataset = getattr(dataloader, 'dataset', None)
        if dataset is None or id(dataset) in self._checked:
            return
        self._checked.add(id(dataset))
        metainfo = getattr(dataset, 'metainfo', None)
        # say which classes the data really use (a class subset set in the wrong place shows here)
        print_log(f'{dataloader_key}: the dataset ({type(dataset).__name__}, {len(dataset)} images) uses '
                  f'{describe_classes(metainfo)}', logger='current', level=logging.INFO)
        check_class_counts(metainfo, model_class_counts(runner.model), dataloader_key)

    def before_train(self, runner) -> None:
        self._check_head(runner, 'train')
        if getattr(runner, '_val_loop', None) is not None:  # built by Runner.train() before this hook
            self._check_head(runner, 'val')

    def before_val(self, runner) -> None:
        self._check_head(runner, 'val')

    def before_test(self, runner) -> None:
        self._check_head(runner, 'test')
