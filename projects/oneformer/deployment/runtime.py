"""Run an exported OneFormer graph in ONNX Runtime behind the PyTorch model's ``predict`` contract.

ONNX Runtime runs only the network (normalised, padded images -> class and mask logits). Everything around it is
this package's PyTorch code, built from the config, so results match the ``.pth`` path: the config's data
preprocessor (``model.data_preprocessor``) and the fusion head's three post-processors
(``OneFormerFusionHead.predict``). :class:`OnnxOneFormer` has the detector's ``predict(batch_inputs, samples,
rescale, tasks, task_token)`` (the same rule, :func:`oneformer.tasks.prediction_plan`) and the attributes
``OneFormerInferencer`` reads (``data_preprocessor``, ``panoptic_fusion_head``, ``dataset_meta``, ``test_tasks``,
``test_task_token``), so the inferencer uses it in place of the model.
"""
import copy
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmengine.config import Config, ConfigDict
from torch import Tensor, nn

from ..models.detectors import OneFormer
from ..tasks import PRED_FIELDS, TASKS, parse_tasks, parse_test_cfg, prediction_plan
from .metadata import INPUT_NAMES, OUTPUT_NAMES, read_metadata

ArrayLike = Union[Tensor, np.ndarray]


#: runtimes that run an exported graph
BACKENDS = ('onnxruntime', 'openvino')


def is_onnx_file(path) -> bool:
    """Whether ``path`` names an ONNX file (by its extension), the switch between ONNX Runtime and PyTorch."""
    return isinstance(path, str) and osp.splitext(path)[1].lower() == '.onnx'


def is_exported_file(path) -> bool:
    """Whether ``path`` names an exported graph: ``.onnx`` (ONNX Runtime or OpenVINO) or ``.xml`` (OpenVINO IR)."""
    return isinstance(path, str) and osp.splitext(path)[1].lower() in ('.onnx', '.xml')


def default_backend(path: str, backend: Optional[str] = None) -> str:
    """The runtime of ``path``: ``backend`` if given (checked), else 'openvino' for an ``.xml``, 'onnxruntime'."""
    is_xml = osp.splitext(str(path))[1].lower() == '.xml'
    if backend is None:
        return 'openvino' if is_xml else 'onnxruntime'
    if backend not in BACKENDS:
        raise ValueError(f'backend {backend!r}: choose from {BACKENDS}')
    if is_xml and backend != 'openvino':
        raise ValueError(f'{path} is an OpenVINO IR: only backend=\'openvino\' runs it')
    return backend


def import_onnxruntime():
    """``onnxruntime``, or an ``ImportError`` that says how to install it (it is an optional extra)."""
    try:
        import onnxruntime
    except ImportError as e:
        raise ImportError('running an .onnx model needs onnxruntime: pip install -r requirements/deploy.txt '
                          '(or onnxruntime-gpu for CUDA)') from e
    return onnxruntime


def make_session(onnx_file: str, device: str = 'cpu', providers: Optional[Sequence] = None,
                 threads: Optional[int] = None):
    """An ONNX Runtime session with every graph optimisation.

    Args:
        onnx_file (str): The model.
        device (str): 'cpu' or 'cuda[:index]'. CUDA uses ``CUDAExecutionProvider`` where this onnxruntime build has
            it (``onnxruntime-gpu``), else warns and runs on the CPU.
        providers (Sequence, optional): ONNX Runtime providers, overriding ``device``.
        threads (int, optional): Intra-op threads (None: ONNX Runtime's default, one per physical core).
    """
    ort = import_onnxruntime()
    if providers is None:
        dev = torch.device(device)
        providers = ['CPUExecutionProvider']
        if dev.type == 'cuda':
            if 'CUDAExecutionProvider' in ort.get_available_providers():
                providers.insert(0, ('CUDAExecutionProvider', dict(device_id=dev.index or 0)))
            else:
                warnings.warn(f'device {device!r}: this onnxruntime build has no CUDAExecutionProvider (install '
                              'onnxruntime-gpu); running the graph on the CPU')
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        if threads < 1:
            raise ValueError(f'threads must be >= 1, got {threads}')
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(onnx_file, options, providers=list(providers))


class OnnxOneFormer(nn.Module):
    """An exported OneFormer (``tools/deployment/pytorch2onnx.py``) with the PyTorch model's inference contract.

    Args:
        onnx_file (str): The exported model; its metadata must be that of :func:`~oneformer.deployment.export_onnx`.
        cfg (Config, optional): Config whose ``model.data_preprocessor``, ``model.panoptic_fusion_head`` and
            ``model.test_cfg`` (thresholds, default tasks) are used. None: the config stored in the file. Its class
            counts and pre-processing must be those the graph was exported with.
        device (str): Device of the pre- and post-processing, and ONNX Runtime's provider (see :func:`make_session`).
        providers (Sequence, optional): ONNX Runtime providers (overrides ``device`` for the graph).
        threads (int, optional): ONNX Runtime (OpenVINO) intra-op threads.
        backend (str, optional): 'onnxruntime' or 'openvino' (OpenVINO's CPU plugin, f32); None: 'openvino' for an
            ``.xml`` IR, else 'onnxruntime'.

    Raises:
        ValueError: naming the file and the metadata / config key that disagree.
    """

    #: the inferencer loads no checkpoint into this model: the weights are the graph's initialisers
    weights_in_graph = True

    def __init__(self, onnx_file: str, cfg: Optional[Union[Config, ConfigDict, dict]] = None, device: str = 'cpu',
                 providers: Optional[Sequence] = None, threads: Optional[int] = None,
                 backend: Optional[str] = None) -> None:
        super().__init__()
        self.backend = default_backend(onnx_file, backend)
        if self.backend == 'openvino':  # fail before any work if the extra is missing
            from .openvino_backend import import_openvino
            import_openvino()
        else:
            import_onnxruntime()
        self.onnx_file = onnx_file
        self.metadata = read_metadata(onnx_file)
        self.cfg = config_from_metadata(self.metadata) if cfg is None else (
            cfg if isinstance(cfg, Config) else Config(copy.deepcopy(dict(cfg))))
        model_cfg = self.cfg.get('model', None)
        for key in ('data_preprocessor', 'panoptic_fusion_head'):
            if not model_cfg or key not in model_cfg:
                raise KeyError(f'config for {onnx_file} has no model.{key} (a OneFormer detector config is needed)')
        self.data_preprocessor = MODELS.build(copy.deepcopy(model_cfg.data_preprocessor))
        # as the detector builds it: the fusion head reads the model's test_cfg (thresholds, top-k), and both take
        # what they leave unset (class counts, top-k) from the head config
        fusion_cfg, test_cfg = OneFormer.follow_head_sizes(model_cfg.get('panoptic_head', None),
                                                           model_cfg.panoptic_fusion_head, model_cfg.get('test_cfg'))
        fusion_cfg.update(test_cfg=test_cfg)
        self.panoptic_fusion_head = MODELS.build(fusion_cfg)
        self.test_tasks, self.test_task_token = parse_test_cfg(model_cfg.get('test_cfg', None))
        self._check_config()
        self.dataset_meta = self.file_dataset_meta
        if self.backend == 'openvino':
            if torch.device(device).type != 'cpu' or providers is not None:
                raise ValueError(f'backend openvino runs on the CPU only (device={device!r}, providers={providers})')
            from .openvino_backend import OpenVINOSession
            self.session = OpenVINOSession(onnx_file, threads=threads)
        else:
            self.session = make_session(onnx_file, device, providers, threads)
        names = ([i.name for i in self.session.get_inputs()], [o.name for o in self.session.get_outputs()])
        if tuple(names[0]) != INPUT_NAMES or tuple(names[1]) != OUTPUT_NAMES:
            raise ValueError(f'{onnx_file}: graph inputs {names[0]} / outputs {names[1]}, expected '
                             f'{list(INPUT_NAMES)} / {list(OUTPUT_NAMES)}')
        # (B, C, H, W) and (B, T): ints where the graph is static, strings where it is dynamic
        self.input_shape = list(self.session.get_inputs()[0].shape)
        self.task_shape = list(self.session.get_inputs()[1].shape)

    # ------------------------------------------------------------------ metadata
    @property
    def file_dataset_meta(self) -> Dict:
        """Class names (and palette, if exported) stored in the file."""
        meta = {k: tuple(self.metadata[k]) for k in ('classes', 'thing_classes', 'stuff_classes')
                if self.metadata.get(k) is not None}
        if self.metadata.get('palette') is not None:
            palette = self.metadata['palette']
            meta['palette'] = palette if isinstance(palette, str) else [tuple(c) for c in palette]
        return meta

    @property
    def size_divisor(self) -> int:
        return int(self.metadata['preprocess'].get('pad_size_divisor') or 1)

    def _check_config(self) -> None:
        """The config must describe the graph: same class split and the same pre-processing."""
        meta, head = self.metadata, self.panoptic_fusion_head
        for key, value in (('num_things_classes', head.num_things_classes),
                           ('num_stuff_classes', head.num_stuff_classes)):
            if value != meta[key]:
                raise ValueError(f'config model.panoptic_fusion_head.{key}={value}, but {self.onnx_file} was '
                                 f'exported with {key}={meta[key]}')
        expected = meta['preprocess']
        for key, value in preprocess_metadata(self.data_preprocessor, self.cfg.model.data_preprocessor).items():
            if not _same(value, expected.get(key)):
                raise ValueError(f'config model.data_preprocessor {key}={value}, but {self.onnx_file} was exported '
                                 f'with {key}={expected.get(key)}: the graph expects that pre-processing')

    # ------------------------------------------------------------------ graph
    def task_indices(self, tasks: Sequence[str], batch_size: int) -> np.ndarray:
        """(B, T) int64 indices of ``tasks`` (the graph's ``task`` input), the same tasks for every image."""
        tasks = parse_tasks(tasks)
        return np.tile(np.array([[TASKS.index(t) for t in tasks]], dtype=np.int64), (batch_size, 1))

    def check_inputs(self, inputs: ArrayLike) -> None:
        """Raise a ``ValueError`` naming the file if ``inputs`` is not a batch the graph takes."""
        shape = tuple(inputs.shape)
        b_exp, c_exp, h_exp, w_exp = self.input_shape
        if len(shape) != 4:
            raise ValueError(f'{self.onnx_file}: inputs must be (B, {c_exp}, H, W) normalised images, got shape '
                             f'{shape}')
        b, c, h, w = shape
        if c != c_exp:
            raise ValueError(f'{self.onnx_file}: inputs have {c} channels, the graph takes {c_exp} '
                             f'((B, {c_exp}, H, W) normalised images); got shape {shape}')
        if isinstance(h_exp, int) and (h, w) != (h_exp, w_exp):
            raise ValueError(f'{self.onnx_file}: the graph was exported for {h_exp}x{w_exp} (H x W) inputs, got '
                             f'{h}x{w}; export with --dynamic (or --shape {h} {w}) to run this size')
        div = self.size_divisor
        if h < div or w < div or h % div or w % div:
            raise ValueError(f'{self.onnx_file}: input size {h}x{w} (H x W) is not a positive multiple of the '
                             f'size divisor {div} (model.data_preprocessor.pad_size_divisor): pad the batch with '
                             'the data preprocessor')
        if isinstance(b_exp, int) and (b == 0 or b % b_exp):
            raise ValueError(f'{self.onnx_file}: the graph was exported for batches of {b_exp}, got {b} images '
                             '(export with --dynamic for other batch sizes)')

    def check_task(self, task: np.ndarray, batch_size: int) -> np.ndarray:
        """The ``task`` input as (B, T) int64, or a ``ValueError`` naming the bad values."""
        task = np.asarray(task)
        if not np.issubdtype(task.dtype, np.integer):
            raise ValueError(f'{self.onnx_file}: task must hold integer task indices, got dtype {task.dtype}')
        if task.ndim != 2 or task.shape[0] != batch_size or task.shape[1] == 0:
            raise ValueError(f'{self.onnx_file}: task must be (B={batch_size}, T>=1) task indices, got shape '
                             f'{task.shape}')
        bad = np.unique(task[(task < 0) | (task >= len(TASKS))])
        if bad.size:
            # the graph's Gather would fail on indices >= 3 and wrap negative ones to another task silently
            names = ', '.join(f'{i}={t}' for i, t in enumerate(TASKS))
            raise ValueError(f'{self.onnx_file}: task indices {bad.tolist()} out of range; valid: {names}')
        return task.astype(np.int64)

    def forward_graph(self, inputs: ArrayLike, task: ArrayLike) -> Tuple[Tensor, Tensor]:
        """Run the graph on validated inputs.

        Args:
            inputs: (B, 3, H, W) normalised, padded images (the data preprocessor's output).
            task: (B, T) task indices (0 panoptic, 1 instance, 2 semantic): T decoder passes per image, one
                backbone pass (per group of the graph's T, if it was exported with a fixed one).

        Returns:
            tuple[Tensor]: class logits (B, T, N, K+1) and mask logits (B, T, N, H/4, W/4), on the device of
            ``inputs`` (CPU for numpy inputs).
        """
        self.check_inputs(inputs)
        device = inputs.device if isinstance(inputs, Tensor) else torch.device('cpu')
        x = inputs.detach().to('cpu', torch.float32).numpy() if isinstance(inputs, Tensor) else \
            np.asarray(inputs, dtype=np.float32)
        task = task.cpu().numpy() if isinstance(task, Tensor) else task
        task = self.check_task(task, x.shape[0])
        # a graph with a static batch runs the batch in chunks, one with a static T the tasks in groups of T
        step = self.input_shape[0] if isinstance(self.input_shape[0], int) else x.shape[0]
        num_tasks = self.task_shape[1] if isinstance(self.task_shape[1], int) else task.shape[1]
        outs = []
        for i in range(0, x.shape[0], step):
            images = np.ascontiguousarray(x[i:i + step])
            runs = [self.session.run(list(OUTPUT_NAMES), {INPUT_NAMES[0]: images, INPUT_NAMES[1]: group})
                    for group in task_groups(task[i:i + step], num_tasks)]
            outs.append([np.concatenate([r[k] for r in runs], axis=1)[:, :task.shape[1]] for k in range(2)])
        cls, masks = (torch.from_numpy(np.concatenate([o[k] for o in outs])) for k in range(2))
        return cls.to(device), masks.to(device)

    def forward(self, inputs: ArrayLike, task: ArrayLike) -> Tuple[Tensor, Tensor]:
        return self.forward_graph(inputs, task)

    @torch.no_grad()
    def test_step(self, data: dict) -> SampleList:
        """As the detector's ``test_step`` (an evaluation loop's call): data preprocessor, then :meth:`predict`
        with the config's ``test_cfg.tasks``."""
        data = self.data_preprocessor(data, False)
        return self.predict(data['inputs'], data['data_samples'])

    val_step = test_step

    # ------------------------------------------------------------------ predict
    @torch.no_grad()
    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList, rescale: bool = True,
                tasks: Optional[Sequence[str]] = None, task_token: Optional[str] = None) -> SampleList:
        """As :meth:`oneformer.models.OneFormer.predict` (same arguments, same rule:
        :func:`oneformer.tasks.prediction_plan`): exactly ``tasks``, one backbone pass, one decoder pass per token."""
        if tasks is None:
            tasks, task_token = self.test_tasks, task_token or self.test_task_token
        plan = prediction_plan(tasks, task_token)
        cls, masks = self.forward_graph(batch_inputs, self.task_indices([t for t, _ in plan], len(batch_inputs)))
        results = [dict() for _ in batch_data_samples]
        for i, (_, outputs) in enumerate(plan):
            preds = self.panoptic_fusion_head.predict(cls[:, i], masks[:, i], batch_data_samples, rescale=rescale,
                                                      tasks=outputs)
            for merged, res in zip(results, preds):
                merged.update(res)
        for sample, res in zip(batch_data_samples, results):
            for task, pred in res.items():
                setattr(sample, PRED_FIELDS[task], pred)
        return batch_data_samples


def task_groups(task: np.ndarray, num_tasks: int) -> List[np.ndarray]:
    """Split (B, T) task indices into (B, ``num_tasks``) groups for a graph with a static number of tasks, the
    last group padded by repeating its first column (the padded outputs are dropped)."""
    groups = []
    for j in range(0, task.shape[1], num_tasks):
        group = task[:, j:j + num_tasks]
        pad = num_tasks - group.shape[1]
        groups.append(np.concatenate([group, np.repeat(group[:, :1], pad, axis=1)], axis=1) if pad else group)
    return groups


def config_from_metadata(metadata: Dict) -> Config:
    """The config stored in an exported file."""
    return Config.fromstring(metadata['config'], file_format='.py')


def preprocess_metadata(data_preprocessor: nn.Module, dp_cfg: Optional[dict] = None) -> Dict:
    """The pre-processing a graph expects, from the built data preprocessor (mean / std as used, in the order of
    the channels after conversion)."""
    dp_cfg = dp_cfg or {}
    normalize = getattr(data_preprocessor, '_enable_normalize', False)
    return dict(
        mean=data_preprocessor.mean.flatten().tolist() if normalize else None,
        std=data_preprocessor.std.flatten().tolist() if normalize else None,
        bgr_to_rgb=bool(dp_cfg.get('bgr_to_rgb', False)),
        rgb_to_bgr=bool(dp_cfg.get('rgb_to_bgr', False)),
        pad_size_divisor=int(getattr(data_preprocessor, 'pad_size_divisor', 1)),
        pad_value=float(getattr(data_preprocessor, 'pad_value', 0)))


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))
    return a == b
