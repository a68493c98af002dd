"""Attention of the query transformer: N-1 queries over all H/4 x W/4 pixels, with attention dropout.

mmcv's ``MultiheadAttention`` calls ``nn.MultiheadAttention`` asking for the attention weights, which forces
PyTorch's unfused path. :class:`MemoryEfficientMultiheadAttention` keeps the parameters (and state-dict names) and
computes the same function more cheaply:

* eval: no weights requested, so PyTorch runs ``scaled_dot_product_attention`` (float rounding only);
* training on CPU: :class:`DropoutAttention` draws the dropout mask exactly as ``F.dropout`` does (same random
  stream, same masks) but keeps only a boolean mask for the backward pass (which recomputes the probabilities),
  where autograd keeps probabilities, a float mask and the dropped probabilities: 1/4 instead of 3 tensors of
  (B·heads, N-1, H/4·W/4) floats per layer (0.16 GB each for batch 2 at 512x512);
* training on CUDA: ``scaled_dot_product_attention`` with its fused dropout (flash / memory-efficient kernels;
  dropout masks are random draws either way, from another random stream than the unfused path).

``reference=True`` (constructor argument, attribute, or :func:`use_reference_attention` over a whole model) runs
the stock formulation instead, exactly as ``nn.MultiheadAttention`` with the caller's ``need_weights``: what FLOPs
counters and parity checks need (FlopAnalyzer has no handle for ``scaled_dot_product_attention`` or the lean
autograd function and would count their work as nothing).
"""
import contextlib
import math
from typing import Iterator, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import MultiheadAttention
from mmdet.models.layers import DetrTransformerDecoder, DetrTransformerDecoderLayer
from mmdet.models.layers.transformer.detr_layers import FFN, build_norm_layer
from torch import Tensor


class DropoutAttention(torch.autograd.Function):
    """softmax(q k^T) with dropout p, times v, for (BH, Nq, d) / (BH, Nk, d) tensors (q already scaled).

    Saves q, k, v and the boolean dropout mask; the backward recomputes the probabilities (the same
    deterministic kernels give the same values) chunk by chunk over BH, so no (BH, Nq, Nk) float tensor stays
    alive between forward and backward and the backward's temporaries are a fraction of one.
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type='cpu')
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, p: float) -> Tensor:
        probs = torch.bmm(q, k.transpose(1, 2)).softmax(-1)
        noise = torch.empty_like(probs).bernoulli_(1 - p)  # the draws of F.dropout on CPU
        keep = noise.bool()
        out = torch.bmm(noise.div_(1 - p).mul_(probs), v)
        ctx.p = p
        ctx.save_for_backward(q, k, v, keep)
        return out

    @staticmethod
    @torch.amp.custom_bwd(device_type='cpu')  # recompute under the forward's autocast state
    def backward(ctx, grad_out: Tensor) -> Tuple[Optional[Tensor], ...]:
        q, k, v, keep = ctx.saved_tensors
        grad_q, grad_k, grad_v = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        step = max(1, q.shape[0] // 4)
        for i in range(0, q.shape[0], step):
            s = slice(i, i + step)
            probs = torch.bmm(q[s], k[s].transpose(1, 2)).softmax(-1)
            noise = keep[s].to(probs.dtype).div_(1 - ctx.p)
            torch.bmm((probs * noise).transpose(1, 2), grad_out[s], out=grad_v[s])
            grad_probs = torch.bmm(grad_out[s], v[s].transpose(1, 2)).mul_(noise)
            del noise
            # softmax backward: probs * (grad - <grad, probs>) (public ops only, no private torch API)
            grad_logits = grad_probs.sub_((grad_probs * probs).sum(-1, keepdim=True)).mul_(probs)
            torch.bmm(grad_logits, k[s], out=grad_q[s])
            torch.bmm(grad_logits.transpose(1, 2), q[s], out=grad_k[s])
        return grad_q, grad_k, grad_v, None


class MemoryEfficientMultiheadAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` computing attention without materialised weights in eval (SDPA; no weights are
    returned) and with :class:`DropoutAttention` in CPU training; masks, separate key/value widths or training
    without gradients fall back to the stock implementation.

    Args:
        *args: ``nn.MultiheadAttention``'s arguments.
        reference (bool): run the stock formulation (``nn.MultiheadAttention.forward`` unchanged, attention
            weights as the caller asks). Same parameters either way; the attribute can be flipped at any time
            (:func:`use_reference_attention`). Defaults to False.
        **kwargs: ``nn.MultiheadAttention``'s keyword arguments.
    """

    def __init__(self, *args, reference: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reference = reference

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Optional[Tensor] = None,
                need_weights: bool = True, attn_mask: Optional[Tensor] = None,
                **kwargs) -> Tuple[Tensor, Optional[Tensor]]:
        """Attention of ``query`` over ``key`` / ``value`` (``nn.MultiheadAttention``'s shapes: (L, B, C), or
        (B, L, C) with ``batch_first``); returns (output, attention weights or None)."""
        if self.reference:
            return super().forward(query, key, value, key_padding_mask=key_padding_mask, need_weights=need_weights,
                                   attn_mask=attn_mask, **kwargs)
        lean = (self.training and self.dropout > 0 and torch.is_grad_enabled() and query.device.type == 'cpu'
                and self._qkv_same_embed_dim and self.in_proj_bias is not None and key_padding_mask is None
                and attn_mask is None and not kwargs)
        if not lean:
            if not self.training or query.device.type != 'cpu':
                need_weights = False  # SDPA (on CUDA also in training: fused dropout kernels)
            return super().forward(query, key, value, key_padding_mask=key_padding_mask,
                                   need_weights=need_weights, attn_mask=attn_mask, **kwargs)
        if not self.batch_first:  # mmcv's wrapper hands over (L, B, C)
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        # the projections and head layout of F.multi_head_attention_forward
        b, num_q, dims = query.shape
        heads = self.num_heads
        head_dims = dims // heads
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)

        def split(x: Tensor, w: Tensor, bias: Tensor) -> Tensor:
            x = F.linear(x, w, bias)
            return x.view(b, -1, heads, head_dims).transpose(1, 2).reshape(b * heads, -1, head_dims)

        q = split(query, w_q, b_q) * math.sqrt(1.0 / head_dims)
        out = DropoutAttention.apply(q, split(key, w_k, b_k), split(value, w_v, b_v), self.dropout)
        # (L, B, C) memory layout like the stock output: later dropout draws follow the memory order
        out = self.out_proj(out.transpose(0, 1).reshape(num_q * b, dims)).view(num_q, b, dims)
        return (out.transpose(0, 1) if self.batch_first else out), None


class MemoryEfficientAttentionBlock(MultiheadAttention):
    """mmcv's ``MultiheadAttention`` (residual, projection dropout) around
    :class:`MemoryEfficientMultiheadAttention`; same parameters and state-dict names."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        stock = self.attn
        # Build ours without drawing from the global RNG and take the stock module's initial values, so seeded
        # runs initialise exactly as with mmcv's attention (mmcv builds nn.MultiheadAttention inline, no hook).
        with torch.random.fork_rng(devices=[]):
            attn = MemoryEfficientMultiheadAttention(
                stock.embed_dim, stock.num_heads, dropout=stock.dropout, bias=stock.in_proj_bias is not None,
                add_bias_kv=stock.bias_k is not None, add_zero_attn=stock.add_zero_attn, kdim=stock.kdim,
                vdim=stock.vdim, batch_first=stock.batch_first)
        attn.load_state_dict(stock.state_dict())
        self.attn = attn


class MemoryEfficientDetrDecoderLayer(DetrTransformerDecoderLayer):
    """DETR decoder layer whose self- and cross-attention are :class:`MemoryEfficientAttentionBlock`
    (mmdet's ``_init_layers`` hook, as ``Mask2FormerTransformerDecoderLayer`` does)."""

    def _init_layers(self) -> None:
        self.self_attn = MemoryEfficientAttentionBlock(**self.self_attn_cfg)
        self.cross_attn = MemoryEfficientAttentionBlock(**self.cross_attn_cfg)
        self.embed_dims = self.self_attn.embed_dims
        self.ffn = FFN(**self.ffn_cfg)
        self.norms = nn.ModuleList([build_norm_layer(self.norm_cfg, self.embed_dims)[1] for _ in range(3)])


class MemoryEfficientDetrDecoder(DetrTransformerDecoder):
    """DETR decoder built from :class:`MemoryEfficientDetrDecoderLayer` (mmdet's ``_init_layers`` hook)."""

    def _init_layers(self) -> None:
        self.layers = nn.ModuleList([MemoryEfficientDetrDecoderLayer(**self.layer_cfg)
                                     for _ in range(self.num_layers)])
        self.embed_dims = self.layers[0].embed_dims
        self.post_norm = build_norm_layer(self.post_norm_cfg, self.embed_dims)[1]


@contextlib.contextmanager
def use_reference_attention(model: nn.Module) -> Iterator[int]:
    """Run every :class:`MemoryEfficientMultiheadAttention` in ``model`` as stock ``nn.MultiheadAttention``
    (``reference=True``) inside the block, restoring each module's own setting after it.

    Yields:
        int: how many attention modules were switched (0: the model has none).
    """
    modules = [m for m in model.modules() if isinstance(m, MemoryEfficientMultiheadAttention)]
    saved = [m.reference for m in modules]
    for m in modules:
        m.reference = True
    try:
        yield len(modules)
    finally:
        for m, flag in zip(modules, saved):
            m.reference = flag
