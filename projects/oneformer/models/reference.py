"""The plain formulation of a whole model: what FLOPs counters and parity checks should see.

Two parts of the model run a cheaper implementation of the same function, each behind a supported switch:

* the query transformer's attention (:class:`~oneformer.models.layers.memory_efficient_attention.
  MemoryEfficientMultiheadAttention`, ``reference``): SDPA / a lean autograd function -> stock
  ``nn.MultiheadAttention`` (the attention product as two ``bmm``, which FlopAnalyzer counts);
* the pixel decoder's deformable attention off CUDA (:class:`~oneformer.models.dense_heads.OneFormerHead`,
  ``fast_cpu_deform_attn``): one weighted gather (``embedding_bag``, no FlopAnalyzer handle) -> mmcv's
  ``grid_sample`` fallback (skipped by FlopAnalyzer on every model alike).
"""
import contextlib
from typing import Dict, Iterator

import torch.nn as nn

from .dense_heads import OneFormerHead
from .layers.memory_efficient_attention import use_reference_attention


@contextlib.contextmanager
def reference_formulation(model: nn.Module) -> Iterator[Dict[str, int]]:
    """Inside the block every switchable part of ``model`` runs its plain formulation; each module's own
    setting is restored after it. Models without such parts (mmdet's Mask2Former) pass through unchanged.

    Yields:
        dict: ``attention`` (attention modules switched) and ``deform_attn_heads`` (heads switched to mmcv's
        deformable-attention fallback).
    """
    heads = [m for m in model.modules() if isinstance(m, OneFormerHead)]
    saved = [h.fast_cpu_deform_attn for h in heads]
    for h in heads:
        h.fast_cpu_deform_attn = False
    try:
        with use_reference_attention(model) as count:
            yield dict(attention=count, deform_attn_heads=len(heads))
    finally:
        for h, flag in zip(heads, saved):
            h.fast_cpu_deform_attn = flag
