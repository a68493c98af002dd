"""Training options for large backbones that the backbones themselves may not offer: freezing, activation
checkpointing of the blocks of a plain ViT."""
import functools

import torch
import torch.utils.checkpoint as cp
from torch import nn

# where mmpretrain's plain ViTs keep their transformer blocks
BLOCK_LISTS = ('layers', 'blocks')


def freeze(module: nn.Module) -> None:
    """No gradient for any parameter of ``module`` (keeping it in eval mode is the owner's ``train()``)."""
    module.eval()
    for param in module.parameters():
        param.requires_grad = False


@functools.lru_cache(maxsize=None)
def _checkpointed_class(cls: type) -> type:
    """``cls`` with a forward that is recomputed in the backward pass. A subclass rather than a wrapper module:
    parameter names (checkpoints) stay the same, and unlike a patched bound method it survives ``deepcopy``."""

    def forward(self, *args, **kwargs):
        # only where a backward pass will need the activations; eval and no-grad runs are left as they are
        if self.training and torch.is_grad_enabled():
            return cp.checkpoint(super(sub, self).forward, *args, use_reentrant=False, **kwargs)
        return super(sub, self).forward(*args, **kwargs)

    sub = type(f'Checkpointed{cls.__name__}', (cls, ), dict(forward=forward, __module__=cls.__module__))
    return sub


def checkpoint_blocks(backbone: nn.Module) -> int:
    """Recompute every block of ``backbone.layers`` (or ``.blocks``) in the backward pass instead of storing its
    activations (``torch.utils.checkpoint``, non-reentrant): the same values and gradients for less memory.

    Returns:
        int: the number of blocks wrapped.

    Raises:
        TypeError: when the backbone keeps no list of blocks under those names.
    """
    for name in BLOCK_LISTS:
        blocks = getattr(backbone, name, None)
        if isinstance(blocks, (nn.ModuleList, nn.Sequential)) and len(blocks):
            for block in blocks:
                if not type(block).__name__.startswith('Checkpointed'):
                    block.__class__ = _checkpointed_class(type(block))
            return len(blocks)
    raise TypeError(f'backbone_checkpoint=True needs the backbone to keep its blocks in .layers or .blocks; '
                    f'{type(backbone).__name__} has neither: use its own with_cp option if it has one')
