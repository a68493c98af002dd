"""torch >= 2.6 loads with ``weights_only=True``; mmengine 0.10.7 checkpoints hold more than tensors.

mmengine saves its message hub (``HistoryBuffer``, pickled with a ``getattr`` reference to its statistics
methods), numpy scalars / arrays and config dicts. mmengine's checkpoint loaders (``load_from``, ``resume``,
``init_cfg`` Pretrained) call ``torch.load`` without ``weights_only``, so on torch >= 2.6 they fail. We run exactly
those loaders with exactly those types allow-listed; a plain ``torch.load`` elsewhere keeps torch's default.
mmengine registers its loaders in ``CheckpointLoader._schemes`` with no hook to wrap them, hence the re-wrap.

Reading errors (a truncated or foreign file) are re-raised as :class:`CheckpointReadError` naming the file, without
torch's advice to retry with ``weights_only=False`` (wrong for a truncated file, unsafe for a foreign one).

Can go when: mmengine passes ``weights_only=False`` (or saves weights-only-safe checkpoints) in a release that
mmdet 3.x / mmseg 1.x accept.
"""
import functools
import re

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


class CheckpointReadError(RuntimeError):
    """A checkpoint file that cannot be read (truncated, not a checkpoint, or holding objects of unknown types)."""


_UNSUPPORTED_GLOBAL = re.compile(r'Unsupported global: GLOBAL ([\w.]+)')


def describe_load_error(filename, error: BaseException) -> str:
    """What went wrong reading ``filename``, without torch's advice to load with ``weights_only=False``.

    torch reports a truncated or foreign file as an ``OSError`` / ``RuntimeError`` / ``EOFError`` / ``KeyError``
    without the file name, and any unpickling failure under ``weights_only=True`` with the advice to retry with
    ``weights_only=False`` - which can run arbitrary code and does not repair a truncated file.
    """
    text = str(error)
    unsupported = _UNSUPPORTED_GLOBAL.search(text)
    if unsupported:
        name = unsupported.group(1)
        return (f'cannot read checkpoint {filename}: it holds an object of type {name}, which is none of the types '
                'mmengine checkpoints contain (tensors, numbers, numpy arrays, mmengine config dicts and log '
                'buffers), so it is not unpickled (unpickling can run code). If you made this file and trust it, '
                f'allow the type before loading: torch.serialization.add_safe_globals([{name}])')
    # torch's own reason, without its weights_only advice
    if 'WeightsUnpickler error:' in text:
        detail = text.split('WeightsUnpickler error:', 1)[1].split('Check the documentation of torch.load')[0]
    else:
        detail = text.split(' If you are seeing this error')[0]
    detail = ' '.join(detail.split())[:300]
    reason = f'{type(error).__name__}: {detail}' if detail else type(error).__name__
    return (f'cannot read checkpoint {filename}: the file is truncated, damaged or not a PyTorch checkpoint '
            f'({reason}). Write or download it again (an interrupted save or copy leaves such files).')


def _with_checkpoint_globals(loader):
    import torch

    @functools.wraps(loader)
    def wrapped(filename, *args, **kwargs):
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            try:
                return loader(filename, *args, **kwargs)
            except (FileNotFoundError, MemoryError):  # mmengine names a missing file itself
                raise
            except Exception as e:  # torch's errors for broken files name neither the file nor the cause
                raise CheckpointReadError(describe_load_error(filename, e)) from e

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
