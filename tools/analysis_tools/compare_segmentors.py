"""OneFormer trained once, jointly, against Mask2Former trained once per task (issue 15), in one command.

    python tools/analysis_tools/compare_segmentors.py                      # `make compare`: the synthetic default
    python tools/analysis_tools/compare_segmentors.py --iters 100 --work-dir work_dirs/compare_quick
    python tools/analysis_tools/compare_segmentors.py --with-maskformer    # + MaskFormer (panoptic, mmdet)

On one COCO-panoptic dataset (``--dataset``, a dataset base config; default the synthetic shapes of ``make demo``)
and one budget (``--iters`` iterations of ``--batch`` images per training run) it trains and evaluates on the same
split, with the same augmentation, schedule, backbone and widths:

* OneFormer once, jointly on the three tasks (``configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py``,
  the ``make demo`` model); PQ, AP and mIoU come from one evaluation pass;
* Mask2Former three times, one run per task, each with OneFormer's budget (3x its total, as in the paper):
  panoptic and instance with mmdet (``Mask2Former`` + ``Mask2FormerHead`` + ``MaskFormerFusionHead``, scored by
  ``CocoPanopticMetric`` / ``CocoMetric`` segm), semantic with mmseg (``EncoderDecoder`` + ``Mask2FormerHead``,
  ``IoUMetric``: mmdet's fusion head has no semantic inference) on label maps derived from the panoptic PNGs;
* optionally MaskFormer (mmdet, panoptic) with ``--with-maskformer``.

The peers' configs are ``configs/compare/*_synthetic-*.py`` (children of the mmdet / mmseg recipes). For another
dataset base the tool points them at its files, classes and augmentation (see :func:`retarget_peer`).

Outputs under ``--work-dir`` (default ``work_dirs/compare``): one folder per training run (log, checkpoint,
``result.json``), ``results.json`` (one entry per training run and one per model: tasks trained, iterations,
training seconds, parameters, FLOPs, inference seconds per image, ``PQ`` / ``AP`` / ``mIoU``), the same table in
``results.md`` and the plot ``compare.png``. A run whose ``result.json`` matches the current settings is not
retrained, an interrupted one resumes from its last checkpoint (``--checkpoint-interval``): rerunning the command
finishes a comparison. Seeds are fixed (``randomness.seed``, deterministic algorithms): two runs give the same
metrics; times depend on the machine's load.
"""
import argparse
import copy
import gc
import hashlib
import json
import os
import os.path as osp
import platform
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

# Idle OpenMP threads sleep instead of spinning (set before torch loads its OpenMP runtime; an explicit setting wins).
# Spinning threads of several processes on a shared CPU make each training step 10-50x slower (measured here: a
# 2-thread Mask2Former step took 50-80 s instead of 0.6-0.9 s next to other torch jobs); on an idle machine either
# policy gives about the same times.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.realpath(__file__))))
DEFAULT_DATASET = osp.join(REPO, 'configs', '_base_', 'datasets', 'synthetic_panoptic.py')
DEFAULT_ONEFORMER = osp.join(REPO, 'configs', 'oneformer', 'oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py')
COMPARE_CONFIGS = osp.join(REPO, 'configs', 'compare')
DEFAULT_ITERS = 600  # ~15 min for the four runs on 2 idle CPU cores (docs/compare.md)
SCHEMA_VERSION = 1
METRICS = ('PQ', 'AP', 'mIoU')
TASK_METRIC = {'panoptic': 'PQ', 'instance': 'AP', 'semantic': 'mIoU'}
ALL_TASKS = ('panoptic', 'instance', 'semantic')
PANOPTIC2INSTANCE = 'tools/dataset_converters/panoptic2instance.py'


class CompareError(RuntimeError):
    """A comparison that cannot run as asked (missing annotation, unusable dataset config, stale work dir)."""


@dataclass(frozen=True)
class RunSpec:
    """One training run of the comparison.

    Attributes:
        name: Folder name of the run under the work dir.
        model: Model family shown in the table (``OneFormer``, ``Mask2Former``, ``MaskFormer``).
        library: ``oneformer``, ``mmdet`` or ``mmseg`` (decides how the config is pointed at the data).
        tasks: Tasks the run trains on and is evaluated for.
        config: Config file of the run (for the synthetic default data).
        kind: ``oneformer``, ``panoptic``, ``instance`` or ``semantic`` (what the run reads).
    """
    name: str
    model: str
    library: str
    tasks: Tuple[str, ...]
    config: str
    kind: str


def _peer_config(name: str) -> str:
    """Template (``{}`` = task) of the synthetic-data config of peer ``name`` in ``configs/compare/``."""
    return osp.join(COMPARE_CONFIGS, f'{name}_r18-tiny_1xb4-1k_synthetic-{{}}-128x128.py')


MASK2FORMER_RUNS = tuple(
    RunSpec(f'mask2former_{task}', 'Mask2Former', 'mmseg' if task == 'semantic' else 'mmdet', (task, ),
            _peer_config('mask2former').format(task), task) for task in ALL_TASKS)
MASKFORMER_RUN = RunSpec('maskformer_panoptic', 'MaskFormer', 'mmdet', ('panoptic', ),
                         _peer_config('maskformer').format('panoptic'), 'panoptic')


def oneformer_run(config: str) -> RunSpec:
    """The joint OneFormer run with model config ``config``."""
    return RunSpec('oneformer', 'OneFormer', 'oneformer', ALL_TASKS, config, 'oneformer')


# ---------------------------------------------------------------------------------------------------- dataset
@dataclass
class DatasetInfo:
    """Where a COCO-panoptic dataset base config keeps its files, and its classes.

    Paths are relative to ``data_root`` unless absolute. ``cfg`` is the loaded dataset base config.
    """
    base: str
    cfg: object
    base_root: str
    data_root: str
    classes: Tuple[str, ...]
    thing_classes: Tuple[str, ...]
    stuff_classes: Tuple[str, ...]
    splits: Dict[str, Dict[str, str]] = field(default_factory=dict)  # split -> ann_file, img, seg, instance_ann

    def path(self, rel: str) -> str:
        """Absolute path of a file given relative to the data root."""
        return rel if osp.isabs(rel) else osp.join(self.data_root, rel)

    def semantic_dir(self, split: str) -> str:
        """Folder (relative to the data root) of the semantic label maps derived from ``split``'s panoptic PNGs."""
        seg = self.splits[split]['seg'].rstrip('/')
        parent, name = osp.split(seg)
        name = name.replace('panoptic', 'semantic') if 'panoptic' in name else name + '_semantic'
        return osp.join(parent, name) + '/'


def _strip_root(path: str, root: str) -> str:
    """``path`` relative to ``root`` when it starts with it (config evaluators spell ``data_root + 'file'``)."""
    root = root.rstrip('/') + '/'
    return path[len(root):] if path.startswith(root) else path


def _swap_split(path: str, src: str, dst: str) -> str:
    """``path`` of split ``src`` turned into the one of split ``dst`` (``instances_val.json`` -> ``..._train``):
    the tokens that differ between the two splits' panoptic JSON names are swapped in the file name."""
    a, b = osp.basename(src), osp.basename(dst)
    prefix = len(osp.commonprefix([a, b]))
    suffix = len(osp.commonprefix([a[::-1], b[::-1]]))
    tok_a, tok_b = a[prefix:len(a) - suffix], b[prefix:len(b) - suffix]
    head, name = osp.split(path)
    if not tok_a or tok_a not in name:
        return ''
    return osp.join(head, name.replace(tok_a, tok_b))


def _instance_name(panoptic_ann: str) -> str:
    """Default name of a split's COCO instance JSON: its panoptic JSON's with ``panoptic`` -> ``instances``."""
    head, name = osp.split(panoptic_ann)
    return osp.join(head, name.replace('panoptic', 'instances') if 'panoptic' in name else 'instances_' + name)


def read_dataset(base: str, data_root: Optional[str] = None, instance_anns: Sequence[Optional[str]] = (None, None)
                 ) -> DatasetInfo:
    """Read the files and classes of a COCO-panoptic dataset base config.

    Args:
        base: Dataset base config (e.g. ``configs/_base_/datasets/synthetic_panoptic.py``): a train and a val
            dataloader whose datasets have ``data_root``, ``ann_file`` (COCO panoptic JSON) and
            ``data_prefix=dict(img=..., seg=...)``, classes in ``metainfo`` or in the dataset class' ``METAINFO``
            (``classes``, ``thing_classes``, ``stuff_classes``, things first).
        data_root: Use this data root instead of the config's.
        instance_anns: COCO instance JSONs of the train and val split (relative to the data root); ``None``: the
            val one of the config's ``CocoMetric``, the train one named alike.

    Returns:
        DatasetInfo: The dataset's files and classes.

    Raises:
        CompareError: The config does not describe a COCO-panoptic dataset.
    """
    from mmdet.registry import DATASETS
    from mmengine.config import Config
    if not osp.isfile(base):
        raise CompareError(f'dataset base config not found: {base}')
    cfg = Config.fromfile(base)
    splits = {}
    for split, loader in (('train', 'train_dataloader'), ('val', 'val_dataloader')):
        ds = cfg.get(loader, {}).get('dataset')
        prefix = (ds or {}).get('data_prefix') or {}
        if not ds or 'ann_file' not in ds or 'img' not in prefix or 'seg' not in prefix:
            raise CompareError(f'{base}: {loader}.dataset needs ann_file and data_prefix=dict(img=..., seg=...) '
                               '(a COCO-panoptic dataset, like configs/_base_/datasets/synthetic_panoptic.py)')
        splits[split] = dict(ann_file=ds.ann_file, img=prefix['img'], seg=prefix['seg'], type=ds.type,
                             root=ds.get('data_root', ''))
    base_root = splits['train']['root']
    meta = dict(cfg.train_dataloader.dataset.get('metainfo') or {})
    if not meta.get('classes'):
        try:
            meta = dict(getattr(DATASETS.get(splits['train']['type']), 'METAINFO', {}))
        except KeyError:
            meta = {}
    missing = [k for k in ('classes', 'thing_classes', 'stuff_classes') if k not in meta]
    if missing:
        raise CompareError(f'{base}: the train dataset has no {missing} (in metainfo or its class METAINFO); the '
                           'panoptic peers need the thing / stuff split')
    classes, things, stuff = (tuple(meta[k]) for k in ('classes', 'thing_classes', 'stuff_classes'))
    if classes != things + stuff:
        raise CompareError(f'{base}: classes must be thing_classes followed by stuff_classes, got {classes}')
    val_instance = None
    for metric in cfg.get('val_evaluator') or []:
        if metric.get('type') == 'CocoMetric' and metric.get('ann_file'):
            val_instance = _strip_root(metric['ann_file'], base_root)
    val_instance = instance_anns[1] or val_instance or _instance_name(splits['val']['ann_file'])
    train_instance = instance_anns[0] or _swap_split(val_instance, splits['val']['ann_file'],
                                                     splits['train']['ann_file']) or _instance_name(
                                                         splits['train']['ann_file'])
    splits['val']['instance_ann'] = val_instance
    splits['train']['instance_ann'] = train_instance
    root = osp.abspath(data_root or base_root or '.')
    return DatasetInfo(base=osp.abspath(base), cfg=cfg, base_root=base_root, data_root=root.rstrip('/') + '/',
                       classes=classes, thing_classes=things, stuff_classes=stuff, splits=splits)


def ensure_synthetic(ds: DatasetInfo) -> bool:
    """Generate the synthetic dataset (as ``make demo`` does) when the base is the synthetic one and it is missing.

    Returns:
        bool: Whether data was generated.
    """
    if ds.splits['train']['type'] != 'SyntheticPanopticDataset':
        return False
    if all(osp.isfile(ds.path(ds.splits[s]['ann_file'])) for s in ('train', 'val')):
        return False
    from oneformer.dataset_converters import generate_synthetic_panoptic
    print(f'[compare] generating the synthetic panoptic dataset in {ds.data_root} ...', flush=True)
    generate_synthetic_panoptic(ds.data_root)
    return True


def check_data(ds: DatasetInfo, runs: Sequence[RunSpec]) -> None:
    """Fail before any training when a requested run cannot read the dataset.

    Raises:
        CompareError: Naming the missing file and the command that makes it.
    """
    for split in ('train', 'val'):
        info = ds.splits[split]
        for key, what in (('ann_file', 'COCO panoptic JSON'), ('img', 'image folder'), ('seg', 'panoptic PNG folder')):
            path = ds.path(info[key])
            if not (osp.isfile(path) if key == 'ann_file' else osp.isdir(path)):
                raise CompareError(f'{split} {what} not found: {path} (dataset base {ds.base}, data root '
                                   f'{ds.data_root}; pass --data-root if the data lives elsewhere)')
    needs_instances = {'val': [r.name for r in runs if 'instance' in r.tasks],
                       'train': [r.name for r in runs if r.kind == 'instance']}
    for split in ('train', 'val'):
        if not needs_instances[split]:
            continue
        info = ds.splits[split]
        rel = info['instance_ann']
        path = ds.path(rel) if rel else None
        if path and osp.isfile(path):
            continue
        target = path or ds.path(f'annotations/instances_{split}.json')
        purpose = 'training' if split == 'train' else 'mask AP'
        raise CompareError(
            f'the COCO instance annotation of the {split} split is missing: {target} (needed by '
            f'{", ".join(needs_instances[split])} for {purpose}). Make it from the panoptic annotation with:\n'
            f'    python {PANOPTIC2INSTANCE} {ds.path(info["ann_file"])} {ds.path(info["seg"])} {target}\n'
            f'or pass its path with --instance-{split}-ann.')


def make_semantic_labels(ds: DatasetInfo, split: str, quiet: bool = False) -> str:
    """Write the semantic label maps of ``split`` derived from its panoptic PNGs (once; a stamp records the source).

    Each pixel gets the class index of its segment (``classes`` order, things first), 255 where no segment is
    (void) or the category is not among ``classes``: the semantic ground truth OneFormer's evaluation reads from the
    same PNGs (``LoadPanopticAnnotations``). One PNG per image, named like the image.

    Args:
        ds: The dataset.
        split: ``train`` or ``val``.
        quiet: Do not print progress.

    Returns:
        str: The folder of the label maps (absolute).
    """
    import cv2
    import numpy as np

    from oneformer.dataset_converters import read_panoptic_png
    info = ds.splits[split]
    ann_path = ds.path(info['ann_file'])
    out_dir = ds.path(ds.semantic_dir(split))
    stamp_path = osp.join(out_dir, '.source.json')
    with open(ann_path, 'rb') as f:
        digest = hashlib.sha1(f.read()).hexdigest()
    stamp = dict(ann_file=ann_path, sha1=digest, classes=list(ds.classes))
    if osp.isfile(stamp_path):
        with open(stamp_path) as f:
            if json.load(f) == stamp:
                return out_dir
    if len(ds.classes) > 255:
        raise CompareError(f'{len(ds.classes)} classes do not fit 8-bit label maps (255 = void)')
    with open(ann_path) as f:
        ann = json.load(f)
    label_of = {c['id']: ds.classes.index(c['name']) for c in ann['categories'] if c['name'] in ds.classes}
    images = {img['id']: img for img in ann['images']}
    if not quiet:
        print(f'[compare] writing {len(ann["annotations"])} semantic label maps of the {split} split to {out_dir} '
              '(from the panoptic PNGs) ...', flush=True)
    for a in ann['annotations']:
        ids = read_panoptic_png(osp.join(ds.path(info['seg']), a['file_name']))
        labels = np.full(ids.shape, 255, np.uint8)
        for seg in a['segments_info']:
            labels[ids == seg['id']] = label_of.get(seg['category_id'], 255)
        name = osp.splitext(images[a['image_id']]['file_name'])[0] + '.png'
        path = osp.join(out_dir, name)
        os.makedirs(osp.dirname(path), exist_ok=True)
        if not cv2.imwrite(path, labels):
            raise CompareError(f'cannot write {path}')
    with open(stamp_path, 'w') as f:
        json.dump(stamp, f)
    return out_dir


def image_suffix(ds: DatasetInfo, split: str) -> str:
    """The one image file extension of ``split`` (mmseg's dataset lists its image folder by suffix)."""
    with open(ds.path(ds.splits[split]['ann_file'])) as f:
        suffixes = {osp.splitext(img['file_name'])[1] for img in json.load(f)['images']}
    if len(suffixes) != 1:
        raise CompareError(f'the semantic Mask2Former (mmseg) needs one image suffix per split, {split} has '
                           f'{sorted(suffixes)}')
    return suffixes.pop()


# ---------------------------------------------------------------------------------------------------- configs
ONEFORMER_ONLY_TRANSFORMS = ('OneFormerTaskTargets', )
PEER_KEEP_TRANSFORMS = ('FilterAnnotations', )
# mmdet transform -> how mmseg spells it (mmcv's RandomFlip / RandomResize / RandomChoiceResize / Resize are shared)
MMSEG_SAME = ('RandomFlip', 'RandomResize', 'RandomChoiceResize', 'Resize', 'PhotoMetricDistortion')


def _is_loader(t) -> bool:
    """Whether pipeline step ``t`` loads data (``LoadImageFromFile``, ``LoadPanopticAnnotations``, ...)."""
    return t['type'].startswith('Load')


def _is_augmentation(t) -> bool:
    """Whether pipeline step ``t`` augments / resizes (not a loader, packer, OneFormer target or kept peer step)."""
    return not (_is_loader(t) or t['type'].startswith('Pack') or t['type'] in ONEFORMER_ONLY_TRANSFORMS
                or t['type'] in PEER_KEEP_TRANSFORMS)


def to_mmseg(t: dict) -> dict:
    """An mmdet augmentation step of the dataset base as the equivalent mmseg step.

    Raises:
        CompareError: For a step without a known mmseg equivalent.
    """
    t = copy.deepcopy(dict(t))
    t.pop('backend_args', None)
    if t['type'] in MMSEG_SAME:
        return t
    if t['type'] == 'RandomCrop' and t.get('crop_type', 'absolute') == 'absolute':
        w, h = t['crop_size']  # mmdet: (w, h); mmseg: (h, w)
        return dict(type='RandomCrop', crop_size=(h, w))
    raise CompareError(f'no mmseg equivalent known for the dataset\'s augmentation step {t} (the semantic Mask2Former '
                       'needs one); write its config by hand')


def splice(peer: Sequence[dict], augmentation: Sequence[dict]) -> List[dict]:
    """``peer`` pipeline with its augmentation steps replaced by ``augmentation`` (loaders, the steps of
    ``PEER_KEEP_TRANSFORMS`` and packing keep their places)."""
    out, inserted = [], False
    for t in peer:
        if _is_augmentation(t):
            if not inserted:
                out.extend(copy.deepcopy(list(augmentation)))
                inserted = True
            continue
        if not inserted and not _is_loader(t):  # a peer without augmentation: before its first non-loader step
            out.extend(copy.deepcopy(list(augmentation)))
            inserted = True
        out.append(copy.deepcopy(t))
    if not inserted:
        out.extend(copy.deepcopy(list(augmentation)))
    return out


def augmentation_of(pipeline: Sequence[dict], library: str) -> List[dict]:
    """Augmentation / resizing steps of a dataset base pipeline, as ``library`` spells them."""
    steps = [copy.deepcopy(dict(t)) for t in pipeline if _is_augmentation(t)]
    return [to_mmseg(t) for t in steps] if library == 'mmseg' else steps


def _class_weight(num_classes: int, no_object: float = 0.1) -> List[float]:
    """Mask2Former's classification weights: 1 per class, ``no_object`` for the extra "no object" class."""
    return [1.0] * num_classes + [no_object]


def retarget_peer(cfg, spec: RunSpec, ds: DatasetInfo) -> None:
    """Point a peer config at ``ds``: files, classes, the base's augmentation and resizing, the evaluator.

    For the synthetic default this reproduces what ``configs/compare/*_synthetic-*.py`` already say (a test checks
    it); for another dataset base it is what makes "same data, same pipeline" hold.
    """
    base = ds.cfg
    num_things, num_stuff = len(ds.thing_classes), len(ds.stuff_classes)
    for split, loader in (('train', 'train_dataloader'), ('val', 'val_dataloader'), ('val', 'test_dataloader')):
        info = ds.splits[split]
        d = cfg[loader].dataset
        d.data_root = ds.data_root
        base_pipeline = base.train_pipeline if split == 'train' else base.test_pipeline
        d.pipeline = splice(d.pipeline, augmentation_of(base_pipeline, spec.library))
        if spec.kind == 'panoptic':
            d.metainfo = dict(classes=ds.classes, thing_classes=ds.thing_classes, stuff_classes=ds.stuff_classes)
            d.ann_file = info['ann_file']
            d.data_prefix = dict(img=info['img'], seg=info['seg'])
        elif spec.kind == 'instance':
            d.metainfo = dict(classes=ds.thing_classes)
            d.ann_file = info['instance_ann']
            d.data_prefix = dict(img=info['img'])
        elif spec.kind == 'semantic':
            d.metainfo = dict(classes=ds.classes)
            d.data_prefix = dict(img_path=info['img'], seg_map_path=ds.semantic_dir(split))
            d.img_suffix = image_suffix(ds, split)
            d.seg_map_suffix = '.png'
    val = ds.splits['val']
    if spec.kind == 'panoptic':
        evaluator = [dict(type='CocoPanopticMetric', ann_file=ds.path(val['ann_file']), seg_prefix=ds.path(val['seg']))]
        heads = [cfg.model.panoptic_head, cfg.model.panoptic_fusion_head]
        counts = (num_things, num_stuff)
    elif spec.kind == 'instance':
        evaluator = [dict(type='CocoMetric', ann_file=ds.path(val['instance_ann']), metric='segm')]
        heads = [cfg.model.panoptic_head, cfg.model.panoptic_fusion_head]
        counts = (num_things, 0)
    else:
        evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU'])]
        cfg.model.decode_head.num_classes = len(ds.classes)
        cfg.model.decode_head.loss_cls.class_weight = _class_weight(len(ds.classes))
        heads, counts = [], None
    for head in heads:
        head.num_things_classes, head.num_stuff_classes = counts
    if heads and 'loss_cls' in cfg.model.panoptic_head:
        cfg.model.panoptic_head.loss_cls.class_weight = _class_weight(sum(counts))
    cfg.val_evaluator = cfg.test_evaluator = evaluator


def retarget_oneformer(cfg, ds: DatasetInfo) -> None:
    """Give the OneFormer config the dataset base's datasets (pipelines included) and evaluators, keeping its batch
    and loader settings; the heads' class counts follow the dataset."""
    base = ds.cfg
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = copy.deepcopy(base[loader].dataset)
        dataset.data_root = ds.data_root
        cfg[loader].dataset = dataset
    evaluators = copy.deepcopy(list(base.val_evaluator))
    for metric in evaluators:
        for key in ('ann_file', 'seg_prefix'):
            if key in metric:
                metric[key] = ds.path(_strip_root(metric[key], ds.base_root))
        if metric.get('type') == 'CocoMetric':
            metric['ann_file'] = ds.path(ds.splits['val']['instance_ann'])
    cfg.val_evaluator = cfg.test_evaluator = evaluators
    num_things, num_stuff = len(ds.thing_classes), len(ds.stuff_classes)
    for head in (cfg.model.panoptic_head, cfg.model.panoptic_fusion_head):
        head.num_things_classes, head.num_stuff_classes = num_things, num_stuff


def apply_budget(cfg, iters: int, batch: int, seed: int, checkpoint_interval: int, log_interval: int) -> None:
    """Same schedule for every run: ``iters`` iterations of ``batch`` images, poly decay to ``iters``, fixed seed,
    deterministic algorithms, no validation during training (one test pass after it)."""
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
    schedulers = cfg.param_scheduler if isinstance(cfg.param_scheduler, (list, tuple)) else [cfg.param_scheduler]
    for scheduler in schedulers:
        if scheduler.get('by_epoch', True):
            raise CompareError(f'epoch-based scheduler {scheduler} in an iteration budget comparison')
        scheduler['end'] = iters
    cfg.param_scheduler = list(schedulers)
    cfg.train_dataloader.batch_size = batch
    hooks = cfg.default_hooks
    hooks.checkpoint.update(by_epoch=False, interval=checkpoint_interval, max_keep_ckpts=1, save_last=True)
    if 'save_best' in hooks.checkpoint:
        hooks.checkpoint.save_best = None
    hooks.logger.interval = log_interval
    cfg.log_processor = dict(cfg.get('log_processor') or {}, by_epoch=False)
    cfg.randomness = dict(seed=seed, deterministic=True)
    cfg.env_cfg = dict(cfg.get('env_cfg') or {}, cudnn_benchmark=False)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None


def build_run_config(spec: RunSpec, ds: DatasetInfo, args: argparse.Namespace):
    """The config of one run: the model's config pointed at the dataset, with the shared budget."""
    from mmengine.config import Config
    cfg = Config.fromfile(spec.config)
    if spec.library == 'oneformer':
        retarget_oneformer(cfg, ds)
    else:
        retarget_peer(cfg, spec, ds)
    apply_budget(cfg, args.iters, args.batch, args.seed, args.checkpoint_interval or max(args.iters // 4, 1),
                 min(args.log_interval, args.iters))
    return cfg


# ---------------------------------------------------------------------------------------------------- running
def _sha1_file(path: str) -> str:
    """SHA-1 of a file's bytes."""
    with open(path, 'rb') as f:
        return hashlib.sha1(f.read()).hexdigest()


def run_signature(spec: RunSpec, cfg, ds: DatasetInfo) -> Dict:
    """What a finished run must match to be reused: its final config and the annotation files it read."""
    text = cfg.pretty_text
    files = [ds.path(ds.splits[s]['ann_file']) for s in ('train', 'val')]
    if spec.kind == 'instance':
        files += [ds.path(ds.splits[s]['instance_ann']) for s in ('train', 'val')]
    return dict(name=spec.name, config=osp.relpath(spec.config, REPO),
                config_sha1=hashlib.sha1(text.encode()).hexdigest(),
                iters=cfg.train_cfg.max_iters, batch=cfg.train_dataloader.batch_size, seed=cfg.randomness.seed,
                data_root=ds.data_root, annotations={osp.basename(f): _sha1_file(f) for f in files})


def train_clock():
    """A hook that accumulates the wall time and the process CPU time (all threads of this process; data loader
    workers excluded) of the training loop and keeps them in the checkpoints, so a resumed run reports its whole
    training time."""
    from mmengine.hooks import Hook

    class TrainClock(Hook):
        """Training-loop wall / CPU seconds, saved in and restored from checkpoints."""
        priority = 'VERY_HIGH'  # before CheckpointHook's after_train_iter: the saved total includes that iteration

        def __init__(self):
            self.seconds = self.cpu_seconds = 0.0
            self._last = self._last_cpu = None

        def before_train(self, runner) -> None:
            self._last, self._last_cpu = time.perf_counter(), time.process_time()

        def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
            now, now_cpu = time.perf_counter(), time.process_time()
            self.seconds += now - self._last
            self.cpu_seconds += now_cpu - self._last_cpu
            self._last, self._last_cpu = now, now_cpu

        def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
            meta = checkpoint.setdefault('meta', {})
            meta['compare_train_seconds'], meta['compare_train_cpu_seconds'] = self.seconds, self.cpu_seconds

        def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
            meta = checkpoint.get('meta', {})
            self.seconds = float(meta.get('compare_train_seconds', 0.0))
            self.cpu_seconds = float(meta.get('compare_train_cpu_seconds', 0.0))

    return TrainClock()


def count_params(model) -> Tuple[int, int]:
    """All parameters, and those inference uses (OneFormer's text mapper only serves the training loss)."""
    total = sum(p.numel() for p in model.parameters())
    head = getattr(model, 'panoptic_head', None)
    text = getattr(head, 'text_mapper', None)
    return total, total - (sum(p.numel() for p in text.parameters()) if text is not None else 0)


def count_flops(model, library: str, size: Tuple[int, int]) -> Dict:
    """FLOPs of one forward (backbone + head, no pre/post-processing) on a ``size`` image with mmengine's
    ``FlopAnalyzer`` (a multiply-add counts as one; ops it has no handle for are listed in ``skipped_ops`` and not
    counted, e.g. the deformable attention's ``grid_sample`` on both sides).

    OneFormer is counted in its reference formulation: its CPU deformable-attention gather and memory-efficient
    attention modules are switched to the stock ones while counting (same arithmetic, ops the analyzer knows).
    """
    import torch
    from mmengine.analysis import FlopAnalyzer
    h, w = size
    meta = dict(batch_input_shape=(h, w), img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), task='panoptic')
    if library == 'mmseg':
        from mmseg.structures import SegDataSample
        samples = [SegDataSample(metainfo=meta)]
    else:
        from mmdet.structures import DetDataSample
        samples = [DetDataSample(metainfo=meta)]

    class Forward(torch.nn.Module):
        """``model`` with a tensor-only forward: backbone + head on one image batch."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            if library == 'mmseg':
                return self.inner.decode_head.forward(self.inner.extract_feat(x), samples)
            return self.inner._forward(x, samples)

    head = getattr(model, 'panoptic_head', None)
    fast = getattr(head, 'fast_cpu_deform_attn', None)
    swapped = [m for m in model.modules()
               if isinstance(m, torch.nn.MultiheadAttention) and type(m) is not torch.nn.MultiheadAttention]
    classes = [type(m) for m in swapped]
    try:
        if fast is not None:
            head.fast_cpu_deform_attn = False
        for m in swapped:
            m.__class__ = torch.nn.MultiheadAttention
        x = torch.randn(1, 3, h, w, device=next(model.parameters()).device)
        with torch.no_grad():
            analyzer = FlopAnalyzer(Forward(model).eval(), (x, ))
            analyzer.unsupported_ops_warnings(False)
            analyzer.uncalled_modules_warnings(False)
            total = int(analyzer.total())
            skipped = dict(analyzer.unsupported_ops())
    finally:
        for m, cls in zip(swapped, classes):
            m.__class__ = cls
        if fast is not None:
            head.fast_cpu_deform_attn = fast
    return dict(flops=total, input=[1, 3, h, w], skipped_ops={k: int(v) for k, v in sorted(skipped.items())})


def time_inference(runner, num_images: int, warmup: int = 1) -> Tuple[Optional[float], Optional[float]]:
    """Median wall and process-CPU seconds per image of ``model.test_step`` (data preprocessing, forward,
    post-processing of every task the run is evaluated on), one image at a time, on the first val images (decoded
    beforehand)."""
    import numpy as np
    import torch
    loader = runner.test_dataloader
    dataset = loader.dataset
    n = min(num_images, len(dataset))
    if n == 0:
        return None, None
    batches = [loader.collate_fn([dataset[i]]) for i in range(n)]
    model = runner.model
    model.eval()
    times, cpu_times = [], []
    with torch.no_grad():
        for i in range(warmup):
            model.test_step(batches[i % n])
        for batch in batches:
            start, start_cpu = time.perf_counter(), time.process_time()
            model.test_step(batch)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - start_cpu)
    return float(np.median(times)), float(np.median(cpu_times))


def test_image_size(cfg) -> Tuple[int, int]:
    """(h, w) of the FLOPs input: the test pipeline's resize target (for ``keep_ratio`` with two different edges,
    a square of the shorter one: the images' aspect is not known here), padded to a multiple of 32."""
    for t in cfg.test_dataloader.dataset.pipeline:
        if t['type'] == 'Resize' and t.get('scale'):
            scale = t['scale']
            w, h = (scale, scale) if isinstance(scale, int) else scale
            if t.get('keep_ratio') and w != h:
                w = h = min(w, h)
            return (-(-h // 32) * 32, -(-w // 32) * 32)
    return (512, 512)


def _load_json(path: str) -> Optional[Dict]:
    """The JSON at ``path``, None if there is no such file."""
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _dump_json(obj, path: str) -> None:
    """Write ``obj`` as JSON atomically (a temporary file renamed over ``path``)."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)  # a killed run never leaves half a result


def run_one(spec: RunSpec, cfg, ds: DatasetInfo, args: argparse.Namespace, index: int, total: int) -> Dict:
    """Train (or resume, or reuse) one run and evaluate it; returns its result entry."""
    from mmengine.runner import Runner
    work_dir = osp.join(args.work_dir, spec.name)
    signature = run_signature(spec, cfg, ds)
    tag = f'[compare] ({index}/{total}) {spec.name}'
    result_path, sig_path, done_path = (osp.join(work_dir, f) for f in ('result.json', 'signature.json',
                                                                         'train_done.json'))
    stored = _load_json(sig_path)
    if stored is not None and stored != signature:
        changed = sorted(k for k in signature if stored.get(k) != signature[k])
        raise CompareError(f'{work_dir} holds a run with other settings ({", ".join(changed)} differ). Pass another '
                           '--work-dir, or --overwrite to delete and redo such runs.')
    result = _load_json(result_path)
    if result is not None and stored == signature:
        print(f'{tag}: finished earlier, reusing {result_path}', flush=True)
        return dict(result, reused=True)

    os.makedirs(work_dir, exist_ok=True)
    _dump_json(signature, sig_path)
    done = _load_json(done_path)
    cfg.work_dir = work_dir
    cfg.experiment_name = f'{spec.name}_{time.strftime("%Y%m%d_%H%M%S")}_{os.getpid()}'
    cfg.visualizer.name = cfg.experiment_name  # a fresh visualizer instance per run (mmengine keeps them by name)
    if done is None:
        cfg.resume, cfg.load_from = True, None  # the latest checkpoint of an interrupted run, if any
    else:
        cfg.resume, cfg.load_from = False, done['checkpoint']
    runner = Runner.from_cfg(cfg)
    clock = train_clock()
    runner.register_hook(clock)
    if done is None:
        print(f'{tag}: training {spec.model} on {"+".join(spec.tasks)} for {args.iters} iterations of {args.batch} '
              f'images ({osp.relpath(spec.config, REPO)}; progress every {min(args.log_interval, args.iters)} '
              'iterations) ...', flush=True)
        runner.train()
        done = dict(train_seconds=clock.seconds, train_cpu_seconds=clock.cpu_seconds,
                    checkpoint=osp.join(work_dir, f'iter_{args.iters}.pth'))
        if not osp.isfile(done['checkpoint']):
            raise CompareError(f'{spec.name}: training ended without {done["checkpoint"]}')
        _dump_json(done, done_path)
    else:
        print(f'{tag}: trained earlier, evaluating {done["checkpoint"]}', flush=True)
    print(f'{tag}: evaluating {", ".join(TASK_METRIC[t] for t in spec.tasks)} on the val split ...', flush=True)
    from oneformer.evaluation import summarize_metrics
    summary = summarize_metrics(runner.test(), tasks=spec.tasks)
    model = runner.model
    params, params_inference = count_params(model)
    try:
        flops = count_flops(model, spec.library, test_image_size(cfg))
        flops_error = None
    except Exception as e:  # noqa: BLE001  (a model the analyzer cannot trace still gets its other numbers)
        flops, flops_error = dict(flops=None, input=None, skipped_ops={}), f'{type(e).__name__}: {e}'
        print(f'{tag}: FLOPs not counted ({flops_error})', flush=True)
    seconds, cpu_seconds = time_inference(runner, args.timing_images)
    result = dict(
        name=spec.name, model=spec.model, library=spec.library, config=osp.relpath(spec.config, REPO),
        tasks_trained=list(spec.tasks), iterations=args.iters, batch=args.batch, train_seconds=done['train_seconds'],
        train_cpu_seconds=done['train_cpu_seconds'],
        params=params, params_inference=params_inference, flops=flops['flops'], flops_input=flops['input'],
        flops_skipped_ops=flops['skipped_ops'], flops_error=flops_error, inference_s_per_image=seconds,
        inference_cpu_s_per_image=cpu_seconds,
        inference_tasks=list(spec.tasks),
        **{m: (summary.get(m) if any(TASK_METRIC[t] == m for t in spec.tasks) else None) for m in METRICS},
        details={k: v for k, v in summary.items() if k != 'raw'}, raw_metrics=summary.get('raw', {}),
        work_dir=work_dir, signature=signature)
    _dump_json(result, result_path)
    print(f'{tag}: done - ' + ', '.join(f'{m} {result[m]:.1f}' for m in METRICS if result[m] is not None)
          + f', training {result["train_seconds"]:.0f} s', flush=True)
    del runner, model
    gc.collect()
    return dict(result, reused=False)


# ---------------------------------------------------------------------------------------------------- report
def summarize_models(runs: Sequence[Dict]) -> List[Dict]:
    """One entry per model: its runs' training time, iterations and stored parameters added up, each metric from
    the run trained for that task, the FLOPs of one forward of each of its models (``flops_per_forward``) and the
    time to get every task's output for one image (``inference_s_per_image``: its runs' times added up; None if
    one is unknown)."""
    models: Dict[str, Dict] = {}
    for r in runs:
        m = models.setdefault(r['model'], dict(name=r['model'], runs=[], tasks_trained=[], iterations=0,
                                               train_seconds=0.0, train_cpu_seconds=0.0, params=0,
                                               flops_per_forward=[], inference_s_per_image=0.0,
                                               **{k: None for k in METRICS}))
        m['runs'].append(r['name'])
        m['tasks_trained'] += [t for t in r['tasks_trained'] if t not in m['tasks_trained']]
        m['iterations'] += r['iterations']
        m['train_seconds'] += r['train_seconds']
        m['train_cpu_seconds'] += r['train_cpu_seconds']
        m['params'] += r['params_inference']
        m['flops_per_forward'].append(r['flops'])
        if m['inference_s_per_image'] is not None and r['inference_s_per_image'] is not None:
            m['inference_s_per_image'] += r['inference_s_per_image']
        else:
            m['inference_s_per_image'] = None
        for k in METRICS:
            if r[k] is not None:
                m[k] = r[k]
    for m in models.values():
        m['trainings'] = len(m['runs'])
    return list(models.values())


def _flops_total(flops: Sequence[Optional[int]]) -> str:
    """GFLOPs of a model's forwards: ``0.26 ×3`` for three equal ones, ``a + b`` otherwise, an en dash if unknown."""
    if not flops or any(f is None for f in flops):
        return '–'
    values = [f'{f * 1e-9:.2f}' for f in flops]
    return values[0] + (f' ×{len(values)}' if len(values) > 1 else '') if len(set(values)) == 1 else ' + '.join(values)


def _num(value, fmt: str, scale: float = 1.0) -> str:
    """``value * scale`` formatted with ``fmt``, an en dash for None."""
    return '–' if value is None else format(value * scale, fmt)


def markdown_table(runs: Sequence[Dict], models: Sequence[Dict]) -> str:
    """The comparison as a markdown table: one row per training run, then one total row per model."""
    head = ('| model | run | tasks trained | iters | training time: wall (CPU) | params | GFLOPs '
            '| inference s/img: wall (CPU) | PQ | AP | mIoU |\n'
            '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|')
    rows = [head]
    for r in runs:
        rows.append(f'| {r["model"]} | {r["name"]} | {", ".join(r["tasks_trained"])} | {r["iterations"]} | '
                    f'{r["train_seconds"]:.0f} s ({r["train_cpu_seconds"]:.0f} s) | '
                    f'{r["params_inference"] / 1e6:.2f} M | '
                    f'{_num(r["flops"], ".2f", 1e-9)} | '
                    f'{_num(r["inference_s_per_image"], ".3f")} ({_num(r["inference_cpu_s_per_image"], ".3f")}) | '
                    + ' | '.join(_num(r[k], '.1f') for k in METRICS) + ' |')
    for m in models:
        rows.append(f'| **{m["name"]}** | **total: {m["trainings"]} training run{"s" * (m["trainings"] > 1)}** | '
                    f'{", ".join(m["tasks_trained"])} | {m["iterations"]} | {m["train_seconds"]:.0f} s '
                    f'({m["train_cpu_seconds"]:.0f} s) | '
                    f'{m["params"] / 1e6:.2f} M | {_flops_total(m["flops_per_forward"])} | '
                    f'{_num(m["inference_s_per_image"], ".3f")} | '
                    + ' | '.join(_num(m[k], '.1f') for k in METRICS) + ' |')
    return '\n'.join(rows)


def plot(runs: Sequence[Dict], models: Sequence[Dict], path: str, title: str) -> str:
    """Bar chart of PQ / AP / mIoU per model and a panel of training time per model (stacked by training run)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    colors = {'OneFormer': '#d62728', 'Mask2Former': '#1f77b4', 'MaskFormer': '#2ca02c'}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.6), gridspec_kw=dict(width_ratios=[1.6, 1]))
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(METRICS))
    for i, m in enumerate(models):
        values = [m[k] if m[k] is not None else 0.0 for k in METRICS]
        bars = ax1.bar(x + (i - (len(models) - 1) / 2) * width, values, width, label=m['name'],
                       color=colors.get(m['name']))
        for bar, k in zip(bars, METRICS):
            text = '–' if m[k] is None else f'{m[k]:.1f}'
            ax1.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha='center', va='bottom',
                         fontsize=7, xytext=(0, 1), textcoords='offset points')
    ax1.set_xticks(x, METRICS)
    ax1.set_ylabel('score (%)')
    ax1.set_ylim(0, 122)  # room above the bars for the legend
    ax1.set_yticks(range(0, 101, 20))
    ax1.legend(fontsize=8, loc='upper left', ncols=len(models), frameon=False)
    ax1.set_title('validation metrics', fontsize=10)
    hatches = {'panoptic': '', 'instance': '//', 'semantic': '..'}
    for i, m in enumerate(models):
        bottom = 0.0
        for r in (r for r in runs if r['model'] == m['name']):
            minutes = r['train_seconds'] / 60
            hatch = '' if len(r['tasks_trained']) > 1 else hatches.get(r['tasks_trained'][0], '')
            ax2.bar(i, minutes, 0.6, bottom=bottom, color=colors.get(m['name']), edgecolor='white', hatch=hatch)
            label = 'joint' if len(r['tasks_trained']) > 1 else r['tasks_trained'][0]
            ax2.text(i, bottom + minutes / 2, label, ha='center', va='center', fontsize=7, color='white',
                     bbox=dict(boxstyle='round,pad=0.15', facecolor=colors.get(m['name'], 'gray'), linewidth=0))
            bottom += minutes
        ax2.annotate(f'{bottom:.1f} min ({m["train_cpu_seconds"] / 60:.1f} CPU)\n{m["iterations"]} it', (i, bottom),
                     ha='center', va='bottom', fontsize=7, xytext=(0, 1), textcoords='offset points')
    ax2.set_xticks(range(len(models)), [m['name'] for m in models], fontsize=8)
    ax2.set_ylabel('training wall time (min)')
    ax2.set_ylim(0, max([sum(r['train_seconds'] for r in runs if r['model'] == m['name']) / 60 for m in models]
                        + [0.1]) * 1.3)
    ax2.set_title('training time (stacked by run)', fontsize=10)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def machine() -> Dict:
    """Versions and the CPU the numbers were measured on."""
    import mmcv
    import mmdet
    import mmengine
    import mmseg
    import torch
    cpu = platform.processor()
    if osp.isfile('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
        cpu = names[0] if names else cpu
    return dict(cpu=cpu, logical_cpus=os.cpu_count(), torch_threads=torch.get_num_threads(),
                omp_wait_policy=os.environ.get('OMP_WAIT_POLICY'),
                python=platform.python_version(), torch=torch.__version__, mmengine=mmengine.__version__,
                mmcv=mmcv.__version__, mmdet=mmdet.__version__, mmseg=mmseg.__version__, cuda=torch.cuda.is_available())


def _load_average() -> Optional[List[float]]:
    """1 / 5 / 15 minute load averages (None where the platform has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dataset', default=DEFAULT_DATASET, help='COCO-panoptic dataset base config')
    parser.add_argument('--data-root', help="use this data root instead of the dataset config's")
    parser.add_argument('--instance-train-ann', help='COCO instance JSON of the train split (instance Mask2Former)')
    parser.add_argument('--instance-val-ann', help='COCO instance JSON of the val split (mask AP)')
    parser.add_argument('--oneformer-config', default=DEFAULT_ONEFORMER, help='OneFormer model config')
    parser.add_argument('--iters', type=int, default=DEFAULT_ITERS, help='iterations of every training run')
    parser.add_argument('--batch', type=int, default=4, help='images per iteration of every training run')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--with-maskformer', action='store_true', help='also train MaskFormer (mmdet, panoptic)')
    parser.add_argument('--with-knet', action='store_true', help='also train K-Net (mmseg, semantic)')
    parser.add_argument('--only', help='comma-separated run names to do (default: all requested); the table is '
                        'made from every finished run of the requested models')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'compare'))
    parser.add_argument('--checkpoint-interval', type=int, help='iterations between checkpoints (default iters/4)')
    parser.add_argument('--log-interval', type=int, default=25, help='iterations between progress lines')
    parser.add_argument('--timing-images', type=int, default=10, help='val images timed for inference s/img')
    parser.add_argument('--overwrite', action='store_true', help='delete and redo runs made with other settings')
    parser.add_argument('--make-semantic-labels', action='store_true',
                        help='only write the semantic label maps (semantic_{train,val}/) and exit')
    args = parser.parse_args(argv)
    if args.iters < 1 or args.batch < 1:
        parser.error('--iters and --batch must be positive')
    return args


def requested_runs(args: argparse.Namespace) -> List[RunSpec]:
    """The runs asked for, in order: OneFormer, the three Mask2Former ones, then the optional peers."""
    if args.with_knet:
        raise CompareError('--with-knet is not implemented: mmseg ships K-Net (semantic) only on dilated ResNet-50 '
                           '(D8) or Swin backbones with UPerNet / FCN / PSP / ASPP kernel heads, and no K-Net config '
                           'shrunk to the demo backbone and widths exists in configs/compare/ yet. Use '
                           '--with-maskformer, or train mmseg::knet/... with mmseg directly')
    runs = [oneformer_run(osp.abspath(args.oneformer_config)), *MASK2FORMER_RUNS]
    if args.with_maskformer:
        runs.append(MASKFORMER_RUN)
    return runs


def main(argv=None) -> Dict:
    """Run the comparison (see the module docstring); returns the report written to ``results.json``."""
    args = parse_args(argv)
    try:
        return compare(args, ' '.join(['python tools/analysis_tools/compare_segmentors.py']
                                      + (sys.argv[1:] if argv is None else list(argv))))
    except CompareError as e:
        print(f'[compare] error: {e}', file=sys.stderr, flush=True)
        raise SystemExit(2) from e


def compare(args: argparse.Namespace, command: str) -> Dict:
    """The comparison itself (``main`` without the argument parsing and the exit on errors)."""
    from mmdet.utils import register_all_modules

    import oneformer  # noqa: F401  (registers the project; panopticapi shim for mmdet's panoptic dataset / metric)
    register_all_modules(init_default_scope=False)
    start = time.perf_counter()
    load_start = _load_average()
    runs = requested_runs(args)
    ds = read_dataset(args.dataset, args.data_root, (args.instance_train_ann, args.instance_val_ann))
    ensure_synthetic(ds)
    semantic = [r for r in runs if r.kind == 'semantic']
    if args.make_semantic_labels:
        for split in ('train', 'val'):
            print(f'[compare] {split}: {make_semantic_labels(ds, split)}', flush=True)
        return {}
    check_data(ds, runs)
    if semantic:
        for split in ('train', 'val'):
            make_semantic_labels(ds, split)
    args.work_dir = osp.abspath(args.work_dir)
    os.makedirs(args.work_dir, exist_ok=True)
    only = None if not args.only else {n.strip() for n in args.only.split(',') if n.strip()}
    unknown = sorted((only or set()) - {r.name for r in runs})
    if unknown:
        raise CompareError(f'--only: unknown run(s) {unknown}; requested runs are {[r.name for r in runs]}')
    configs = {r.name: build_run_config(r, ds, args) for r in runs}  # every config builds before any training
    if args.overwrite:
        for r in runs:
            sig = _load_json(osp.join(args.work_dir, r.name, 'signature.json'))
            if sig is not None and sig != run_signature(r, configs[r.name], ds):
                print(f'[compare] --overwrite: deleting {osp.join(args.work_dir, r.name)} (other settings)', flush=True)
                shutil.rmtree(osp.join(args.work_dir, r.name))
    todo = [r.name for r in runs if only is None or r.name in only]
    print(f'[compare] {len(todo)} of {len(runs)} training runs, {args.iters} iterations x {args.batch} images each, on '
          f'{ds.data_root} ({osp.relpath(ds.base, REPO)}): {", ".join(todo)}; work dir {args.work_dir}', flush=True)
    results = []
    for i, r in enumerate(runs, 1):
        if only is not None and r.name not in only:
            result = _load_json(osp.join(args.work_dir, r.name, 'result.json'))
            if result is not None:
                results.append(dict(result, reused=True))
            continue
        results.append(run_one(r, configs[r.name], ds, args, i, len(runs)))
    models = summarize_models(results)
    table = markdown_table(results, models)
    report = dict(
        schema_version=SCHEMA_VERSION, command=command, dataset=osp.relpath(ds.base, REPO), data_root=ds.data_root,
        iters=args.iters, batch=args.batch, seed=args.seed, machine=machine(), load_average_start=load_start,
        load_average_end=_load_average(), wall_time_s=time.perf_counter() - start,
        notes=['params: parameters used at inference (OneFormer without its training-only text mapper); a model '
               "total adds up its runs' (three stored models for Mask2Former)",
               "inference s/img: median model.test_step time on one image; OneFormer's produces the three tasks, "
               "a Mask2Former run's its one task; a model total adds up its runs' (every task for one image)",
               'FLOPs: mmengine FlopAnalyzer, one forward (one task) at the test size, ops in flops_skipped_ops not '
               'counted; a model total lists one forward per stored model',
               'training time: wall time of the training loop (and CPU time of the training process, all threads); '
               'wall time depends on what else runs on the machine'],
        runs=results, models=models, table=table)
    out = osp.join(args.work_dir, 'results.json')
    _dump_json(report, out)
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(table + '\n')
    title = (f'{osp.basename(ds.base)}: {args.iters} iterations x batch {args.batch} per training run '
             f'(OneFormer 1 run, Mask2Former 1 run per task)')
    png = plot(results, models, osp.join(args.work_dir, 'compare.png'), title)
    print(f'\n{table}\n\n[compare] done in {report["wall_time_s"] / 60:.1f} min; wrote {out}, {png}', flush=True)
    return report


if __name__ == '__main__':
    main()
