"""Multi-scale deformable attention on CPU as one weighted gather (``F.embedding_bag``).

mmcv runs its compiled kernel on CUDA and falls back to ``multi_scale_deformable_attn_pytorch`` elsewhere: one
``grid_sample`` per level, a stack of the sampled values and a broadcast multiply-sum with the attention weights,
which materialises (B·heads, C, queries, levels·points) temporaries and dominates the pixel decoder on CPU.
Bilinear sampling with zero padding is a weighted sum of four value rows, so the whole operation is a sum over
levels × points × 4 corners of ``attention weight × bilinear weight × value row``: exactly what
``F.embedding_bag(mode='sum', per_sample_weights=...)`` computes without temporaries. Same function (differences
are float rounding), gradients for values, sampling locations and attention weights through autograd.

The replacement is scoped: :func:`cpu_deform_attn` installs a dispatcher over mmcv's module-level function once,
and only code running inside the context manager (OneFormer's pixel decoder) takes the new path; other models in
the same process keep mmcv's stock fallback.
"""
import contextlib
import contextvars
from typing import Iterator

import mmcv.ops.multi_scale_deform_attn as mmcv_msda
import torch
import torch.nn.functional as F
from torch import Tensor

_ENABLED = contextvars.ContextVar('oneformer_cpu_deform_attn', default=False)
_STOCK = mmcv_msda.multi_scale_deformable_attn_pytorch


def deform_attn_gather(value: Tensor, value_spatial_shapes: Tensor, sampling_locations: Tensor,
                       attention_weights: Tensor) -> Tensor:
    """Drop-in for mmcv's ``multi_scale_deformable_attn_pytorch``.

    Args:
        value (Tensor): (B, num_value, heads, C).
        value_spatial_shapes (Tensor): (levels, 2) as (H, W), int64.
        sampling_locations (Tensor): (B, num_query, heads, levels, points, 2), normalised (x, y) in [0, 1].
        attention_weights (Tensor): (B, num_query, heads, levels, points).

    Returns:
        Tensor: (B, num_query, heads * C).
    """
    bs, num_value, num_heads, channels = value.shape
    num_query = sampling_locations.shape[1]
    shapes = value_spatial_shapes.to(device=value.device, dtype=torch.long)
    height, width = shapes[:, 0, None], shapes[:, 1, None]  # (levels, 1): broadcast over points
    areas = height[:, 0] * width[:, 0]
    starts = (areas.cumsum(0) - areas)[:, None]
    # pixel coordinates exactly as grid_sample derives them (align_corners=False) from the grid 2 * loc - 1
    grid = 2 * sampling_locations - 1
    px = ((grid[..., 0] + 1) * width.to(grid) - 1) / 2  # (B, Q, heads, levels, points)
    py = ((grid[..., 1] + 1) * height.to(grid) - 1) / 2
    x0, y0 = px.floor(), py.floor()
    fx, fy = px - x0, py - y0
    x0, y0 = x0.long(), y0.long()
    # the four corners, last dim: (x0, y0), (x1, y0), (x0, y1), (x1, y1)
    xs = torch.stack([x0, x0 + 1, x0, x0 + 1], -1)
    ys = torch.stack([y0, y0, y0 + 1, y0 + 1], -1)
    weights = torch.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], -1)
    inside = (xs >= 0) & (xs < width[..., None]) & (ys >= 0) & (ys < height[..., None])
    weights = torch.where(inside, weights * attention_weights[..., None], weights.new_zeros(()))
    pos = torch.where(inside, starts[..., None] + ys * width[..., None] + xs, xs.new_zeros(()))
    # row of value.reshape(-1, C) holding (batch b, value position pos, head h)
    batch = torch.arange(bs, device=value.device).view(bs, 1, 1, 1, 1, 1)
    head = torch.arange(num_heads, device=value.device).view(1, 1, num_heads, 1, 1, 1)
    rows = (batch * num_value + pos) * num_heads + head
    out = F.embedding_bag(
        rows.reshape(bs * num_query * num_heads, -1), value.reshape(-1, channels),
        per_sample_weights=weights.reshape(bs * num_query * num_heads, -1).to(value.dtype), mode='sum')
    return out.view(bs, num_query, num_heads * channels)


def _dispatch(value: Tensor, value_spatial_shapes: Tensor, sampling_locations: Tensor,
              attention_weights: Tensor) -> Tensor:
    if _ENABLED.get():
        return deform_attn_gather(value, value_spatial_shapes, sampling_locations, attention_weights)
    return _STOCK(value, value_spatial_shapes, sampling_locations, attention_weights)


@contextlib.contextmanager
def cpu_deform_attn(enabled: bool = True) -> Iterator[None]:
    """Within the context, mmcv's non-CUDA deformable attention path uses :func:`deform_attn_gather`."""
    if mmcv_msda.multi_scale_deformable_attn_pytorch is not _dispatch:
        mmcv_msda.multi_scale_deformable_attn_pytorch = _dispatch
    token = _ENABLED.set(enabled)
    try:
        yield
    finally:
        _ENABLED.reset(token)
