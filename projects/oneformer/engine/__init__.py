"""Training engine pieces: optimizer constructor and wrappers (registered in mmdet's registries), and the config
edits of ``tools/train.py`` / ``tools/test.py``."""
from .hooks import AtomicCheckpointHook, ClassCountCheckHook, LogLastIterHook, RNGStateHook
from .layer_decay import LayerDecayOptimWrapperConstructor
from .optim_constructor import OneFormerOptimWrapperConstructor
from .optim_wrappers import AMP_WRAPPERS, FiniteGradAmpOptimWrapper, FiniteGradOptimWrapper
from .runner_config import (
    add_default_hooks,
    add_summary_hook,
    metric_task,
    select_task_metrics,
    set_test_tasks,
    setup_test_cfg,
    setup_train_cfg,
)

__all__ = [
    'OneFormerOptimWrapperConstructor', 'LayerDecayOptimWrapperConstructor',
    'FiniteGradOptimWrapper', 'FiniteGradAmpOptimWrapper', 'AMP_WRAPPERS',
    'add_summary_hook', 'metric_task', 'select_task_metrics', 'set_test_tasks', 'setup_test_cfg', 'setup_train_cfg',
    'add_default_hooks', 'AtomicCheckpointHook', 'ClassCountCheckHook', 'LogLastIterHook', 'RNGStateHook'
]
