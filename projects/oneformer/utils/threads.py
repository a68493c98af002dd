"""Idle OpenMP threads sleep instead of spinning: the setting every entry point needs on a shared CPU.

torch's CPU kernels run on an OpenMP thread pool. By default an OpenMP thread that finishes its share of a kernel
spins (busy-waits) for a while before it sleeps, so that the next parallel region starts a few microseconds
sooner. On a machine shared with other CPU-heavy processes the spinning threads take the cores the other
processes' threads need to finish *their* regions, and every process slows down: measured here, a 2-thread
training step took 50-80 s instead of 0.6-0.9 s next to other torch jobs, and ``make demo`` 28 min instead of 3.5
next to two of them (issue 18). With sleeping idle threads the same runs are only as slow as the shared cores
make them; on an idle machine the two policies give about the same times.

The OpenMP runtimes read their settings from the environment once, when torch loads them (``import torch``), so
:func:`sleep_idle_threads` must run before that: ``oneformer/__init__.py`` calls it first, and every entry point
(``tools/train.py``, ``tools/test.py``, ``tools/demo.py``, ``demo/image_demo.py``, the benchmark scripts) imports
``oneformer`` before torch. Standard library only: this module must not import torch (nor anything that does).
"""
import os
import sys
from typing import Dict, MutableMapping, Optional

#: GNU libgomp (torch's Linux wheels) reads ``OMP_WAIT_POLICY``; Intel's libiomp5 (MKL / conda builds) reads
#: ``KMP_BLOCKTIME`` (ms an idle thread spins) as well; ``GOMP_SPINCOUNT`` is libgomp's own spin count.
SLEEP_SETTINGS: Dict[str, str] = {'OMP_WAIT_POLICY': 'PASSIVE', 'KMP_BLOCKTIME': '0'}
_USER_KEYS = ('OMP_WAIT_POLICY', 'KMP_BLOCKTIME', 'GOMP_SPINCOUNT')


def sleep_idle_threads(environ: Optional[MutableMapping[str, str]] = None) -> Dict[str, str]:
    """Set :data:`SLEEP_SETTINGS` in ``environ`` (default ``os.environ``) unless the user chose a wait policy.

    A user's own setting wins: if any of ``OMP_WAIT_POLICY``, ``KMP_BLOCKTIME`` or ``GOMP_SPINCOUNT`` is set,
    nothing is changed (``OMP_WAIT_POLICY=ACTIVE`` restores the spinning default). Processes started later
    (data-loader workers, ``torchrun`` ranks, subprocesses) inherit the setting.

    Args:
        environ: the environment to edit; ``os.environ`` (the running process) by default.

    Returns:
        dict: the variables this call set (empty if the user had set one, or if they were already set).
    """
    environ = os.environ if environ is None else environ
    if any(key in environ for key in _USER_KEYS):
        return {}
    environ.update(SLEEP_SETTINGS)
    return dict(SLEEP_SETTINGS)


def openmp_already_loaded() -> bool:
    """Whether torch is already imported in this process (its OpenMP runtime has then read its settings, and
    :func:`sleep_idle_threads` only affects the processes started from now on)."""
    return 'torch' in sys.modules
