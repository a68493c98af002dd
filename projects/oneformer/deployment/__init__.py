"""Export to ONNX and run the exported graph in ONNX Runtime (docs/deployment.md).

Below ``apis`` in the layering (it imports ``models``' contract, never ``apis``); ``import oneformer`` does not import
it (``onnx`` / ``onnxruntime`` are an optional extra, ``requirements/deploy.txt``). ``OneFormerInferencer`` imports
:class:`OnnxOneFormer` lazily when given ``weights='*.onnx'``; ``oneformer.apis.load_pytorch_model`` loads the
PyTorch side for export and comparison.

* :func:`export_onnx` / ``tools/deployment/pytorch2onnx.py``: detector -> one graph for the three tasks;
* :class:`OnnxOneFormer`: the graph behind the detector's ``predict`` contract (PyTorch pre- and post-processing);
* :func:`read_metadata`: what the file says about itself (classes, thresholds, pre-processing, tasks, config);
* :mod:`.compare` / ``tools/deployment/verify_onnx.py``: graph vs PyTorch;
* :func:`quantize_onnx` (``pytorch2onnx.py --quantize``): int8 graphs through ``onnxruntime.quantization``;
* :class:`OpenVINOSession` / :func:`onnx_to_openvino`: the same graph in OpenVINO (``backend='openvino'``, ``.xml``).
"""
from .deform_attn import deform_attn_gather_onnx, deform_attn_grid_sample
from .export import DEFAULT_OPSET, OneFormerGraph, check_standard_ops, export_onnx
from .metadata import FORMAT, INPUT_NAMES, OUTPUT_NAMES, read_metadata, write_metadata
from .openvino_backend import OpenVINOSession, is_openvino_file, onnx_to_openvino
from .quantize import QUANT_MODES, quantize_onnx
from .runtime import (
    BACKENDS,
    OnnxOneFormer,
    config_from_metadata,
    default_backend,
    is_exported_file,
    is_onnx_file,
    make_session,
)

__all__ = [
    'BACKENDS', 'DEFAULT_OPSET', 'FORMAT', 'INPUT_NAMES', 'OUTPUT_NAMES', 'OneFormerGraph', 'OnnxOneFormer',
    'OpenVINOSession', 'QUANT_MODES', 'check_standard_ops', 'config_from_metadata', 'default_backend',
    'deform_attn_gather_onnx', 'deform_attn_grid_sample', 'export_onnx', 'is_exported_file', 'is_onnx_file',
    'is_openvino_file', 'make_session', 'onnx_to_openvino', 'quantize_onnx', 'read_metadata', 'write_metadata'
]
