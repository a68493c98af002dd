"""Make the pinned OpenMMLab stack work on torch 2.13 / numpy 2 without panopticapi.

Everything here is applied once by ``import oneformer`` (see :func:`apply_all`) and is narrow on purpose:

* ``torch.load`` defaults to ``weights_only=True`` since torch 2.6; mmengine 0.10.7 saves its message hub
  (``HistoryBuffer``, pickled with a ``getattr`` reference to its statistics methods), numpy scalars/arrays and
  config dicts in checkpoints. mmengine's checkpoint loaders (``load_from``, ``resume``, ``init_cfg``
  Pretrained) run with exactly those types allow-listed; a plain ``torch.load`` elsewhere keeps the default.
* ``panopticapi`` is not on PyPI. mmdet's panoptic loader, metric and inferencer import it for ``rgb2id``,
  ``id2rgb``, ``PQStat``, ``OFFSET``, ``VOID``. cityscapesscripts ships the same COCO panoptic protocol, so we expose
  its implementation under the ``panopticapi`` names (only when the real package is absent).
"""
import importlib
import sys
import types

import numpy as np


def id2rgb(id_map):
    """Inverse of ``rgb2id``: id = R + 256 G + 256^2 B (COCO panoptic PNG encoding)."""
    if isinstance(id_map, np.ndarray):
        id_map = id_map.copy()
        rgb = np.zeros((*id_map.shape, 3), dtype=np.uint8)
        for i in range(3):
            rgb[..., i] = id_map % 256
            id_map //= 256
        return rgb
    color = []
    for _ in range(3):
        color.append(id_map % 256)
        id_map //= 256
    return color


def install_panopticapi_alias() -> bool:
    """Expose cityscapesscripts' COCO-panoptic implementation as ``panopticapi`` if that is missing.

    Returns True if the alias was installed (False when the real panopticapi is importable).
    """
    try:
        spec = importlib.util.find_spec('panopticapi')
    except ValueError:  # already in sys.modules with no spec: our alias
        return False
    if spec is not None:
        return False
    from cityscapesscripts.evaluation import evalPanopticSemanticLabeling as cs_pq

    pkg = types.ModuleType('panopticapi')
    pkg.__path__ = []  # a package, so `from panopticapi import utils` works
    pkg.__doc__ = 'Alias of cityscapesscripts.evaluation.evalPanopticSemanticLabeling (installed by oneformer).'
    utils = types.ModuleType('panopticapi.utils')
    utils.rgb2id = cs_pq.rgb2id
    utils.id2rgb = id2rgb
    evaluation = types.ModuleType('panopticapi.evaluation')
    for name in ('OFFSET', 'VOID', 'PQStat', 'PQStatCat', 'pq_compute_single_core', 'pq_compute_multi_core'):
        setattr(evaluation, name, getattr(cs_pq, name))
    pkg.utils, pkg.evaluation = utils, evaluation
    sys.modules.update({'panopticapi': pkg, 'panopticapi.utils': utils, 'panopticapi.evaluation': evaluation})
    _patch_imported_mmdet_modules()
    return True


def _patch_imported_mmdet_modules() -> None:
    """mmdet modules imported before the alias cached ``None`` for panopticapi names: fill them in."""
    evaluation = sys.modules['panopticapi.evaluation']
    utils = sys.modules['panopticapi.utils']
    patches = {
        'mmdet.evaluation.functional.panoptic_utils': dict(
            PQStat=evaluation.PQStat, rgb2id=utils.rgb2id, VOID=evaluation.VOID, OFFSET=evaluation.OFFSET),
        'mmdet.evaluation.metrics.coco_panoptic_metric': dict(
            panopticapi=sys.modules['panopticapi'], PQStat=evaluation.PQStat, VOID=evaluation.VOID,
            id2rgb=utils.id2rgb, rgb2id=utils.rgb2id),
        'mmdet.apis.det_inferencer': dict(VOID=evaluation.VOID, id2rgb=utils.id2rgb),
    }
    for mod_name, attrs in patches.items():
        mod = sys.modules.get(mod_name)
        if mod is not None:
            for k, v in attrs.items():
                setattr(mod, k, v)


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
    import functools

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


def apply_all() -> None:
    allow_mmengine_checkpoints()
    install_panopticapi_alias()
