"""``torch.compile`` for inference: the network's three dense parts, not the post-processing.

The backbone, the pixel decoder and the task-conditioned decoder (``OneFormerHead.forward_decoder``) are compiled;
the fusion head's post-processing (data-dependent shapes: segments, top-k instances) stays eager, where graph
breaks would cost more than they save. mmengine's ``compile`` runner option compiles ``train_step`` for training
only; this is its counterpart for ``tools/test.py --compile`` and ``OneFormerInferencer(..., compile=True)``.
The compiled functions compute what the eager ones do (tested); the first call at each new input size compiles.
"""
from typing import Any

import torch
from torch import nn


def compile_network(model: nn.Module, **compile_kwargs: Any) -> nn.Module:
    """Compile ``model``'s backbone, pixel decoder and decoder in place (``torch.compile(**compile_kwargs)``).

    Args:
        model (nn.Module): A OneFormer detector (or a DDP wrapper of one).

    Returns:
        nn.Module: ``model`` itself.

    Raises:
        TypeError: ``model`` is not a OneFormer detector (an exported graph has nothing to compile).
    """
    inner = getattr(model, 'module', model)
    head = getattr(inner, 'panoptic_head', None)
    if head is None or not hasattr(inner, 'backbone') or not hasattr(head, 'forward_decoder'):
        raise TypeError(f'compile: {type(inner).__name__} is not a OneFormer detector with a PyTorch network')
    if getattr(inner, '_oneformer_compiled', False):
        return model
    inner.backbone = torch.compile(inner.backbone, **compile_kwargs)
    head.pixel_decoder = torch.compile(head.pixel_decoder, **compile_kwargs)
    # an instance attribute shadows the method: forward_pixel / predict_by_pixel_feats call the compiled one
    head.forward_decoder = torch.compile(head.forward_decoder, **compile_kwargs)
    inner._oneformer_compiled = True
    return model
