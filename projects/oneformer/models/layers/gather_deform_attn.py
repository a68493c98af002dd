"""Multi-scale deformable attention off CUDA: one weighted gather (``F.embedding_bag``) for inference.

mmcv runs its compiled kernel on CUDA and falls back to ``multi_scale_deformable_attn_pytorch`` elsewhere: one
``grid_sample`` per level, a stack of the sampled values and a broadcast multiply-sum with the attention weights,
which materialises (B·heads, C, queries, levels·points) temporaries and dominates the pixel decoder on CPU.
Bilinear sampling with zero padding is a weighted sum of four value rows, so the whole operation is a sum over
levels × points × 4 corners of ``attention weight × bilinear weight × value row``: exactly what
``F.embedding_bag(mode='sum', per_sample_weights=...)`` computes without temporaries. Same function (differences
are float rounding), gradients for values, sampling locations and attention weights through autograd.

Training (gradients needed) uses :func:`deform_attn_per_level`, whose backward is faster than the gather's.

mmcv's ``MultiScaleDeformableAttention`` calls its fallback by module-global name, so routing it here needs the
scoped dispatcher of :func:`oneformer.compat.use_gather_deform_attn` (OneFormer's pixel decoder only).
"""
import torch
import torch.nn.functional as F
from torch import Tensor


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
    # Everything below is elementwise on (B, Q, heads, levels, points) tensors, stacked once at the end: small
    # trailing broadcast dimensions (2 coordinates, 4 corners) make PyTorch's elementwise kernels slow.
    loc_x, loc_y = sampling_locations.unbind(-1)
    px = loc_x * width - 0.5  # pixel coordinates (align_corners=False)
    py = loc_y * height - 0.5
    x0, y0 = px.floor(), py.floor()
    fx, fy = px - x0, py - y0
    x0, y0 = x0.long(), y0.long()
    # bilinear weights of the two neighbours per axis, zero outside the map (zero padding)
    wx0 = (1 - fx) * ((x0 >= 0) & (x0 < width))
    wx1 = fx * ((x0 >= -1) & (x0 < width - 1))
    wy0 = (1 - fy) * ((y0 >= 0) & (y0 < height)) * attention_weights
    wy1 = fy * ((y0 >= -1) & (y0 < height - 1)) * attention_weights
    weights = torch.stack([wy0 * wx0, wy0 * wx1, wy1 * wx0, wy1 * wx1], -1)
    # rows of value.reshape(-1, C): (b * num_value + level start + y * W + x) * heads + h; neighbours outside
    # the map are clamped to any valid row (their weight is 0)
    batch = torch.arange(bs, device=value.device).view(bs, 1, 1, 1, 1)
    head = torch.arange(num_heads, device=value.device).view(1, 1, num_heads, 1, 1)
    base = (batch * num_value + starts) * num_heads + head
    col0 = torch.minimum(x0.clamp(min=0), width - 1) * num_heads
    col1 = torch.minimum((x0 + 1).clamp(min=0), width - 1) * num_heads
    row0 = base + torch.minimum(y0.clamp(min=0), height - 1) * (width * num_heads)
    row1 = base + torch.minimum((y0 + 1).clamp(min=0), height - 1) * (width * num_heads)
    rows = torch.stack([row0 + col0, row0 + col1, row1 + col0, row1 + col1], -1)
    out = F.embedding_bag(
        rows.reshape(bs * num_query * num_heads, -1), value.reshape(-1, channels),
        per_sample_weights=weights.reshape(bs * num_query * num_heads, -1).to(value.dtype), mode='sum')
    return out.view(bs, num_query, num_heads * channels)


def deform_attn_per_level(value: Tensor, value_spatial_shapes: Tensor, sampling_locations: Tensor,
                          attention_weights: Tensor) -> Tensor:
    """mmcv's ``grid_sample`` formulation with the weighted sum done level by level: no stacked
    (B·heads, C, queries, levels·points) copy. Used when gradients are needed, where the gather's backward
    (``embedding_bag``'s sort-based dense gradient) is slower than ``grid_sample``'s, and as the ONNX export's
    formulation (``oneformer.deployment.deform_attn``): the level sizes are read by iterating the shapes tensor,
    never with ``int()``, so under tracing they stay graph values and a dynamic-size graph is right at any size.
    Arguments as :func:`deform_attn_gather`."""
    bs, _, num_heads, channels = value.shape
    _, num_query, _, num_levels, num_points, _ = sampling_locations.shape
    values = value.split([h * w for h, w in value_spatial_shapes], dim=1)
    grids = 2 * sampling_locations - 1
    weights = attention_weights.transpose(1, 2).reshape(bs * num_heads, 1, num_query, num_levels, num_points)
    out = 0
    for level, (h, w) in enumerate(value_spatial_shapes):
        value_l = values[level].flatten(2).transpose(1, 2).reshape(bs * num_heads, channels, h, w)
        grid_l = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)  # (B·heads, queries, points, 2)
        sampled = F.grid_sample(value_l, grid_l, mode='bilinear', padding_mode='zeros', align_corners=False)
        out = out + (sampled * weights[:, :, :, level]).sum(-1)  # (B·heads, C, queries)
    return out.reshape(bs, num_heads * channels, num_query).transpose(1, 2).contiguous()


def deform_attn(value: Tensor, value_spatial_shapes: Tensor, sampling_locations: Tensor,
                attention_weights: Tensor) -> Tensor:
    """The gather when no gradient is needed, the per-level ``grid_sample`` form otherwise."""
    needs_grad = torch.is_grad_enabled() and any(
        t.requires_grad for t in (value, sampling_locations, attention_weights))
    fn = deform_attn_per_level if needs_grad else deform_attn_gather
    return fn(value, value_spatial_shapes, sampling_locations, attention_weights)
