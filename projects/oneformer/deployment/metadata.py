"""What an exported OneFormer ONNX file says about itself: ``metadata_props``, one JSON value per key.

The file is self-contained: besides the graph it carries the class names, the post-processing thresholds, the
pre-processing (mean / std / channel order / size divisor), the task names and prompts, the graph's input and
output names and the full config text, so :class:`~oneformer.deployment.OnnxOneFormer` (and
``OneFormerInferencer(weights='model.onnx')``) can run it without the checkpoint or the config file.
"""
import json
import os.path as osp
from typing import Any, Dict

#: value of the ``format`` key; bumped when the graph's inputs / outputs or the keys below change meaning
FORMAT = 'oneformer-onnx/1'
#: graph inputs: the normalised, padded images (B, 3, H, W) float32 and the task indices (B, T) int64 (T: tasks
#: per image, fixed at export or a graph dimension)
INPUT_NAMES = ('inputs', 'task')
#: graph outputs: final class logits (B, T, N, K+1) and 1/4-scale mask logits (B, T, N, H/4, W/4)
OUTPUT_NAMES = ('cls_logits', 'mask_logits')
#: keys every file written by :func:`~oneformer.deployment.export_onnx` has
REQUIRED_KEYS = ('format', 'input_names', 'output_names', 'input_shape', 'task_shape', 'dynamic', 'opset', 'tasks',
                 'task_prompts', 'num_queries', 'num_classes', 'num_things_classes', 'num_stuff_classes', 'classes',
                 'test_cfg', 'preprocess', 'config')


def write_metadata(onnx_file: str, metadata: Dict[str, Any]) -> None:
    """Store ``metadata`` (JSON-able values) as the file's ``metadata_props``, replacing keys of the same name."""
    import onnx  # deploy extra (requirements/deploy.txt)
    model = onnx.load(onnx_file)
    props = {p.key: p.value for p in model.metadata_props}
    props.update({k: json.dumps(v) for k, v in metadata.items()})
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, onnx_file)


def read_metadata(onnx_file: str) -> Dict[str, Any]:
    """The ``metadata_props`` of an exported file, JSON-decoded.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the file and the key that is missing or not JSON, or a ``format`` this version does not
            read (the file was not written by ``tools/deployment/pytorch2onnx.py``, or by an incompatible version).
    """
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(f'ONNX file not found: {onnx_file}')
    if osp.splitext(onnx_file)[1].lower() == '.xml':  # an OpenVINO IR written by onnx_to_openvino
        from .openvino_backend import read_ir_props
        raw = read_ir_props(onnx_file)
    else:
        raw = _raw_props(onnx_file)
    metadata = {}
    for key, value in raw.items():
        try:
            metadata[key] = json.loads(value)
        except json.JSONDecodeError as e:
            raise ValueError(f'{onnx_file}: metadata key {key!r} is not JSON ({e}): {value[:80]!r}') from e
    check_metadata(metadata, onnx_file)
    return metadata


def check_metadata(metadata: Dict[str, Any], onnx_file: str = '<metadata>') -> None:
    """Raise a ``ValueError`` naming ``onnx_file`` if a required key is missing or the format is unknown."""
    if metadata.get('format') != FORMAT:
        raise ValueError(f'{onnx_file}: metadata format is {metadata.get("format")!r}, expected {FORMAT!r} (export '
                         'the model with tools/deployment/pytorch2onnx.py of this version)')
    missing = [k for k in REQUIRED_KEYS if k not in metadata]
    if missing:
        raise ValueError(f'{onnx_file}: metadata has no {", ".join(missing)} (export the model with '
                         'tools/deployment/pytorch2onnx.py)')


def _raw_props(onnx_file: str) -> Dict[str, str]:
    """Metadata strings, through ``onnx`` (reads the protobuf only) or, without it, an ONNX Runtime session."""
    try:
        import onnx
    except ImportError:
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(onnx_file, options, providers=['CPUExecutionProvider'])
        return dict(session.get_modelmeta().custom_metadata_map)
    try:
        model = onnx.load(onnx_file, load_external_data=False)
    except Exception as e:  # protobuf decode errors have no common base class
        raise ValueError(f'{onnx_file}: not an ONNX model ({type(e).__name__}: {e})') from e
    return {p.key: p.value for p in model.metadata_props}
