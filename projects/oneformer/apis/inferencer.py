"""OneFormerInferencer: images in, panoptic / instance / semantic predictions and drawings out."""
import copy
import os.path as osp
import warnings
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import mmcv
import mmengine
import numpy as np
import torch
import torch.nn as nn
from mmdet.apis import DetInferencer, init_detector
from mmdet.apis.det_inferencer import IMG_EXTENSIONS
from mmdet.registry import DATASETS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner.checkpoint import _load_checkpoint_to_model, load_checkpoint
from rich.progress import track

from ..tasks import check_task, parse_tasks
from ..visualization.palette import resolve_palette
from .predictions import sample_to_dict, save_prediction, unique_stem

InputType = Union[str, np.ndarray]
InputsType = Union[InputType, Sequence[InputType]]

# annotation loaders of test pipelines: inference has no annotations
_ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadPanopticAnnotations', 'LoadPanopticTestAnnotations',
                       'LoadPanopticSegments', 'LoadSemSegMap', 'LoadSemSegAsSegments')


#: test pipeline of a config that has none (no dataset): the image at its own size, the meta keys predictions need
INFERENCE_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]


class OneFormerInferencer(DetInferencer):
    """Run a OneFormer model on images (paths, a folder, BGR numpy arrays or a list of those).

    ``task`` selects the task token: 'panoptic', 'instance', 'semantic', or 'all' (the backbone and pixel decoder
    run once, the decoder once per task, and each output comes from its own task's token). Only the requested
    tasks are predicted, returned, drawn and saved. ``task_token`` (a task name) makes that one token produce every
    requested output instead (the official ``MODEL.TEST.TASK`` evaluation; :func:`oneformer.tasks.prediction_plan`).

    Class names come from the checkpoint's ``meta['dataset_meta']``; without them (or without weights) the
    config's test dataset metainfo is used, with a warning.

    Example:
        >>> inferencer = OneFormerInferencer('configs/oneformer/x.py', weights='x.pth', task='all', device='cpu')
        >>> out = inferencer('demo.jpg', out_dir='outputs')  # outputs/vis/demo_{task}.png, outputs/preds/...
        >>> out['predictions'][0]['semantic']['seg'].shape  # (H, W) class labels

    Args:
        model (str | Config | dict, optional): Config (path or object). None: take it from ``weights``.
        weights (str, optional): Checkpoint path or URL, or an ``.onnx`` file exported by
            ``tools/deployment/pytorch2onnx.py`` (run by ONNX Runtime or OpenVINO; same calls and results;
            ``model`` may then be None: the file stores its config), or an OpenVINO IR ``.xml`` converted from one.
        device (str, optional): 'cpu', 'cuda', ... Defaults to the available device.
        task (str): 'panoptic' | 'instance' | 'semantic' | 'all'. Defaults to 'panoptic'.
        task_token (str, optional): One task token producing every requested output. Defaults to None (each output
            from its own task's token).
        scope (str): Registry scope. Defaults to 'mmdet'.
        palette (str): Palette of the drawings ('none' = checkpoint / config palette, or 'random', 'coco', ...).
        show_progress (bool): Show a progress bar. Defaults to False.
        backend (str, optional): Runtime of an exported ``weights`` file: 'onnxruntime' (default for ``.onnx``) or
            'openvino' (default for ``.xml``). Must be None for a ``.pth``.
        compile (bool | dict): ``torch.compile`` the PyTorch network (backbone, pixel decoder, transformer decoder;
            a dict gives ``torch.compile`` arguments). The first image of each new size compiles (slow); later ones
            run the compiled code. Not for exported weights.
        threads (int, optional): Intra-op threads of an exported graph's runtime.
    """

    def __init__(self,
                 model=None,
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 task: str = 'panoptic',
                 task_token: Optional[str] = None,
                 scope: Optional[str] = 'mmdet',
                 palette: str = 'none',
                 show_progress: bool = False,
                 backend: Optional[str] = None,
                 compile: Union[bool, dict] = False,
                 threads: Optional[int] = None) -> None:
        self._tasks = parse_tasks(task)
        self._task = task
        self.task_token = None if task_token is None else check_task(task_token)
        self._weights_name = weights
        exported = isinstance(weights, str) and osp.splitext(weights)[1].lower() in ('.onnx', '.xml')
        if not exported and (backend is not None or threads is not None):
            raise ValueError(f'backend={backend!r} / threads={threads!r} apply to exported weights (.onnx / .xml), '
                             f'not {weights!r}')
        if exported and compile:
            raise ValueError(f'compile=True compiles the PyTorch network; {weights} is an exported graph')
        self._backend, self._threads = backend, threads
        super().__init__(model=model, weights=weights, device=device, scope=scope, palette=palette,
                         show_progress=show_progress)
        if compile:
            from .compile import compile_network
            compile_network(self.model, **(compile if isinstance(compile, dict) else {}))

    # ------------------------------------------------------------------ task
    @property
    def task(self) -> str:
        """The task(s) run: 'panoptic' | 'instance' | 'semantic' | 'all'; settable."""
        return self._task

    @task.setter
    def task(self, task: str) -> None:
        self._tasks = parse_tasks(task)
        self._task = task

    @property
    def tasks(self) -> Tuple[str, ...]:
        return self._tasks

    # ------------------------------------------------------------------ set-up
    def _init_model(self, cfg, weights: Optional[str], device: str = 'cpu'):
        if isinstance(weights, str) and osp.splitext(weights)[1].lower() in ('.onnx', '.xml'):
            # An exported graph (tools/deployment/pytorch2onnx.py): ONNX Runtime or OpenVINO runs the network; this
            # config's data preprocessor and fusion head run around it. Lazy import: both are optional extras.
            from ..deployment import OnnxOneFormer
            model = OnnxOneFormer(weights, cfg=cfg or None, device=device, backend=self._backend,
                                  threads=self._threads)
            if not cfg:  # no config given: the one stored in the file, as mmengine takes a checkpoint's
                cfg.update(model.cfg._cfg_dict)
            self._load_weights_to_model(model, dict(meta=dict(dataset_meta=model.file_dataset_meta)), cfg)
            return model.to(device).eval()
        model = super()._init_model(cfg, weights, device)  # (the config may come from the checkpoint)
        if not hasattr(model, 'test_tasks'):
            raise TypeError(f'{type(model).__name__} is not a OneFormer model (no task tokens)')
        return model

    def _load_weights_to_model(self, model, checkpoint: Optional[dict], cfg) -> None:
        """Weights, then ``model.dataset_meta`` (classes, palette) from the checkpoint, else from the config."""
        if getattr(model, 'weights_in_graph', False):
            pass  # an ONNX graph: its weights are in the file, the "checkpoint" only carries the class names
        elif checkpoint is not None:
            _load_checkpoint_to_model(model, checkpoint)
        else:
            warnings.warn('no weights given: predictions come from a randomly initialised model')
        set_dataset_meta(model, checkpoint, cfg, self.palette,
                         f'checkpoint {self._weights_name}' if checkpoint is not None else 'no checkpoint')

    def _init_visualizer(self, cfg):
        """The config's visualizer (``OneFormerVisualizer`` for a model-only config); small images are upscaled
        before drawing unless the config says otherwise."""
        cfg = copy.deepcopy(cfg)
        if cfg.get('visualizer', None) is None:
            cfg.visualizer = dict(type='OneFormerVisualizer')
        # the inferencer writes its drawings itself (out_dir/vis); backends without a save_dir (the configs'
        # LocalVisBackend: the runner gives it the work dir) would be dropped with a warning at every construction
        backends = cfg.visualizer.get('vis_backends', None) or []
        cfg.visualizer.vis_backends = [b for b in ([backends] if isinstance(backends, dict) else backends)
                                       if not isinstance(b, dict) or b.get('save_dir') is not None]
        visualizer = super()._init_visualizer(cfg)
        if visualizer is not None and getattr(visualizer, 'min_draw_size', 0) is None:
            from ..visualization import DEFAULT_MIN_DRAW_SIZE
            visualizer.min_draw_size = DEFAULT_MIN_DRAW_SIZE
        return visualizer

    def _init_collate(self, cfg):
        if (cfg.get('test_dataloader', None) or {}).get('collate_fn', None) is None:
            return pseudo_collate  # what the base class falls back to, without its registry-scope warning
        return super()._init_collate(cfg)

    def _init_pipeline(self, cfg):
        """The config's test pipeline without annotation loaders, reading from arrays (see :meth:`preprocess`).

        No dataset is needed: a config without ``test_dataloader`` (e.g. a converted model's ``config.py``) uses its
        ``test_pipeline`` if it has one, else :data:`INFERENCE_PIPELINE` (the image at its own size; normalisation
        and padding are the model's data preprocessor's job)."""
        cfg = copy.deepcopy(cfg)
        dataset = (cfg.get('test_dataloader', None) or {}).get('dataset', None) or {}
        pipeline = dataset.get('pipeline', None) or cfg.get('test_pipeline', None) or INFERENCE_PIPELINE
        pipeline = [t for t in pipeline if str(t['type']).rsplit('.', 1)[-1] not in _ANNOTATION_LOADERS]
        cfg.test_dataloader = dict(dataset=dict(pipeline=pipeline))
        return super()._init_pipeline(cfg)

    # ------------------------------------------------------------------ inputs
    def _inputs_to_list(self, inputs: InputsType) -> list:
        """A folder -> its image files (sorted); a path or an array -> a one-item list; lists as they are."""
        if isinstance(inputs, str) and osp.isdir(inputs):
            files = sorted(f for f in mmengine.list_dir_or_file(inputs, list_dir=False)
                           if f.lower().endswith(IMG_EXTENSIONS))
            if not files:
                raise FileNotFoundError(f'no image files ({", ".join(IMG_EXTENSIONS)}) in folder {inputs}')
            return [osp.join(inputs, f) for f in files]
        if isinstance(inputs, (str, np.ndarray)):
            return [inputs]
        if isinstance(inputs, (list, tuple)):
            return list(inputs)
        raise TypeError(f'inputs must be an image path, a folder, a numpy array or a list of those, '
                        f'got {type(inputs).__name__}')

    @staticmethod
    def load_image(item: InputType) -> np.ndarray:
        """A BGR uint8 (H, W, 3) image from a path or an array (gray (H, W) / (H, W, 1) and BGRA are converted).

        Raises:
            FileNotFoundError / ValueError: naming the path that is missing or cannot be decoded as an image.
        """
        if isinstance(item, str):
            if not osp.isfile(item) and '://' not in item:
                raise FileNotFoundError(f'image not found: {item}')
            try:
                img = mmcv.imfrombytes(mmengine.fileio.get(item), flag='color')
            except Exception as e:  # cv2 raises on empty buffers
                raise ValueError(f'cannot read image {item}: {e}') from e
            if img is None:
                raise ValueError(f'cannot read image {item}: not a decodable image file')
            return img
        if isinstance(item, np.ndarray):
            if item.dtype != np.uint8:
                values = f', values {item.min()}..{item.max()}' if item.size else ''
                hint = ('convert a [0, 1] image with (img * 255).round().astype(np.uint8)'
                        if item.dtype == bool or np.issubdtype(item.dtype, np.floating) else
                        'convert it with img.astype(np.uint8) after scaling to 0..255')
                raise ValueError(f'image arrays must be uint8 BGR (values 0..255), got {item.dtype}{values}; {hint}')
            if item.ndim == 2 or (item.ndim == 3 and item.shape[2] == 1):
                return np.repeat(item.reshape(*item.shape[:2], 1), 3, axis=2)
            if item.ndim == 3 and item.shape[2] in (3, 4):
                return np.ascontiguousarray(item[..., :3])
            raise ValueError(f'image arrays must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {item.shape}')
        raise TypeError(f'an input must be an image path or a numpy array, got {type(item).__name__}')

    def preprocess(self, inputs: list, batch_size: int = 1, skipped: Optional[list] = None,
                   **kwargs) -> Iterator[Tuple[List[dict], dict]]:
        """Yield ``(originals, batch)``: each original is ``dict(img=BGR array, path=str|None, stem=str)``.

        With a ``skipped`` list, image files that cannot be read are appended to it (with a warning) instead of
        raising.
        """
        used, chunk = set(), []
        for index, item in enumerate(inputs):
            try:
                img = self.load_image(item)
            except (FileNotFoundError, ValueError) as e:
                if skipped is None or not isinstance(item, str):
                    raise
                warnings.warn(f'skipping {item}: {e}')
                skipped.append(item)
                continue
            path = item if isinstance(item, str) else None
            data = self.pipeline(img)
            if path is not None:
                data['data_samples'].set_metainfo(dict(img_path=path))
            chunk.append((dict(img=img, path=path, stem=unique_stem(path, used, index)), data))
            if len(chunk) == batch_size:
                yield [c[0] for c in chunk], self.collate_fn([c[1] for c in chunk])
                chunk = []
        if chunk:
            yield [c[0] for c in chunk], self.collate_fn([c[1] for c in chunk])

    # ------------------------------------------------------------------ run
    @torch.no_grad()
    def forward(self, inputs: dict, **kwargs) -> List[DetDataSample]:
        """Exactly the requested tasks: one backbone pass, one decoder pass per token (``model.predict``)."""
        data = self.model.data_preprocessor(inputs, False)
        return self.model.predict(data['inputs'], data['data_samples'], tasks=self._tasks, task_token=self.task_token)

    def __call__(self,
                 inputs: InputsType,
                 batch_size: int = 1,
                 task: Optional[str] = None,
                 out_dir: str = '',
                 return_vis: bool = False,
                 show: bool = False,
                 wait_time: float = 0,
                 no_save_vis: bool = False,
                 no_save_pred: bool = False,
                 pred_score_thr: float = 0.3,
                 return_datasamples: bool = False,
                 **kwargs) -> Dict:
        """Predict, draw and save.

        Args:
            inputs: An image path, a folder (every image file in it), a BGR numpy array, or a list of those.
            batch_size (int): Images per forward pass. Defaults to 1.
            task (str, optional): Run this task for this call only (default: the inferencer's ``task``).
            out_dir (str): If given, drawings go to ``out_dir/vis/{stem}_{task}.png`` and predictions to
                ``out_dir/preds/`` (see :func:`oneformer.apis.predictions.save_prediction`).
            return_vis (bool): Return the drawings (one ``{task: RGB array}`` per image).
            show (bool): Show the drawings in a window.
            wait_time (float): Seconds each shown window stays open.
            no_save_vis / no_save_pred (bool): Do not write the drawings / predictions into ``out_dir``.
            pred_score_thr (float): Minimum score of drawn instances. Defaults to 0.3.
            return_datasamples (bool): Return :class:`DetDataSample` objects instead of dicts.

        Returns:
            dict: ``predictions`` (per image, see :func:`oneformer.apis.predictions.sample_to_dict`),
            ``visualization`` (per image ``{task: RGB array}`` if ``return_vis``, else an empty list) and
            ``skipped``: the files of a folder input that could not be read (they are warned about and skipped;
            an unreadable file given explicitly raises).
        """
        if kwargs:
            raise TypeError(f'unknown arguments {sorted(kwargs)}')
        if task is not None and task != self.task:
            previous, self.task = self.task, task
            try:
                return self(inputs, batch_size=batch_size, out_dir=out_dir, return_vis=return_vis, show=show,
                            wait_time=wait_time, no_save_vis=no_save_vis, no_save_pred=no_save_pred,
                            pred_score_thr=pred_score_thr, return_datasamples=return_datasamples)
            finally:
                self.task = previous
        items = self._inputs_to_list(inputs)
        skipped = []
        folder = isinstance(inputs, str) and osp.isdir(inputs)
        batches = self.preprocess(items, batch_size=batch_size, skipped=skipped if folder else None)
        if self.show_progress:
            batches = track(batches, description='Inference', total=-(-len(items) // batch_size))
        results = dict(predictions=[], visualization=[])
        for originals, data in batches:
            preds = self.forward(data)
            vis = self.visualize(originals, preds, return_vis=return_vis, show=show, wait_time=wait_time,
                                 pred_score_thr=pred_score_thr, img_out_dir='' if no_save_vis else out_dir)
            out = self.postprocess(preds, vis, originals=originals, return_datasamples=return_datasamples,
                                   pred_out_dir='' if no_save_pred else out_dir)
            results['predictions'].extend(out['predictions'])
            results['visualization'].extend(out['visualization'] or [])
        results['skipped'] = skipped
        if skipped:
            warnings.warn(f'{len(skipped)} of {len(items)} files of {inputs} could not be read and were skipped: '
                          + ', '.join(skipped))
        return results

    def visualize(self,
                  originals: List[dict],
                  preds: List[DetDataSample],
                  return_vis: bool = False,
                  show: bool = False,
                  wait_time: float = 0,
                  pred_score_thr: float = 0.3,
                  img_out_dir: str = '',
                  **kwargs) -> Optional[List[Dict[str, np.ndarray]]]:
        """One panel per task with :meth:`OneFormerVisualizer.draw_tasks`; saved as ``vis/{stem}_{task}.png``."""
        if not (return_vis or show or img_out_dir):
            return None
        if self.visualizer is None or not hasattr(self.visualizer, 'draw_tasks'):
            raise ValueError("drawing needs visualizer=dict(type='OneFormerVisualizer', ...) in the config")
        drawn = []
        for orig, pred in zip(originals, preds):
            rgb = np.ascontiguousarray(orig['img'][..., ::-1])
            panels = self.visualizer.draw_tasks(rgb, pred, pred_score_thr=pred_score_thr)
            if img_out_dir:
                for task, panel in panels.items():
                    mmcv.imwrite(panel[..., ::-1], osp.join(img_out_dir, 'vis', f'{orig["stem"]}_{task}.png'))
            if show and panels:
                self.visualizer.show(np.concatenate(list(panels.values()), axis=1), win_name=orig['stem'],
                                     wait_time=wait_time)
            drawn.append(panels)
        return drawn if return_vis else None

    def postprocess(self,
                    preds: List[DetDataSample],
                    visualization: Optional[list] = None,
                    originals: Optional[List[dict]] = None,
                    return_datasamples: bool = False,
                    pred_out_dir: str = '',
                    **kwargs) -> Dict:
        """Data samples -> dicts of numpy arrays; written to ``pred_out_dir/preds/`` when given."""
        classes = tuple(self.model.dataset_meta['classes'])
        num_things = self.model.panoptic_fusion_head.num_things_classes
        originals = originals or [dict(stem=unique_stem(None, set(), i)) for i in range(len(preds))]
        results = []
        for orig, sample in zip(originals, preds):
            pred = sample_to_dict(sample, classes, num_things)
            if pred_out_dir:
                save_prediction(pred, osp.join(pred_out_dir, 'preds'), orig['stem'], classes)
            results.append(sample if return_datasamples else pred)
        return dict(predictions=results, visualization=visualization)


def config_metainfo(cfg, required: bool = True) -> Optional[dict]:
    """Metainfo (classes, palette, ...) of the config's test dataset, built lazily (no annotation is read).

    Falls back to the dataset class's ``METAINFO`` updated with the config's ``metainfo`` if building fails.
    """
    ds_cfg = copy.deepcopy((cfg.get('test_dataloader', None) or {}).get('dataset', None))
    if ds_cfg is None and cfg.get('metainfo', None):  # a model-only config (e.g. written by a converter)
        return dict(cfg.metainfo)
    if ds_cfg is None:
        if required:
            raise KeyError('no class names: the checkpoint has no meta.dataset_meta and the config no '
                           'test_dataloader.dataset')
        return None
    ds_cfg['lazy_init'] = True
    try:
        meta = dict(DATASETS.build(ds_cfg).metainfo)
    except Exception:  # e.g. a dataset that reads files in __init__; METAINFO still names the classes
        cls = DATASETS.get(ds_cfg['type']) if isinstance(ds_cfg['type'], str) else ds_cfg['type']
        meta = dict(getattr(cls, 'METAINFO', {}) or {})
        meta.update(ds_cfg.get('metainfo', None) or {})
    if required and not meta.get('classes'):
        raise KeyError(f"no class names: the checkpoint has no meta.dataset_meta and the config's test dataset "
                       f"({ds_cfg['type']}) no metainfo classes")
    return meta


def set_dataset_meta(model, checkpoint: Optional[dict], cfg, palette: str = 'none',
                     source: str = 'the checkpoint') -> None:
    """Set ``model.dataset_meta``: class names (and thing / stuff split) from the checkpoint's
    ``meta['dataset_meta']``, else from the config's test dataset (with a warning; never mmdet's COCO default), and
    one palette colour per class.

    Args:
        model: A OneFormer model (its fusion head's class count is checked against the names).
        checkpoint (dict, optional): The loaded checkpoint (None: no weights).
        cfg: The model's config.
        palette (str): 'none' (the checkpoint's palette, else the config's), or a palette name / list that wins.
        source (str): How the warning names the checkpoint.

    Raises:
        KeyError: No class names in the checkpoint nor in the config.
        ValueError: As many class names as the model has classes, or not.
    """
    meta = (checkpoint or {}).get('meta', {}).get('dataset_meta', None)
    cfg_meta = None
    if meta and meta.get('classes'):
        model.dataset_meta = {k.lower(): v for k, v in meta.items()}
    else:
        cfg_meta = config_metainfo(cfg)
        warnings.warn(f"{source}: no class names in meta['dataset_meta']; using the config's test dataset "
                      f"classes {tuple(cfg_meta['classes'])}")
        model.dataset_meta = {k: v for k, v in cfg_meta.items() if k in ('classes', 'thing_classes',
                                                                          'stuff_classes', 'palette')}
    classes = tuple(model.dataset_meta['classes'])
    num_classes = model.panoptic_fusion_head.num_classes
    if len(classes) != num_classes:
        raise ValueError(f'{len(classes)} class names {classes} for a model with {num_classes} classes '
                         '(num_things_classes + num_stuff_classes in the config)')
    if palette != 'none':
        palette_source = f'palette={palette!r}'
    elif model.dataset_meta.get('palette') is not None:
        palette, palette_source = model.dataset_meta['palette'], 'the checkpoint\'s dataset_meta'
    else:
        cfg_meta = cfg_meta or config_metainfo(cfg, required=False)
        palette, palette_source = (cfg_meta or {}).get('palette', None), 'the config\'s metainfo'
    # one colour per class (a name such as 'random', none at all or too few become a list): every drawing path
    model.dataset_meta['palette'] = resolve_palette(palette, classes, palette_source)


def load_pytorch_model(config: Union[str, Config], checkpoint: str, device: str = 'cpu') -> Tuple[nn.Module, Config]:
    """The PyTorch model of ``config`` + ``checkpoint`` (used by the ONNX export and comparison tools).

    mmdet's ``init_detector`` builds it (config, registry scope, SyncBN -> BN, device, eval mode); the checkpoint is
    read here, through mmengine's loaders (a damaged file raises
    :class:`~oneformer.compat.CheckpointReadError`), and ``dataset_meta`` is set as :class:`OneFormerInferencer`
    sets it (:func:`set_dataset_meta`): class names from the checkpoint, else from the config.

    Returns:
        tuple: ``(model, cfg)``.
    """
    if osp.splitext(str(checkpoint))[1].lower() in ('.onnx', '.xml'):
        raise ValueError(f'{checkpoint} is an exported graph: the PyTorch model needs the .pth checkpoint')
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    # No checkpoint for init_detector: given one without class names it would name the classes after COCO's (its
    # default), and its palette would replace the checkpoint's. palette='random' keeps it from building the test
    # dataset, which a model-only config (a converter's output) does not have; set_dataset_meta sets both below.
    with warnings.catch_warnings(record=True) as caught:
        model = init_detector(copy.deepcopy(cfg), checkpoint=None, palette='random', device=device)
    for w in caught:  # pass on what else it said
        if 'use COCO classes by default' not in str(w.message):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not hasattr(model, 'test_tasks'):
        raise TypeError(f'{type(model).__name__} is not a OneFormer model (no task tokens)')
    loaded = load_checkpoint(model, checkpoint, map_location='cpu')
    set_dataset_meta(model, loaded, cfg, source=f'checkpoint {checkpoint}')
    return model, cfg
