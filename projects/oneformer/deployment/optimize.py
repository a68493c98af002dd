"""ONNX Runtime's graph optimisations, applied offline: the optimised graph is saved and checked to stay in the
default ONNX domain (``basic`` level: constant folding, redundant-node elimination, Conv+BatchNorm/Add/Mul fusions).

Used before quantization (``onnxruntime.quantization`` needs constant weights as initialisers; the TorchScript
exporter leaves some behind ``Identity`` / constant sub-graphs) and by ``pytorch2onnx.py --optimize``. ONNX Runtime
applies the same optimisations when it loads a graph, so the gain at run time is the saved load time only; the
``extended`` level would add ``com.microsoft`` fused operators, which other runtimes cannot run, and is not offered.
"""
import os.path as osp

from .export import check_standard_ops
from .metadata import read_metadata, write_metadata
from .runtime import import_onnxruntime


def optimize_onnx(src: str, dst: str) -> str:
    """Write ``src`` after ONNX Runtime's basic graph optimisations to ``dst`` (metadata kept). Returns ``dst``.

    Raises:
        RuntimeError: the optimised graph has operators outside the default domain (then ``dst`` is not kept).
    """
    if osp.abspath(src) == osp.abspath(dst):
        raise ValueError(f'optimize_onnx: source and destination are the same file ({src})')
    meta = read_metadata(src)
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = dst
    ort.InferenceSession(src, options, providers=['CPUExecutionProvider'])
    try:
        check_standard_ops(dst)
    except RuntimeError:
        import os
        os.remove(dst)
        raise
    write_metadata(dst, meta)
    return dst
