"""The task contract of OneFormer, in one place: every layer (data, model, evaluation, inference, export) imports it.

One model does three tasks, switched by the task token "the task is {task}" (paper §3.1). Training also builds a
text list per image: one "a photo with a {class}" per target in class-id order, padded with the task's pad text
(official ``oneformer_unified_dataset_mapper``). This module owns the names, prompts, pad texts, the data-sample field
each task's prediction goes to, the metrics that evaluate each task, the helpers that check or parse a task, and the
prediction contract (:func:`prediction_plan`: requested tasks -> decoder passes) shared by the PyTorch model and the
ONNX Runtime runner.
"""
from functools import lru_cache
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

#: the tasks, in the order outputs are produced and reported
TASKS: Tuple[str, ...] = ('panoptic', 'instance', 'semantic')
#: accepted by ``--task`` / ``task=`` wherever several tasks can run at once
ALL = 'all'
TASK_CHOICES: Tuple[str, ...] = TASKS + (ALL, )
#: CLIP token sequence length of the task prompt and of every text (the official ``max_seq_len``)
CONTEXT_LENGTH = 77

TASK_PROMPT = 'the task is {}'
TEXT_TEMPLATE = 'a photo with a {}'
PAD_TEXTS: Dict[str, str] = {
    'semantic': 'a semantic photo', 'instance': 'an instance photo', 'panoptic': 'a panoptic photo'}
#: order of the cumulative thresholds of the official mapper: u < p_sem -> semantic, u < p_sem + p_ins -> instance
SAMPLING_ORDER: Tuple[str, ...] = ('semantic', 'instance', 'panoptic')

#: the mmdet data-sample field each task's prediction is written to
PRED_FIELDS: Dict[str, str] = {
    'panoptic': 'pred_panoptic_seg', 'instance': 'pred_instances', 'semantic': 'pred_sem_seg'}
#: metric types (without scope prefix) that evaluate each task; other metrics are task-agnostic
TASK_METRICS: Dict[str, Tuple[str, ...]] = {
    'panoptic': ('CocoPanopticMetric', 'OneFormerPanopticMetric'),
    'instance': ('CocoMetric', 'CityScapesMetric', 'LVISMetric'),
    'semantic': ('SemSegMetric', 'OneFormerSemSegMetric', 'IoUMetric', 'CityscapesSemSegMetric'),
}


def check_task(task: str) -> str:
    """Return ``task`` if it is one of :data:`TASKS`, else raise a ``ValueError`` naming them."""
    if task not in TASKS:
        raise ValueError(f'Unknown OneFormer task {task!r}; accepted tasks are {", ".join(TASKS)}.')
    return task


def parse_tasks(task) -> Tuple[str, ...]:
    """``'all'`` -> every task; a task name -> a 1-tuple; a sequence of names -> checked tuple."""
    if isinstance(task, str):
        if task == ALL:
            return TASKS
        if task not in TASKS:
            raise ValueError(f'Unknown OneFormer task {task!r}; accepted: {", ".join(TASK_CHOICES)}')
        return (task, )
    tasks = tuple(check_task(t) for t in task)
    if not tasks:
        raise ValueError(f'Empty task list; accepted: {", ".join(TASK_CHOICES)}')
    return tasks


def metric_type_name(metric) -> str:
    """Type name of a metric config (dict with ``type``: str or class) or metric object, without scope prefix."""
    mtype = metric.get('type', '') if isinstance(metric, Mapping) else type(metric).__name__
    if not isinstance(mtype, str):  # a class object in a pure-python config
        mtype = getattr(mtype, '__name__', str(mtype))
    return mtype.rsplit('.', 1)[-1]  # drop a scope prefix such as 'mmdet.'


def metric_task(metric) -> Optional[str]:
    """The task a metric (config or object) evaluates, or None for task-agnostic metrics (dumpers etc.)."""
    name = metric_type_name(metric)
    return next((task for task, names in TASK_METRICS.items() if name in names), None)


#: (token, outputs): one decoder pass with the token of ``token``, post-processed into the predictions ``outputs``
DecoderPass = Tuple[str, Tuple[str, ...]]


def prediction_plan(tasks=ALL, task_token: Optional[str] = None) -> Tuple[DecoderPass, ...]:
    """The prediction contract: the requested tasks -> the decoder passes that produce exactly them.

    Args:
        tasks: The predictions to return ('all', a task name or a sequence of them), in :data:`TASKS` form.
        task_token (str, optional): None (default): each prediction comes from the token of its own task, one
            decoder pass per task after one backbone pass (the paper's evaluation). A task name: that one token
            produces every requested prediction in a single decoder pass (the official evaluation with
            ``MODEL.TEST.TASK``, e.g. PQ, AP and mIoU all from "the task is panoptic").

    Returns:
        tuple[tuple[str, tuple[str, ...]]]: ``(token, outputs)`` per decoder pass; the outputs of all passes are
        exactly ``parse_tasks(tasks)``, each once.
    """
    tasks = parse_tasks(tasks)
    if task_token is None:
        return tuple((task, (task, )) for task in tasks)
    return ((check_task(task_token), tasks), )


def parse_test_cfg(test_cfg: Optional[Mapping]) -> Tuple[Tuple[str, ...], Optional[str]]:
    """``(tasks, task_token)`` of a model's ``test_cfg`` (defaults: all tasks, each from its own token)."""
    test_cfg = test_cfg or {}
    if 'task' in test_cfg:
        raise KeyError(f"model.test_cfg.task={test_cfg['task']!r} was renamed: use test_cfg.tasks=(...) for the "
                       f"predictions and test_cfg.task_token={test_cfg['task']!r} for one token producing them all")
    tasks = parse_tasks(test_cfg.get('tasks', ALL))
    token = test_cfg.get('task_token', None)
    if token is not None:
        try:
            check_task(token)
        except ValueError as e:
            raise ValueError(f'model.test_cfg.task_token: {e}') from None
    return tasks, token


def tokenize(texts: Sequence[str], context_length: int = CONTEXT_LENGTH) -> torch.Tensor:
    """CLIP BPE ids, ``[SOT] + tokens + [EOT]`` zero-padded to ``context_length``: (len(texts), L) int64."""
    from mmseg.utils.tokenizer import tokenize as clip_tokenize  # lazy: keeps `import oneformer` light
    return clip_tokenize(list(texts), context_length=context_length)


@lru_cache(maxsize=None)
def _tokens_of(text: str, context_length: int) -> torch.Tensor:
    return tokenize([text], context_length)[0]


def task_tokens(task: str, context_length: int = CONTEXT_LENGTH) -> torch.Tensor:
    """Token ids of ``"the task is {task}"`` (context_length,), the input of the task encoder."""
    return _tokens_of(TASK_PROMPT.format(check_task(task)), context_length).clone()


def pad_text_tokens(task: str, context_length: int = CONTEXT_LENGTH) -> torch.Tensor:
    """Token ids of the task's pad text (context_length,)."""
    return _tokens_of(PAD_TEXTS[check_task(task)], context_length).clone()


def build_text_list(labels: np.ndarray, class_names: Sequence[str]) -> list:
    """One ``"a photo with a {name}"`` per target, in class-id order (unpadded: the model pads it to its size)."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64).reshape(-1), minlength=len(class_names))
    return [TEXT_TEMPLATE.format(class_names[c]) for c in range(len(class_names)) for _ in range(counts[c])]


def pad_text_list(texts: Sequence[str], task: str, num_texts: int) -> list:
    """Truncate / pad a text list to ``num_texts`` with the task's pad text (the model's side of the contract)."""
    texts = list(texts)[:num_texts]
    return texts + [PAD_TEXTS[check_task(task)]] * (num_texts - len(texts))
