"""Helpers for every layer and the tools (like ``mmdet.utils``); imports nothing else of the package.

Importing this package loads only the standard library: ``oneformer/__init__.py`` calls
:func:`sleep_idle_threads` before anything imports torch (OpenMP reads its settings when torch loads it), so the
torch-using :mod:`.collect_env` is imported on first use of one of its names.
"""
from importlib import import_module

from .threads import SLEEP_SETTINGS, openmp_already_loaded, sleep_idle_threads

_COLLECT_ENV = ('collect_env', 'cpu_model', 'format_env', 'load_average', 'thread_settings')

__all__ = list(_COLLECT_ENV) + ['SLEEP_SETTINGS', 'openmp_already_loaded', 'sleep_idle_threads']


def __getattr__(name: str):
    if name in _COLLECT_ENV:
        module = import_module('.collect_env', __name__)
        # the import bound the submodule to `collect_env` here; the function takes the name, as an eager
        # `from .collect_env import collect_env` would
        globals().update({n: getattr(module, n) for n in _COLLECT_ENV})
        return globals()[name]
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
