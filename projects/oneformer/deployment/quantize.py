"""int8 versions of an exported graph through ``onnxruntime.quantization`` (docs/deployment.md, "int8").

* ``dynamic``: the weights of the chosen operators (``MatMul`` / ``Gemm`` / ``Conv``) are stored in int8, the
  activations are quantised at run time per tensor (no calibration data);
* ``static``: weights and activations in int8 (QDQ format), the activation ranges from a calibration set of
  graph inputs (preprocessed images of the dataset).

Only the network changes: the file keeps the fp32 file's metadata (classes, pre-processing, thresholds, config),
plus a ``quantization`` entry, so ``OneFormerInferencer(weights='model_int8.onnx')`` runs it with the same pre- and
post-processing. Operators whose node name matches a ``keep_fp32`` pattern stay in float (the node names are the
PyTorch module paths, e.g. ``/model/panoptic_head/pixel_decoder/``): the way to buy accuracy back.
"""
import os.path as osp
import re
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

from .metadata import read_metadata, write_metadata

QUANT_MODES = ('dynamic', 'static')
#: operators whose weights are quantised by default
DEFAULT_OP_TYPES = ('MatMul', 'Gemm', 'Conv')


def excluded_nodes(onnx_file: str, op_types: Sequence[str], keep_fp32: Sequence[str]) -> List[str]:
    """Names of the ``op_types`` nodes of ``onnx_file`` that match one of the ``keep_fp32`` regular expressions."""
    if not keep_fp32:
        return []
    import onnx
    patterns = [re.compile(p) for p in keep_fp32]
    graph = onnx.load(onnx_file, load_external_data=False).graph
    names = [n.name for n in graph.node if n.op_type in op_types and any(p.search(n.name) for p in patterns)]
    # the dynamic quantizer rewrites a Gemm as MatMul + Add first, naming the MatMul '<Gemm name>_MatMul'
    gemms = {n.name for n in graph.node if n.op_type == 'Gemm'}
    return names + [f'{name}_MatMul' for name in names if name in gemms]


class _Feeds:
    """``onnxruntime.quantization.CalibrationDataReader`` over a list of input dicts."""

    def __init__(self, feeds: Sequence[Dict[str, np.ndarray]]) -> None:
        self._iter = iter(list(feeds))

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        return next(self._iter, None)

    def rewind(self) -> None:  # not used by the MinMax calibrator; part of the reader interface
        pass


def quantize_onnx(src: str, dst: str, mode: str = 'dynamic', op_types: Sequence[str] = DEFAULT_OP_TYPES,
                  keep_fp32: Sequence[str] = (), calibration: Optional[Iterable[Dict[str, np.ndarray]]] = None,
                  per_channel: bool = False) -> Dict:
    """Write an int8 version of the exported graph ``src`` to ``dst``.

    Args:
        src (str): fp32 graph written by :func:`~oneformer.deployment.export_onnx`.
        dst (str): Output ``.onnx`` file.
        mode (str): 'dynamic' or 'static' (see the module docstring).
        op_types (Sequence[str]): ONNX operator types to quantise.
        keep_fp32 (Sequence[str]): Regular expressions of node names to leave in float.
        calibration (Iterable[dict], optional): Graph inputs (``{'inputs': (B, 3, H, W) float32, 'task': (B, T)
            int64}``) for the activation ranges; required for 'static'.
        per_channel (bool): Per-output-channel weight scales.

    Returns:
        dict: The ``quantization`` metadata entry written (mode, operator types, nodes kept in float, ...).
    """
    if mode not in QUANT_MODES:
        raise ValueError(f'quantization mode {mode!r}: choose from {QUANT_MODES}')
    if osp.abspath(src) == osp.abspath(dst):
        raise ValueError(f'quantize_onnx: source and destination are the same file ({src})')
    unknown = sorted(set(op_types) - {'MatMul', 'Gemm', 'Conv'})
    if unknown or not op_types:
        raise ValueError(f'op_types {list(op_types)}: choose among MatMul, Gemm, Conv')
    meta = read_metadata(src)  # also refuses files that are not our exports
    if meta.get('quantization'):
        raise ValueError(f'{src} is already quantised ({meta["quantization"]["mode"]})')
    feeds = list(calibration or [])
    if mode == 'static' and not feeds:
        raise ValueError('static quantization needs calibration inputs (preprocessed images of the dataset)')
    import tempfile

    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    from .optimize import optimize_onnx
    with tempfile.TemporaryDirectory() as tmp:
        # constant folding first: the quantizer needs every Conv / MatMul weight as an initialiser
        folded = optimize_onnx(src, osp.join(tmp, 'folded.onnx'))
        exclude = excluded_nodes(folded, op_types, keep_fp32)
        if mode == 'dynamic':
            quantize_dynamic(folded, dst, op_types_to_quantize=list(op_types), per_channel=per_channel,
                             weight_type=QuantType.QInt8, nodes_to_exclude=exclude)
        else:
            quantize_static(folded, dst, _Feeds(feeds), quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=list(op_types), per_channel=per_channel,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=exclude)
    num_calib = len(feeds)
    entry = dict(mode=mode, op_types=list(op_types), weight_type='int8', per_channel=bool(per_channel),
                 keep_fp32=list(keep_fp32), nodes_kept_fp32=len(exclude), calibration_inputs=num_calib,
                 source=osp.basename(src))
    import onnx
    model = onnx.load(dst)
    del model.metadata_props[:]  # the quantizer's own non-JSON 'onnx.infer' tag: our files hold JSON values only
    onnx.save(model, dst)
    write_metadata(dst, dict(meta, quantization=entry))
    return entry


def calibration_feeds(model, cfg, metadata: Dict, num_images: int) -> List[Dict[str, np.ndarray]]:
    """Graph inputs for static quantization: ``num_images`` images of the config's test dataset (spread over it)
    through its test pipeline and the model's data preprocessor, zero-padded to a fixed graph's size, each with
    every task token (the three tasks' queries see different activations).

    Args:
        model (nn.Module): The PyTorch detector (its data preprocessor is the graph's).
        cfg (Config): Config with a ``test_dataloader``.
        metadata (dict): The exported file's metadata (input and task shapes).
        num_images (int): Images to use.
    """
    import torch
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope

    from ..tasks import TASKS
    if not cfg.get('test_dataloader', None):
        raise KeyError('static quantization calibrates on the config\'s test_dataloader.dataset: the config has none')
    init_default_scope('mmdet')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    if len(dataset) == 0:
        raise ValueError('static quantization: the config\'s test dataset is empty')
    picks = np.linspace(0, len(dataset) - 1, min(num_images, len(dataset))).round().astype(int)
    batch, _, height, width = metadata['input_shape']
    num_tasks = metadata['task_shape'][1]
    feeds = []
    with torch.no_grad():
        for idx in picks:
            inputs = model.data_preprocessor(pseudo_collate([dataset[int(idx)]]), False)['inputs'].cpu()
            if isinstance(height, int):
                h, w = inputs.shape[-2:]
                if h > height or w > width:
                    raise ValueError(f'calibration image {idx} is {h}x{w} after pre-processing, larger than the '
                                     f'graph\'s {height}x{width}: export at the padded test size')
                inputs = torch.nn.functional.pad(inputs, (0, width - w, 0, height - h))
            if isinstance(batch, int) and batch > 1:  # a fixed batch: the image repeated
                inputs = inputs.expand(batch, -1, -1, -1)
            for t in range(len(TASKS)):
                task = np.full((inputs.shape[0], num_tasks if isinstance(num_tasks, int) else 1), t, dtype=np.int64)
                feeds.append(dict(inputs=inputs.numpy().astype(np.float32), task=task))
    return feeds
