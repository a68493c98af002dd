"""Hooks that ``tools/train.py`` / ``tools/test.py`` add by default (registered in mmdet's ``HOOKS``)."""
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .class_check_hook import (
    ClassCountCheckHook,
    check_class_counts,
    class_count_problems,
    config_class_counts,
    model_class_counts,
)
from .log_last_iter_hook import LogLastIterHook
from .rng_state_hook import RNGStateHook, get_rng_state, set_rng_state

__all__ = [
    'AtomicCheckpointHook', 'ClassCountCheckHook', 'LogLastIterHook', 'RNGStateHook', 'check_class_counts',
    'class_count_problems', 'config_class_counts', 'model_class_counts', 'get_rng_state', 'set_rng_state'
]
