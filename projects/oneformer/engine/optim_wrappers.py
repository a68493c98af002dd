"""Optimizer wrappers that clean non-finite gradients before clipping, as the official trainer does.

The official OneFormer trainer (detectron2 ``build_optimizer`` with full-model gradient clipping) replaces NaN
gradients by 0 and +-inf by +-1e5 right before clipping. mmengine's wrappers call ``_clip_grad`` once the gradients
are final (after unscaling under AMP), so the subclasses do the replacement there. Like clipping itself it only
acts when ``clip_grad`` is set; under AMP, steps whose gradients overflowed are still skipped by the loss scaler.

Configs choose them by type: ``optim_wrapper=dict(type='FiniteGradOptimWrapper', ...)``; ``tools/train.py --amp``
switches to ``FiniteGradAmpOptimWrapper``.
"""
import torch
from mmdet.registry import OPTIM_WRAPPERS
from mmengine.optim import AmpOptimWrapper, OptimWrapper


class _FiniteGradMixin:
    """``_clip_grad`` preceded by ``nan_to_num_`` on every gradient (NaN -> 0, +-inf -> +-``grad_posinf``)."""

    grad_posinf: float = 1e5

    def _clip_grad(self) -> None:
        for group in self.optimizer.param_groups:
            for param in group['params']:
                if param.grad is not None:
                    torch.nan_to_num_(param.grad, nan=0.0, posinf=self.grad_posinf, neginf=-self.grad_posinf)
        super()._clip_grad()


@OPTIM_WRAPPERS.register_module()
class FiniteGradOptimWrapper(_FiniteGradMixin, OptimWrapper):
    """:class:`mmengine.optim.OptimWrapper` with non-finite gradients cleaned before clipping.

    Args:
        grad_posinf (float): Value replacing +inf (and minus it for -inf). Defaults to 1e5 (official).
        **kwargs: Arguments of :class:`OptimWrapper`.
    """

    def __init__(self, *args, grad_posinf: float = 1e5, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.grad_posinf = float(grad_posinf)


@OPTIM_WRAPPERS.register_module()
class FiniteGradAmpOptimWrapper(_FiniteGradMixin, AmpOptimWrapper):
    """:class:`mmengine.optim.AmpOptimWrapper` with non-finite gradients cleaned after unscaling, before clipping.

    Args:
        grad_posinf (float): Value replacing +inf (and minus it for -inf). Defaults to 1e5 (official).
        **kwargs: Arguments of :class:`AmpOptimWrapper`.
    """

    def __init__(self, *args, grad_posinf: float = 1e5, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.grad_posinf = float(grad_posinf)


#: the AMP counterpart of each wrapper type (``tools/train.py --amp``)
AMP_WRAPPERS = {'OptimWrapper': 'AmpOptimWrapper', 'FiniteGradOptimWrapper': 'FiniteGradAmpOptimWrapper'}
