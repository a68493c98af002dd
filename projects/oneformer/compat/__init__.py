"""Every change this project makes to third-party behaviour, applied once by ``import oneformer``.

Each module says which upstream problem it covers and when it can be removed:

* :mod:`.checkpoint` - mmengine's checkpoint loaders under torch's ``weights_only=True`` default (torch >= 2.6);
* :mod:`.panopticapi` - the ``panopticapi`` names mmdet imports, from cityscapesscripts and our PNG codec (not on
  PyPI);
* :mod:`.mmcv_deform_attn` - a scoped choice of mmcv's non-CUDA deformable-attention function (no hook in mmcv);
* :mod:`.mmengine_resume` - a callback after ``IterBasedTrainLoop``'s resume fast-forward (no hook in mmengine).

Nothing else in the package patches third-party code.
"""
from .checkpoint import CheckpointReadError, allow_mmengine_checkpoints, checkpoint_safe_globals
from .mmcv_deform_attn import route_deform_attn
from .mmengine_resume import call_after_fast_forward
from .panopticapi import install_panopticapi_alias

_APPLIED = False


def apply_all() -> None:
    """Apply the import-time fixes (idempotent). :func:`route_deform_attn` acts only inside its context."""
    global _APPLIED
    if not _APPLIED:
        allow_mmengine_checkpoints()
        install_panopticapi_alias()
        _APPLIED = True


__all__ = ['apply_all', 'allow_mmengine_checkpoints', 'call_after_fast_forward', 'checkpoint_safe_globals',
           'CheckpointReadError', 'install_panopticapi_alias', 'route_deform_attn']
