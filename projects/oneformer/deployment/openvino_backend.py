"""Run an exported graph in OpenVINO (CPU) behind the small part of ONNX Runtime's session interface that
:class:`~oneformer.deployment.OnnxOneFormer` uses (``get_inputs`` / ``get_outputs`` / ``run``).

OpenVINO reads the ``.onnx`` file directly, or an IR (``.xml`` + ``.bin``) written by :func:`onnx_to_openvino`,
which keeps the file's metadata in the IR's ``rt_info`` (under ``oneformer``), so an ``.xml`` is as
self-contained as the ``.onnx``. Inference precision is pinned to f32: on CPUs with bf16 / AMX units OpenVINO
would otherwise run in bf16, whose outputs differ from ONNX Runtime's and PyTorch's by far more than rounding.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

#: the ``rt_info`` section of an IR that holds the exported file's metadata
RT_INFO_KEY = 'oneformer'


def import_openvino():
    """``openvino``, or an ``ImportError`` that says how to install it (optional extra)."""
    try:
        import openvino
    except ImportError as e:
        raise ImportError('running a model with OpenVINO needs openvino: pip install -r requirements/deploy.txt') from e
    return openvino


def is_openvino_file(path) -> bool:
    """Whether ``path`` names an OpenVINO IR (``.xml``)."""
    return isinstance(path, str) and osp.splitext(path)[1].lower() == '.xml'


class _Port:
    """An input / output as ONNX Runtime describes it: ``name`` and ``shape`` (ints; strings where dynamic)."""

    def __init__(self, port, index: int) -> None:
        self.name = port.get_any_name()
        self.shape = [d.get_length() if d.is_static else f'dim{index}_{i}'
                      for i, d in enumerate(port.get_partial_shape())]


class OpenVINOSession:
    """An OpenVINO CPU model with ``get_inputs()``, ``get_outputs()`` and ``run(output_names, feed)``.

    Args:
        model_file (str): ``.onnx`` or ``.xml``.
        threads (int, optional): Inference threads (None: OpenVINO's default).
        device (str): OpenVINO device name.
    """

    def __init__(self, model_file: str, threads: Optional[int] = None, device: str = 'CPU') -> None:
        ov = import_openvino()
        core = ov.Core()
        config = {'INFERENCE_PRECISION_HINT': 'f32', 'PERFORMANCE_HINT': 'LATENCY'}
        if threads is not None:
            if threads < 1:
                raise ValueError(f'threads must be >= 1, got {threads}')
            config['INFERENCE_NUM_THREADS'] = int(threads)
        self.compiled = core.compile_model(core.read_model(model_file), device, config)
        self.request = self.compiled.create_infer_request()

    def get_inputs(self) -> List[_Port]:
        return [_Port(p, i) for i, p in enumerate(self.compiled.inputs)]

    def get_outputs(self) -> List[_Port]:
        return [_Port(p, i) for i, p in enumerate(self.compiled.outputs)]

    def run(self, output_names: Optional[Sequence[str]], feed: Dict[str, np.ndarray]) -> List[np.ndarray]:
        results = self.request.infer({k: np.ascontiguousarray(v) for k, v in feed.items()})
        names = output_names or [p.get_any_name() for p in self.compiled.outputs]
        # copies: the request's output buffers are reused by the next inference
        return [np.array(results[self.compiled.output(n)]) for n in names]


def onnx_to_openvino(onnx_file: str, xml_file: str) -> str:
    """Convert an exported ``.onnx`` into an OpenVINO IR (``.xml`` + ``.bin``, weights kept in f32) carrying the
    same metadata. Returns ``xml_file``."""
    from .metadata import read_metadata
    if not is_openvino_file(xml_file):
        raise ValueError(f'the OpenVINO IR file must end with .xml: {xml_file}')
    meta = read_metadata(onnx_file)
    ov = import_openvino()
    model = ov.convert_model(onnx_file)
    for key, value in meta.items():
        model.set_rt_info(json.dumps(value), [RT_INFO_KEY, key])
    ov.save_model(model, xml_file, compress_to_fp16=False)
    return xml_file


def read_ir_props(xml_file: str) -> Dict[str, str]:
    """The metadata strings stored by :func:`onnx_to_openvino` in an IR's ``rt_info``."""
    ov = import_openvino()
    model = ov.Core().read_model(xml_file)
    if not model.has_rt_info([RT_INFO_KEY]):
        return {}
    section = model.get_rt_info([RT_INFO_KEY])
    section = section.astype(dict) if hasattr(section, 'astype') else section
    return {str(k): (v.astype(str) if hasattr(v, 'astype') else str(v)) for k, v in dict(section).items()}
