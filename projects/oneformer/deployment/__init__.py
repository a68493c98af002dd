"""Export to ONNX and run the exported graph in ONNX Runtime (docs/deployment.md).

The top layer of the package: it may import ``apis`` and ``models``; ``import oneformer`` does not import it
(``onnx`` / ``onnxruntime`` are an optional extra, ``requirements/deploy.txt``). ``OneFormerInferencer`` imports
:class:`OnnxOneFormer` lazily when given ``weights='*.onnx'``.

* :func:`export_onnx` / ``tools/deployment/pytorch2onnx.py``: detector -> one graph for the three tasks;
* :class:`OnnxOneFormer`: the graph behind the detector's ``predict`` contract (PyTorch pre- and post-processing);
* :func:`read_metadata`: what the file says about itself (classes, thresholds, pre-processing, tasks, config);
* :mod:`.compare` / ``tools/deployment/verify_onnx.py``: graph vs PyTorch.
"""
from .deform_attn import deform_attn_grid_sample
from .export import DEFAULT_OPSET, OneFormerGraph, check_standard_ops, export_onnx
from .metadata import FORMAT, INPUT_NAMES, OUTPUT_NAMES, read_metadata, write_metadata
from .runtime import OnnxOneFormer, config_from_metadata, is_onnx_file, make_session

__all__ = [
    'DEFAULT_OPSET', 'FORMAT', 'INPUT_NAMES', 'OUTPUT_NAMES', 'OneFormerGraph', 'OnnxOneFormer', 'check_standard_ops',
    'config_from_metadata', 'deform_attn_grid_sample', 'export_onnx', 'is_onnx_file', 'load_pytorch_model',
    'make_session', 'read_metadata', 'write_metadata'
]


def load_pytorch_model(config: str, checkpoint: str, device: str = 'cpu'):
    """The PyTorch model of ``config`` + ``checkpoint`` with its ``dataset_meta`` (class names from the
    checkpoint, else the config), loaded as ``OneFormerInferencer`` loads it. Returns ``(model, cfg)``."""
    from ..apis import OneFormerInferencer
    if is_onnx_file(checkpoint):
        raise ValueError(f'{checkpoint} is an ONNX file: the PyTorch model needs the .pth checkpoint')
    inferencer = OneFormerInferencer(config, weights=checkpoint, device=device)
    return inferencer.model, inferencer.cfg
