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
"""
from ..models.layers.gather_deform_attn import deform_attn_per_level

#: ``GridSample`` entered the default ONNX domain in opset 16
MIN_OPSET = 16


#: the per-level ``grid_sample`` form of the model's layer (one formulation: it already keeps the level sizes as
#: graph values under tracing), exported as ``GridSample``
deform_attn_grid_sample = deform_attn_per_level
