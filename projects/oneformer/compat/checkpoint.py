"""torch >= 2.6 loads with ``weights_only=True``; mmengine 0.10.7 checkpoints hold more than tensors.

mmengine saves its message hub (``HistoryBuffer``, pickled with a ``getattr`` reference to its statistics
methods), numpy scalars / arrays and config dicts. mmengine's checkpoint loaders (``load_from``, ``resume``,
``init_cfg`` Pretrained) call ``torch.load`` without ``weights_only``, so on torch >= 2.6 they fail. We run exactly
those loaders with exactly those types allow-listed; a plain ``torch.load`` elsewhere keeps torch's default.
mmengine registers its loaders in ``CheckpointLoader._schemes`` with no hook to wrap them, hence the re-wrap.

Can go when: mmengine passes ``weights_only=False`` (or saves weights-only-safe checkpoints) in a release that
mmdet 3.x / mmseg 1.x accept.
"""
import functools

import numpy as np


def checkpoint_safe_globals() -> list:
    """Types mmengine 0.10.7 writes into checkpoints besides tensors and builtins."""
    from mmengine.config import ConfigDict
    from mmengine.logging.history_buffer import HistoryBuffer

    core = getattr(np, '_core', None) or np.core  # numpy 2 moved np.core to np._core
    safe = [
        HistoryBuffer, ConfigDict, getattr,  # HistoryBuffer's state refers to its methods via getattr
        bytes,  # numpy pickles array buffers as bytes
        core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype,
    ]
    # numpy >= 1.25 pickles dtypes as instances of per-type classes (np.dtypes.Float64DType, ...)
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        safe += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return safe


def _with_checkpoint_globals(loader):
    import torch

    @functools.wraps(loader)
    def wrapped(*args, **kwargs):
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return loader(*args, **kwargs)

    wrapped._oneformer_safe = True
    return wrapped


def allow_mmengine_checkpoints() -> None:
    """Let mmengine's checkpoint loaders read mmengine checkpoints under ``weights_only=True``."""
    import torch
    if not hasattr(torch.serialization, 'safe_globals'):  # torch < 2.5: weights_only is off by default
        return
    from mmengine.runner.checkpoint import CheckpointLoader
    for prefix, loader in list(CheckpointLoader._schemes.items()):
        if not getattr(loader, '_oneformer_safe', False):
            CheckpointLoader._schemes[prefix] = _with_checkpoint_globals(loader)
