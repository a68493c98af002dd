"""Multi-scale deformable attention in standard ONNX operators, for export.

mmcv's ``MultiScaleDeformableAttention`` exports its CUDA kernel as a custom operator (``mmcv::`` domain) that stock
ONNX Runtime cannot run, so the export traces its non-CUDA fallback, routed here by
:func:`oneformer.compat.route_deform_attn`. Neither of the project's inference fallbacks suits a graph:

* ``deform_attn_gather`` ends in ``F.embedding_bag``, which the TorchScript exporter writes as an ONNX ``Loop``
  (one iteration per bag: slow);
* ``deform_attn_per_level`` reads the level sizes with ``int()``: a traced graph would keep the export size as
  constants, and a ``--dynamic`` graph would be wrong at any other size.

:func:`deform_attn_grid_sample` is the per-level ``grid_sample`` form with the level sizes kept as tensors (traced as
graph values: any input size works). It exports to ``GridSample`` (ONNX opset >= 16), which ONNX Runtime's CPU
provider runs; measured on the R50 model's encoder shapes (512x512 input) it beat a ``Gather`` + ``MatMul`` /
``ReduceSum`` formulation of the same bilinear sum in ONNX Runtime (docs/deployment.md).
"""
import torch.nn.functional as F
from torch import Tensor

#: ``GridSample`` entered the default ONNX domain in opset 16
MIN_OPSET = 16


def deform_attn_grid_sample(value: Tensor, value_spatial_shapes: Tensor, sampling_locations: Tensor,
                            attention_weights: Tensor) -> Tensor:
    """Drop-in for mmcv's ``multi_scale_deformable_attn_pytorch`` that traces with dynamic level sizes.

    The weighted sum is accumulated level by level (no stacked (B*heads, C, queries, levels*points) copy, as
    ``deform_attn_per_level``).

    Args:
        value (Tensor): (B, num_value, heads, C).
        value_spatial_shapes (Tensor): (levels, 2) as (H, W).
        sampling_locations (Tensor): (B, num_query, heads, levels, points, 2), normalised (x, y) in [0, 1].
        attention_weights (Tensor): (B, num_query, heads, levels, points).

    Returns:
        Tensor: (B, num_query, heads * C).
    """
    bs, _, num_heads, channels = value.shape
    _, num_query, _, num_levels, num_points, _ = sampling_locations.shape
    # Iterating the shapes tensor (never int()) keeps the sizes as graph values under tracing.
    values = value.split([h * w for h, w in value_spatial_shapes], dim=1)
    grids = 2 * sampling_locations - 1
    weights = attention_weights.transpose(1, 2).reshape(bs * num_heads, 1, num_query, num_levels, num_points)
    out = 0
    for level, (h, w) in enumerate(value_spatial_shapes):
        value_l = values[level].flatten(2).transpose(1, 2).reshape(bs * num_heads, channels, h, w)
        grid_l = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)  # (B*heads, queries, points, 2)
        sampled = F.grid_sample(value_l, grid_l, mode='bilinear', padding_mode='zeros', align_corners=False)
        out = out + (sampled * weights[:, :, :, level]).sum(-1)  # (B*heads, C, queries)
    return out.reshape(bs, num_heads * channels, num_query).transpose(1, 2).contiguous()
