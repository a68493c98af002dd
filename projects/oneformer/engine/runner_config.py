# Copyright (c) OpenMMLab. All rights reserved.
"""Config edits done by ``tools/train.py`` and ``tools/test.py``, importable so they can be unit tested.

The functions take the parsed ``argparse.Namespace`` of the tools (any object with the same attributes works;
missing attributes take the tools' defaults) and return the edited :class:`mmengine.config.Config`.
"""
import copy
import os.path as osp
from typing import Callable, List, Optional, Sequence, Tuple

from mmengine.config import Config, ConfigDict

from ..tasks import TASK_METRICS, check_task, metric_task, metric_type_name, parse_tasks
from .dataset_classes import check_metainfo_applied
from .optim_wrappers import AMP_WRAPPERS
from .schedule_length import check_sampler_fits_loop, follow_max_iters, max_iters_of

SUMMARY_HOOK = 'TaskMetricsSummaryHook'


def _split_evaluator(evaluator) -> Tuple[List, Callable[[List], object]]:
    """Metric configs of any evaluator form the runner accepts, and a function to rebuild that form."""
    if isinstance(evaluator, (list, tuple)):
        return list(evaluator), list
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        metrics = evaluator['metrics']
        metrics = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]

        def rebuild(ms):
            out = copy.deepcopy(evaluator)
            out['metrics'] = ms
            return out

        return metrics, rebuild
    return [evaluator], lambda ms: ms[0] if len(ms) == 1 else ms


def select_task_metrics(evaluator, tasks: Sequence[str], key: str = 'test_evaluator'):
    """Keep the task-agnostic metrics and those of ``tasks``.

    Each number is only meaningful with its own task token (PQ with 'panoptic', AP with 'instance', mIoU with
    'semantic', as the published results), and a metric without its prediction would fail.

    Raises:
        ValueError: if the evaluator had task metrics but none for ``tasks``.
    """
    metrics, rebuild = _split_evaluator(evaluator)
    kept = [m for m in metrics if metric_task(m) in (None, *tasks)]
    found = [metric_type_name(m) for m in metrics if metric_task(m) is not None]
    if found and not any(metric_task(m) is not None for m in kept):
        raise ValueError(f'{key} has no metric for task(s) {tuple(tasks)} (metrics found: {found}); add one of '
                         f'{[n for t in tasks for n in TASK_METRICS[t]]} to {key}')
    return rebuild(kept)


def set_test_tasks(cfg: Config, task: Optional[str], task_token: Optional[str] = None) -> Config:
    """``model.test_cfg.tasks`` from ``--task`` (None: keep the config's) and ``model.test_cfg.task_token`` from
    ``--task-token``; keep only the metrics of the predicted tasks in ``test_evaluator``."""
    if 'model' not in cfg:
        raise KeyError('config has no `model`; cannot set model.test_cfg.tasks')
    if cfg.model.get('test_cfg') is None:
        cfg.model.test_cfg = ConfigDict()
    try:
        tasks = parse_tasks(cfg.model.test_cfg.get('tasks', 'all') if task is None else task)
    except ValueError as e:
        raise ValueError(f'--task: {e}') from None
    if task_token is not None:
        try:
            cfg.model.test_cfg.task_token = check_task(task_token)
        except ValueError as e:
            raise ValueError(f'--task-token: {e}') from None
    cfg.model.test_cfg.tasks = tasks
    if cfg.get('test_evaluator') is not None:
        cfg.test_evaluator = select_task_metrics(cfg.test_evaluator, tasks)
    return cfg


def add_summary_hook(cfg: Config) -> Config:
    """Append ``TaskMetricsSummaryHook`` to ``custom_hooks`` unless one is already there."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    if not any(metric_type_name(h) == SUMMARY_HOOK for h in hooks):
        hooks.append(ConfigDict(type=SUMMARY_HOOK))
    cfg.custom_hooks = hooks
    return cfg


#: hooks the tools add unless the config has them (``oneformer.engine.hooks``)
TRAIN_HOOKS = ('ClassCountCheckHook', 'RNGStateHook', 'LogLastIterHook')
TEST_HOOKS = ('ClassCountCheckHook', )


def add_default_hooks(cfg: Config, train: bool = True) -> Config:
    """Append the class-count check (and, for training, exact-resume RNG states and last-iteration logging) to
    ``custom_hooks`` unless the config already has them."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    present = {metric_type_name(h) for h in hooks}
    hooks.extend(ConfigDict(type=name) for name in (TRAIN_HOOKS if train else TEST_HOOKS) if name not in present)
    cfg.custom_hooks = hooks
    return cfg


def _amp_device_available() -> bool:
    """Whether mmengine's ``AmpOptimWrapper`` can run here (it asserts a CUDA / NPU / MLU / MUSA device)."""
    from mmengine import device
    checks = ('is_cuda_available', 'is_npu_available', 'is_mlu_available', 'is_musa_available')
    return any(getattr(device, name, lambda: False)() for name in checks)


def _common(cfg: Config, args) -> Config:
    """launcher, --cfg-options, work_dir (CLI > config > ./work_dirs/<config stem>), default scope."""
    cfg.launcher = getattr(args, 'launcher', 'none')
    cfg_options = getattr(args, 'cfg_options', None)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if getattr(args, 'work_dir', None) is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if cfg.get('default_scope', None) is None:
        cfg.default_scope = 'mmdet'  # our modules live in mmdet's registries
    return cfg


def setup_train_cfg(cfg: Config, args) -> Config:
    """Apply the ``tools/train.py`` options (mmdet semantics) to ``cfg``; a ``train_cfg.max_iters`` override
    moves the end of the schedulers that ended at the config's length (:func:`.follow_max_iters`)."""
    max_iters = max_iters_of(cfg)
    cfg = _common(cfg, args)
    follow_max_iters(cfg, max_iters, getattr(args, 'cfg_options', None) or {})
    check_sampler_fits_loop(cfg)
    if getattr(args, 'amp', False):
        if not _amp_device_available():
            raise RuntimeError("--amp needs a GPU (CUDA, NPU, MLU or MUSA): mmengine's AmpOptimWrapper does not run "
                               'on CPU and no such device is available here. Train without --amp on CPU (float32).')
        wrapper = str(cfg.optim_wrapper.get('type', 'OptimWrapper')).rsplit('.', 1)[-1]
        if wrapper not in AMP_WRAPPERS:
            raise ValueError(f'--amp: no AMP counterpart known for optim_wrapper type {wrapper!r} '
                             f'(known: {sorted(AMP_WRAPPERS)}); set the AMP wrapper type in the config instead')
        cfg.optim_wrapper.type = AMP_WRAPPERS[wrapper]
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if getattr(args, 'auto_scale_lr', False):
        asl = cfg.get('auto_scale_lr', None)
        if not asl or 'enable' not in asl or 'base_batch_size' not in asl:
            raise RuntimeError('--auto-scale-lr: the config needs `auto_scale_lr = dict(enable=..., '
                               'base_batch_size=...)`')
        cfg.auto_scale_lr.enable = True
    resume = getattr(args, 'resume', None)
    if resume == 'auto':  # latest checkpoint of work_dir
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = resume
    check_metainfo_applied(cfg)  # a top-level metainfo that the datasets of a _base_ never received
    return add_default_hooks(cfg, train=True)


#: ground-truth loaders of test pipelines, by the kind of data they read
GT_LOADERS = {
    'panoptic': ('LoadPanopticAnnotations', 'LoadPanopticTestAnnotations', 'LoadPanopticSegments'),
    'semantic': ('LoadSemSegMap', 'LoadSemSegAsSegments'),
    'instance': ('LoadAnnotations', ),
}
#: the shipped TTA bases (configs/_base_/tta/) per kind of data
TTA_BASES = {
    'panoptic': 'oneformer_tta_ade20k.py (or _512 / _896 / _1280) or oneformer_tta_cityscapes.py',
    'semantic': 'oneformer_tta_semantic.py',
}


def _gt_loaders(pipeline) -> List[dict]:
    """The ground-truth loader configs of a pipeline, those nested in ``TestTimeAug`` included (same objects)."""
    found = []
    for t in pipeline or []:
        if not isinstance(t, dict):
            continue
        if metric_type_name(t) == 'TestTimeAug':
            for options in t.get('transforms', []):
                found += _gt_loaders(options)
        elif any(metric_type_name(t) in names for names in GT_LOADERS.values()):
            found.append(t)
    return found


def _data_kind(loaders: List[dict]) -> Optional[str]:
    for loader in loaders:
        for kind, names in GT_LOADERS.items():
            if metric_type_name(loader) in names:
                return kind
    return None


def _match_tta_loaders(tta_pipeline, test_pipeline) -> None:
    """The TTA pass must read the ground truth as the test pipeline does: same kind of data (a panoptic TTA
    pipeline on semantic data is refused, naming the base to use); a TTA loader of the same type takes the
    arguments it leaves out (``num_classes``, ``reduce_zero_label``, ...) from the test pipeline's; an argument set
    to another value is refused."""
    test_loaders = _gt_loaders(test_pipeline)
    test_kind = _data_kind(test_loaders)
    tta_loaders = _gt_loaders(tta_pipeline)
    tta_kind = _data_kind(tta_loaders)
    if test_kind is None or tta_kind is None:
        return
    if tta_kind != test_kind:
        names = sorted({metric_type_name(t) for t in tta_loaders})
        hint = (f'use configs/_base_/tta/{TTA_BASES[test_kind]}' if test_kind in TTA_BASES else
                f'load the ground truth with {metric_type_name(test_loaders[0])} in tta_pipeline')
        raise ValueError(f'--tta: tta_pipeline reads {tta_kind} ground truth ({", ".join(names)}) but the test data '
                         f'are {test_kind} ({metric_type_name(test_loaders[0])} in the test pipeline); {hint}')
    reference = {metric_type_name(t): t for t in test_loaders}
    for loader in tta_loaders:
        ref = reference.get(metric_type_name(loader))
        if ref is None:
            continue
        for key, value in ref.items():
            if key == 'type':
                continue
            if key not in loader:
                loader[key] = copy.deepcopy(value)
            elif loader[key] != value:
                raise ValueError(f'--tta: {metric_type_name(loader)} has {key}={loader[key]!r} in tta_pipeline but '
                                 f'{key}={value!r} in the test pipeline; the TTA pass must read the labels as the '
                                 f'plain test does: remove {key} from tta_pipeline or make them equal')


def enable_tta(cfg: Config) -> Config:
    """``--tta``: wrap ``model`` in ``tta_model`` and test with ``tta_pipeline`` (mmdet's ``tools/test.py``).

    Unlike mmdet, a config without them is an error rather than a detection default: OneFormer's TTA is the
    official multi-scale + flip semantic evaluation, whose scales are per dataset (``TEST.AUG`` of the official
    yamls); ``configs/_base_/tta/oneformer_tta_{ade20k,cityscapes}.py`` provide them for panoptic data,
    ``oneformer_tta_semantic.py`` for semantic-only data (``custom_semantic.py``). The TTA pipeline's ground-truth
    loader must read the same kind of data as the test pipeline's and takes the arguments it leaves out from it
    (see :func:`_match_tta_loaders`).

    Raises:
        KeyError: if the config has no ``tta_model`` or ``tta_pipeline`` (naming the base for its kind of data).
        ValueError: if the TTA pipeline reads another kind of ground truth, or reads it with other arguments.
    """
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:  # dataset wrappers (ClassBalancedDataset, ...)
        dataset = dataset.dataset
    kind = _data_kind(_gt_loaders(dataset.get('pipeline', None)))
    missing = [key for key in ('tta_model', 'tta_pipeline') if cfg.get(key, None) is None]
    if missing:
        bases = ([TTA_BASES[kind]] if kind in TTA_BASES else
                 [f'{b} ({k} data)' for k, b in TTA_BASES.items()])
        raise KeyError(f'--tta: the config has no {" / ".join(missing)}; add configs/_base_/tta/'
                       f'{" or ".join(bases)} (official multi-scale + flip semantic TTA) to its _base_, or define '
                       'tta_model = dict(type=\'OneFormerTTAModel\', ...) and tta_pipeline = [..., '
                       'dict(type=\'TestTimeAug\', ...)]')
    tta_pipeline = copy.deepcopy(cfg.tta_pipeline)
    _match_tta_loaders(tta_pipeline, dataset.get('pipeline', None))
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    dataset.pipeline = tta_pipeline
    return cfg


def setup_test_cfg(cfg: Config, args) -> Config:
    """Apply the ``tools/test.py`` options to ``cfg``: checkpoint, --task, --task-token, --tta, --out,
    --show(-dir), summary hook."""
    cfg = _common(cfg, args)
    cfg.load_from = args.checkpoint
    task, task_token = getattr(args, 'task', None), getattr(args, 'task_token', None)
    if task is not None or task_token is not None:
        cfg = set_test_tasks(cfg, task, task_token)
    if getattr(args, 'tta', False):  # after --task: it edits model.test_cfg of the detector, not of the wrapper
        cfg = enable_tta(cfg)
    out = getattr(args, 'out', None)
    if out is not None:
        if not out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl/.pickle file, got {out!r}')
        metrics, rebuild = _split_evaluator(cfg.get('test_evaluator', None) or [])
        cfg.test_evaluator = rebuild(metrics + [ConfigDict(type='DumpDetResults', out_file_path=out)])
    if getattr(args, 'show', False) or getattr(args, 'show_dir', None):
        from mmdet.engine.hooks.utils import trigger_visualization_hook
        args.show = getattr(args, 'show', False)
        args.wait_time = getattr(args, 'wait_time', 2)
        cfg = trigger_visualization_hook(cfg, args)
    check_metainfo_applied(cfg, loaders=('test_dataloader', ))
    return add_default_hooks(add_summary_hook(cfg), train=False)

