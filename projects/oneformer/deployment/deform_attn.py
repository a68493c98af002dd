"""Multi-scale deformable attention in standard ONNX operators, for export.

mmcv's ``MultiScaleDeformableAttention`` exports its CUDA kernel as a custom operator (``mmcv::`` domain) that stock
ONNX Runtime cannot run, so the export traces its non-CUDA fallback, routed here by
:func:`oneformer.compat.route_deform_attn`. The model's inference gather (``deform_attn_gather``) ends in
``F.embedding_bag``, which the TorchScript exporter writes as an ONNX ``Loop`` (one iteration per bag: slow).

:func:`deform_attn_grid_sample` is the model's own per-level ``grid_sample`` form (``deform_attn_per_level``, one
formulation for training and export), which keeps the level sizes as tensors (traced as graph values: any input
size works). It exports to ``GridSample`` (ONNX opset >= 16), which ONNX Runtime's CPU provider runs; measured on
the R50 model's encoder shapes (512x512 input) it beat a ``Gather`` + ``MatMul`` / ``ReduceSum`` formulation of the
same bilinear sum in ONNX Runtime (docs/deployment.md).

:func:`deform_attn_gather_onnx` is the eager path's weighted gather (``deform_attn_gather``: four bilinear corners
per point, zero padding as zero weights) in stock operators: one large ``Gather`` of per-level corner-table rows
and a batched ``MatMul`` with the weights. ``export_onnx(deform_attn=...)`` picks either form (:data:`DEFORM_ATTN`);
both compute the same function (float rounding aside, tested).
"""
from typing import Callable, Dict

import torch
from torch import Tensor

from ..models.layers.gather_deform_attn import deform_attn_per_level

#: ``GridSample`` entered the default ONNX domain in opset 16
MIN_OPSET = 16


#: the per-level ``grid_sample`` form of the model's layer (one formulation: it already keeps the level sizes as
#: graph values under tracing), exported as ``GridSample``
deform_attn_grid_sample = deform_attn_per_level


def deform_attn_gather_onnx(value: Tensor, value_spatial_shapes: Tensor, sampling_locations: Tensor,
                            attention_weights: Tensor) -> Tensor:
    """The bilinear sampling and weighted sum as one ``Gather`` + one batched ``MatMul`` (arguments and result as
    :func:`deform_attn_grid_sample`; level sizes stay graph values).

    Bilinear sampling with zero padding is a weighted sum of the four neighbouring value rows, the weights zero for
    neighbours outside the level; the attention weight multiplies in. The four neighbours of a point are one row of
    a corner table built per level (row ``j``: the values at positions ``j``, ``j + 1``, ``j + W``, ``j + W + 1``
    side by side, for ``j`` = ``y0 * W + x0`` with ``x0, y0 >= -1``), so the large gather fetches one (4C) row per
    point instead of four C rows. Positions outside the level are clamped into it: their weight is zero.
    """
    bs, num_value, num_heads, channels = value.shape
    num_query = sampling_locations.shape[1]
    shapes = value_spatial_shapes.to(torch.long)
    height, width = shapes[:, 0, None], shapes[:, 1, None]  # (levels, 1): broadcast over points
    loc_x, loc_y = sampling_locations.unbind(-1)
    px = loc_x * width.to(loc_x.dtype) - 0.5  # pixel coordinates (align_corners=False)
    py = loc_y * height.to(loc_y.dtype) - 0.5
    x0f, y0f = px.floor(), py.floor()
    fx, fy = px - x0f, py - y0f
    x0, y0 = x0f.long(), y0f.long()
    dtype = attention_weights.dtype
    wx0 = (1 - fx) * ((x0 >= 0) & (x0 < width)).to(dtype)
    wx1 = fx * ((x0 >= -1) & (x0 < width - 1)).to(dtype)
    wy0 = (1 - fy) * ((y0 >= 0) & (y0 < height)).to(dtype) * attention_weights
    wy1 = fy * ((y0 >= -1) & (y0 < height - 1)).to(dtype) * attention_weights
    # (B, Q, heads, levels, points, 4) -> (B*Q*heads, 1, levels*points*4), corners in the table's order
    weights = torch.stack([wy0 * wx0, wy0 * wx1, wy1 * wx0, wy1 * wx1], -1).reshape(bs * num_query * num_heads, 1, -1)
    # corner table per level: (B*heads, H*W + W + 1, 4C); row j + W + 1 for the corner (x0, y0), j = y0 * W + x0
    rows = value.permute(0, 2, 1, 3).reshape(bs * num_heads, num_value, channels)
    areas = shapes[:, 0] * shapes[:, 1]
    table_rows = areas + shapes[:, 1] + 1
    tables = []
    for level, (h, w) in enumerate(shapes):  # iterating the tensor keeps the sizes graph values under tracing
        start = areas[:level].sum()
        j = torch.arange(table_rows[level]) - (w + 1)
        tables.append(torch.cat([rows.index_select(1, start + torch.minimum(k.clamp(min=0), h * w - 1))
                                 for k in (j, j + 1, j + w, j + w + 1)], -1))
    table = torch.cat(tables, 1)  # (B*heads, sum of rows, 4C)
    table_starts = (table_rows.cumsum(0) - table_rows)[:, None]
    batch_head = (torch.arange(bs).view(bs, 1, 1, 1, 1) * num_heads
                  + torch.arange(num_heads).view(1, 1, num_heads, 1, 1)) * table.shape[1]
    col = torch.minimum(x0.clamp(min=-1), width - 1)
    row = torch.minimum(y0.clamp(min=-1), height - 1)
    index = (batch_head + table_starts + row * width + col + width + 1).reshape(-1)
    gathered = table.reshape(-1, 4 * channels)[index].reshape(bs * num_query * num_heads, -1, channels)
    return torch.matmul(weights, gathered).reshape(bs, num_query, num_heads * channels)


#: the export forms of the deformable attention, by the name ``export_onnx(deform_attn=...)`` and the file's
#: ``deform_attn`` metadata use
DEFORM_ATTN: Dict[str, Callable] = dict(grid_sample=deform_attn_grid_sample, gather=deform_attn_gather_onnx)
