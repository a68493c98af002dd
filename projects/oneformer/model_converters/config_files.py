"""The ``config.py`` the converters write: where its base configs live, which dataset it evaluates on, its text.

The written config inherits this project's base configs by absolute path. They are looked up like mim does
(``mim`` resolves a package's configs as ``<installed package>/.mim/configs``; ``setup.py`` copies ``configs/`` there
in a wheel / non-editable install and links it in a source checkout), falling back to the ``configs/`` folder of
the source checkout the package is imported from.
"""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

MODEL_BASE = ('_base_', 'models', 'oneformer_r50.py')
RUNTIME_BASE = ('_base_', 'default_runtime.py')


def configs_root() -> str:
    """The ``configs`` folder of the imported ``oneformer`` package (installed ``.mim/configs`` or checkout).

    Raises:
        FileNotFoundError: Neither location holds ``_base_/models/oneformer_r50.py``.
    """
    import oneformer
    package = osp.dirname(osp.realpath(oneformer.__file__))
    candidates = [osp.join(package, '.mim', 'configs'),  # pip install . / wheel (setup.py BuildPyWithMim)
                  osp.join(osp.dirname(osp.dirname(package)), 'configs')]  # source checkout: projects/oneformer
    for root in candidates:
        if osp.isfile(osp.join(root, *MODEL_BASE)):
            return osp.realpath(root)
    raise FileNotFoundError(f'no OneFormer base configs (_base_/models/oneformer_r50.py) under {candidates}: '
                            'reinstall the package (pip install .) or run from a source checkout')


def base_config(*parts: str) -> str:
    """Absolute path of a config under :func:`configs_root`, which must exist."""
    path = osp.join(configs_root(), *parts)
    if not osp.isfile(path):
        raise FileNotFoundError(f'base config {path} does not exist')
    return path


def repo_base_configs() -> List[str]:
    """The bases of a config without dataset: the model base and the runtime."""
    return [base_config(*MODEL_BASE), base_config(*RUNTIME_BASE)]


# ------------------------------------------------------------------------------------------------------- datasets
#: ``--dataset`` names -> dataset base(s) under ``_base_/datasets`` (keyed by the test short edge where a dataset has
#: several: the ADE20K crops of the official yamls), schedule base, official ``MODEL.TEST.OBJECT_MASK_THRESHOLD``.
BUILTIN_DATASETS = {
    'coco': dict(datasets={None: 'coco_panoptic.py'}, schedule='schedule_coco_100e.py', object_mask_thr=0.8),
    'ade20k': dict(datasets={512: 'ade20k_panoptic.py', 640: 'ade20k_panoptic_640.py', 896: 'ade20k_panoptic_896.py',
                             1280: 'ade20k_panoptic_1280.py'},
                   schedule='schedule_ade20k_160k.py', object_mask_thr=0.5),
    'cityscapes': dict(datasets={None: 'cityscapes_panoptic.py'}, schedule='schedule_cityscapes_90k.py',
                       object_mask_thr=0.8),
    'mapillary': dict(datasets={None: 'mapillary_panoptic.py'}, schedule='schedule_mapillary_300k.py',
                      object_mask_thr=0.8),
}


def _pick_base(files: Dict[Optional[int], str], test_short_edge: Optional[int]) -> str:
    """The base matching the test short edge, else the one without a size, else the largest not above it."""
    if test_short_edge in files:
        return files[test_short_edge]
    if None in files:
        return files[None]
    sizes = sorted(files)
    below = [size for size in sizes if test_short_edge is not None and size <= test_short_edge]
    return files[below[-1] if below else sizes[0]]


@dataclass
class DatasetChoice:
    """What ``--dataset`` resolved to.

    Attributes:
        name (str | None): The built-in name ('coco', ...) or None for a config file.
        bases (list[str]): Absolute paths the written config inherits (dataset, then schedule if any).
        metainfo (dict): ``classes`` / ``thing_classes`` (things first) of its test dataset.
        object_mask_thr (float | None): The official threshold of a built-in dataset.
        test_scale (tuple | None): ``Resize`` scale (long, short) of its test pipeline, if it has one.
        test_pipeline (list | None): Its test pipeline (resolved values).
        extra (dict): Extra top-level config entries (loops a config file lacks).
    """
    name: Optional[str]
    bases: List[str]
    metainfo: Dict
    object_mask_thr: Optional[float] = None
    test_scale: Optional[Tuple[int, int]] = None
    test_pipeline: Optional[list] = None
    extra: Dict = field(default_factory=dict)


def _dataset_metainfo(cfg, path: str) -> Dict:
    """classes / thing_classes of the config's test dataset (registry ``METAINFO`` updated by ``metainfo``)."""
    from mmdet.registry import DATASETS

    import oneformer.datasets  # noqa: F401  (registers the OneFormer datasets)
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    if not loader or 'dataset' not in loader:
        raise ValueError(f'{path} has no test_dataloader.dataset: not a dataset config')
    ds = loader['dataset']
    cls = DATASETS.get(ds['type']) if isinstance(ds.get('type'), str) else ds.get('type')
    if cls is None:
        raise ValueError(f'{path}: dataset type {ds.get("type")!r} is not registered in mmdet DATASETS')
    meta = dict(getattr(cls, 'METAINFO', {}))
    meta.update(ds.get('metainfo') or {})
    if 'classes' not in meta:
        raise ValueError(f'{path}: the test dataset has no class names (metainfo.classes)')
    if isinstance(meta['classes'], str):
        raise ValueError(f'{path}: the test dataset reads its classes from the annotation file '
                         f'(metainfo.classes={meta["classes"]!r}); the converter needs the class names in the config')
    classes = list(meta['classes'])
    if 'thing_classes' in meta:
        things = list(meta['thing_classes'])
    elif cfg.get('num_things_classes') is not None:
        things = classes[:cfg['num_things_classes']]
    else:
        raise ValueError(f'{path}: cannot tell thing from stuff classes (no metainfo.thing_classes, no '
                         'num_things_classes)')
    return dict(classes=tuple(classes), thing_classes=tuple(things), stuff_classes=tuple(classes[len(things):]))


def _test_pipeline(cfg) -> Tuple[Optional[list], Optional[Tuple[int, int]]]:
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    pipeline = (loader.get('dataset') or {}).get('pipeline')
    if not pipeline:
        return None, None
    pipeline = [dict(step) for step in pipeline]
    resizes = [step for step in pipeline if step.get('type') == 'Resize']
    scale = tuple(resizes[0]['scale']) if len(resizes) == 1 and 'scale' in resizes[0] else None
    return pipeline, scale


def resolve_dataset(dataset: str, test_short_edge: Optional[int] = None) -> DatasetChoice:
    """Resolve ``--dataset`` to the base configs the written config inherits.

    Args:
        dataset (str): 'coco', 'ade20k', 'cityscapes', 'mapillary' or the path of a dataset config (one defining
            the dataloaders and evaluators, not a model).
        test_short_edge (int, optional): The source model's test resize (short edge), used to pick among the
            ADE20K bases (512, 640, 896, 1280).

    Raises:
        FileNotFoundError: A built-in dataset without a base config here, or a missing file.
        ValueError: The file is not a dataset config.
    """
    from mmengine.config import Config
    if dataset in BUILTIN_DATASETS:
        spec = BUILTIN_DATASETS[dataset]
        root = configs_root()
        files = {size: osp.join(root, '_base_', 'datasets', name) for size, name in spec['datasets'].items()}
        files = {size: path for size, path in files.items() if osp.isfile(path)}
        if not files:
            raise FileNotFoundError(f'--dataset {dataset}: no dataset base config {list(spec["datasets"].values())} '
                                    f'in {osp.join(root, "_base_", "datasets")} (this project has no {dataset} '
                                    'dataset config yet); pass --dataset PATH_TO_A_DATASET_CONFIG of your own')
        path = _pick_base(files, test_short_edge)
        schedule = osp.join(root, '_base_', 'schedules', spec['schedule'])
        bases = [path] + ([schedule] if osp.isfile(schedule) else [])
        extra = {} if osp.isfile(schedule) else dict(val_cfg=dict(type='ValLoop'), test_cfg=dict(type='TestLoop'))
        thr, name = spec['object_mask_thr'], dataset
    else:
        path = osp.abspath(dataset)
        if not osp.isfile(path):
            raise FileNotFoundError(f'--dataset {dataset}: not one of {sorted(BUILTIN_DATASETS)} and no such file')
        bases, thr, name = [path], None, None
    cfg = Config.fromfile(path)
    if name is None:
        if 'model' in cfg:
            raise ValueError(f'{path} defines a model: pass a dataset config (like configs/_base_/datasets/*.py), '
                             'the written config brings its own model')
        # loops that tools/test.py needs, unless the file defines them (mmengine refuses a key from two bases)
        extra = {k: dict(type=t) for k, t in (('val_cfg', 'ValLoop'), ('test_cfg', 'TestLoop')) if k not in cfg}
        if cfg.get('train_dataloader') and not (cfg.get('train_cfg') and cfg.get('optim_wrapper')):
            # mmengine's Runner wants the training trio complete or absent: without a schedule for this dataset
            # the config evaluates only (add a schedule and the train_dataloader to fine-tune)
            extra['train_dataloader'] = None
    pipeline, scale = _test_pipeline(cfg)
    return DatasetChoice(name=name, bases=bases, metainfo=_dataset_metainfo(cfg, path), object_mask_thr=thr,
                         test_scale=scale, test_pipeline=pipeline, extra=extra)


def resize_like_source(choice: DatasetChoice, test_size: Optional[Tuple[int, int]]) -> Dict:
    """Config entries resizing test images like the source model (short edge, long-edge cap), if that differs.

    Args:
        choice (DatasetChoice): The resolved dataset.
        test_size (tuple, optional): (short, long) of the source model's test resize.

    Returns:
        dict: ``test_pipeline`` / ``val_dataloader`` / ``test_dataloader`` overrides, empty if nothing changes.
    """
    if test_size is None or choice.test_pipeline is None or choice.test_scale is None:
        return {}
    short, long = test_size
    if tuple(choice.test_scale) == (long, short):
        return {}
    pipeline = [dict(step, scale=(long, short)) if step.get('type') == 'Resize' else step
                for step in choice.test_pipeline]
    return dict(test_pipeline=pipeline, val_dataloader=dict(dataset=dict(pipeline=pipeline)),
                test_dataloader=dict(dataset=dict(pipeline=pipeline)))


# ----------------------------------------------------------------------------------------------------- config text
def _inline(obj) -> str:
    if isinstance(obj, dict):
        return 'dict(' + ', '.join(f'{k}={_inline(v)}' for k, v in obj.items()) + ')'
    if isinstance(obj, list):
        return '[' + ', '.join(_inline(v) for v in obj) + ']'
    if isinstance(obj, tuple):
        return '(' + ', '.join(_inline(v) for v in obj) + (',)' if len(obj) == 1 else ')')
    return repr(obj)


def format_value(obj, indent: int = 0, column: Optional[int] = None, width: int = 120) -> str:
    """OpenMMLab-style Python source for a config value: inline when it fits, else one entry per line (scalars of a
    long list / tuple filled into lines).

    Args:
        obj: A dict / list / tuple / scalar.
        indent (int): Indentation of the line the value starts on.
        column (int, optional): Column the value starts at (default ``indent``).
        width (int): Maximum line length.
    """
    column = indent if column is None else column
    inline = _inline(obj)
    if column + len(inline) <= width or not isinstance(obj, (dict, list, tuple)) or not obj:
        return inline
    pad = ' ' * (indent + 4)
    if isinstance(obj, dict):
        items = [f'{pad}{k}={format_value(v, indent + 4, indent + 5 + len(str(k)), width)}' for k, v in obj.items()]
        return 'dict(\n' + ',\n'.join(items) + ')'
    open_, close = ('[', ']') if isinstance(obj, list) else ('(', ',)')
    if all(isinstance(v, (str, int, float, bool, type(None))) for v in obj):  # fill lines
        lines, line = [], ''
        for text in (repr(v) + ',' for v in obj):
            if line and len(pad) + len(line) + 1 + len(text) > width:
                lines.append(line)
                line = ''
            line = f'{line} {text}' if line else text
        lines.append(line)
        body = '\n'.join(pad + ln for ln in lines)
        return f'{open_}\n{body[:-1]}{close}' if isinstance(obj, list) else f'{open_}\n{body})'
    items = [pad + format_value(v, indent + 4, None, width) for v in obj]
    return open_ + '\n' + ',\n'.join(items) + close


def config_text(model: Dict, bases: Sequence[str], extra_imports: List[str], header: str,
                load_from: Optional[str] = None, extra: Optional[Dict] = None) -> str:
    """A config file inheriting from ``bases`` (absolute paths) with ``model`` overrides.

    Args:
        model (dict): The ``model`` overrides.
        bases (Sequence[str]): Absolute paths of the base configs, in ``_base_`` order.
        extra_imports (list[str]): Modules to import besides ``oneformer`` (e.g. ``mmpretrain.models``).
        header (str): Comment lines at the top.
        load_from (str, optional): ``load_from`` (the converted weights).
        extra (dict, optional): Further top-level entries, written after ``model`` in order.
    """
    missing = [b for b in bases if not osp.isfile(b)]
    if missing:
        raise FileNotFoundError(f'base configs {missing} not found')
    imports = ['oneformer'] + extra_imports
    lines = [f'# {line}' if line else '#' for line in header.splitlines()]
    lines += ['_base_ = [' + ''.join(f'\n    {b!r},' for b in bases) + '\n]', '',
              f'custom_imports = dict(imports={imports!r}, allow_failed_imports=False)', '',
              f'model = {format_value(model, 0, len("model = "))}', '']
    for key, value in (extra or {}).items():
        lines += [f'{key} = {format_value(value, 0, len(key) + 3)}', '']
    if load_from:
        lines += [f'load_from = {load_from!r}', '']
    return '\n'.join(lines)


def write_converted(out_dir: str, state_dict: Dict, dataset_meta: Dict, model: Dict,
                    choice: Optional[DatasetChoice], test_size: Optional[Tuple[int, int]], header: str,
                    **meta) -> Tuple[str, str]:
    """Write ``out_dir/model.pth`` (``state_dict`` + ``meta.dataset_meta``) and ``out_dir/config.py``.

    Args:
        out_dir (str): Output folder (created).
        state_dict (dict): Converted tensors.
        dataset_meta (dict): ``classes`` / ``thing_classes`` / ``stuff_classes`` in our order.
        model (dict): ``model`` overrides of the model base.
        choice (DatasetChoice, optional): The dataset the config evaluates on (its bases are inherited); None
            writes an inference-only config (model, runtime, ``metainfo``).
        test_size (tuple, optional): (short, long) test resize of the source model; overrides the dataset's test
            resize when they differ.
        header (str): Comment lines at the top of the config.
        **meta: Further ``meta`` entries of the checkpoint (source, converter).

    Returns:
        tuple: Paths of the checkpoint and of the config.
    """
    import torch
    os.makedirs(out_dir, exist_ok=True)
    ckpt_path = osp.abspath(osp.join(out_dir, 'model.pth'))
    cfg_path = osp.join(out_dir, 'config.py')
    extra_imports = ['mmpretrain.models'] if str(model['backbone'].get('type', '')).startswith('mmpretrain.') else []
    if choice is None:
        bases = repo_base_configs()
        extra = dict(metainfo={k: dataset_meta[k] for k in ('classes', 'thing_classes', 'stuff_classes')})
        header += ('\nInference only: no dataset. Convert with --dataset (or add a dataset config to _base_) to '
                   'evaluate or fine-tune.')
    else:
        bases = [base_config(*MODEL_BASE)] + choice.bases + [base_config(*RUNTIME_BASE)]
        extra = dict(choice.extra, **resize_like_source(choice, test_size))
        header += (f'\nEvaluates on {choice.name or choice.bases[0]}:\n'
                   f'    python tools/test.py {osp.abspath(cfg_path)} {ckpt_path}')
    text = config_text(model, bases, extra_imports, header, load_from=ckpt_path, extra=extra)
    torch.save(dict(state_dict=state_dict, meta=dict(dataset_meta=dataset_meta, **meta)), ckpt_path)
    with open(cfg_path, 'w', encoding='utf-8') as f:
        f.write(text)
    return ckpt_path, cfg_path
