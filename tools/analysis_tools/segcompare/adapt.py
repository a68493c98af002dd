"""Adapting every run to the comparison the same way: the shared data (files, classes, augmentation, evaluator),
backbone, schedule, budget and seed. Everything else stays the recipe's (losses, assigners, post-processing,
neck / head widths, data preprocessor statistics, custom hooks such as EMA).

``ADAPTED_KEYS`` lists the config keys the adaptation may change, with why (docs/compare.md shows the same list and
a test checks that an adapted config differs from its recipe only there).
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

from .backbone import swap_backbone
from .common import CompareError, strip_root
from .dataset import DatasetInfo, image_suffix
from .peers import RunSpec
from .pipelines import augmentation_of, shared_loading, splice

# (key pattern of the flattened config, fnmatch style; why it changes)
ADAPTED_KEYS: Tuple[Tuple[str, str], ...] = (
    ('model.backbone*', 'the shared backbone (demo ResNet-18 from scratch or --backbone; a ResNet recipe keeps its '
     'strides / dilations)'),
    ('model.pretrained', 'none: the backbone is the shared one'),
    ('model.neck.in_channels*', "the shared backbone's widths"),
    ('model.*head*.in_channels*', "the shared backbone's widths (models without a neck)"),
    ('model.*head*.c1_in_channels', "the shared backbone's widths (DeepLabV3+ low-level branch)"),
    ('model.*num_classes', "the shared dataset's class counts"),
    ('model.*num_things_classes', "the shared dataset's class counts"),
    ('model.*num_stuff_classes', "the shared dataset's class counts"),
    ('model.*class_weight*', "one weight per class of the shared dataset (the recipe's values)"),
    ('model.*norm_cfg.type', 'SyncBN -> BN (one process)'),
    ('model.data_preprocessor.batch_augments*', "no fixed-size (LSJ) padding: batches padded to 32 as OneFormer's"),
    ('model.data_preprocessor.pad_size_divisor', 'pad to a multiple of 32 (mmdet)'),
    ('model.data_preprocessor.pad_mask', 'ground-truth masks padded with their images (batches vary in size; '
     'RTMDet pads every image to 640x640 in its pipeline)'),
    ('model.data_preprocessor.size*', 'pad to a multiple of 32, not to the recipe crop (mmseg)'),
    ('model.train_cfg.rcnn*sampler.num', 'RoIs sampled per image by two-stage models (--rois-per-image; default: '
     "64 on the synthetic 128x128 data, the recipe's 512 (for 1333x800 COCO images) elsewhere)"),
    ('model.test_cfg.mode', "whole-image inference (mmseg 'slide' windows are sized for the recipe crop)"),
    ('model.test_cfg.crop_size', 'whole-image inference'),
    ('model.test_cfg.stride', 'whole-image inference'),
    ('train_dataloader*', 'the shared data: files, classes, augmentation and resizing, batch, sampler, 1 worker'),
    ('val_dataloader*', 'no validation during training'),
    ('test_dataloader*', 'the shared val split, its resizing, batch 1'),
    ('val_evaluator*', 'no validation during training'),
    ('test_evaluator*', "the shared metric of the task (CocoPanopticMetric / CocoMetric segm / IoUMetric)"),
    ('optim_wrapper*', "OneFormer's optimizer and gradient clipping (AdamW), the recipe's paramwise_cfg with the "
     'backbone at the base lr (from scratch); no AMP on CPU'),
    ('param_scheduler*', 'poly decay over the budget'),
    ('train_cfg*', 'the budget: --iters iterations'),
    ('val_cfg*', 'no validation during training'),
    ('test_cfg*', "mmengine's TestLoop"),
    ('default_hooks.checkpoint*', 'checkpoints every --checkpoint-interval iterations (resume)'),
    ('default_hooks.logger*', 'progress every --log-interval iterations'),
    ('log_processor*', 'iteration-based logs'),
    ('randomness*', 'the shared seed, deterministic algorithms'),
    ('env_cfg.cudnn_benchmark', 'off (determinism)'),
    ('custom_hooks*', "PipelineSwitchHook removed (it would switch to the recipe's stage-2 augmentation)"),
    ('auto_scale_lr*', 'off: the lr is the shared one'),
    ('load_from', 'none'),
    ('resume', 'set by the tool (resume an interrupted run)'),
)
DROPPED_HOOKS = ('PipelineSwitchHook', )
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _unwrap(dataset):
    """The innermost dataset of wrappers (RepeatDataset, MultiImageMixDataset, ...)."""
    while 'dataset' in dataset:
        dataset = dataset.dataset
    return dataset


def recipe_class_counts(cfg, library: str) -> Dict[str, int]:
    """``things`` / ``stuff`` / ``all`` class counts of the recipe's training dataset (its metainfo or its class'
    METAINFO)."""
    from mmengine.registry import DefaultScope
    dataset = _unwrap(cfg.train_dataloader.dataset)
    meta = dict(dataset.get('metainfo') or {})
    if not meta.get('classes'):
        if library == 'mmseg':
            from mmseg.registry import DATASETS
        else:
            from mmdet.registry import DATASETS
        with DefaultScope.overwrite_default_scope(library):
            cls = DATASETS.get(dataset.type)
        meta = dict(getattr(cls, 'METAINFO', {}) or {})
    if not meta.get('classes'):
        raise CompareError(f'the recipe dataset {dataset.get("type")} has no classes to map the class counts from')
    n_all = len(meta['classes'])
    things = len(meta.get('thing_classes', meta['classes']))
    return dict(all=n_all, things=things, stuff=len(meta.get('stuff_classes', ())))


def _class_maps(spec: RunSpec, recipe: Dict[str, int], ds: DatasetInfo) -> Dict[int, int]:
    """Recipe class count -> shared dataset class count, for ``num_classes`` values (refuses ambiguous maps)."""
    n_th, n_st = len(ds.thing_classes), len(ds.stuff_classes)
    if spec.kind == 'panoptic':
        pairs = [(recipe['things'], n_th), (recipe['stuff'], n_st), (recipe['all'], n_th + n_st)]
    elif spec.kind == 'instance':
        pairs = [(recipe['things'], n_th)]
    else:
        pairs = [(recipe['all'], n_th + n_st)]
    out: Dict[int, int] = {}
    for a, b in pairs:
        if out.get(a, b) != b:
            raise CompareError(f'{spec.name}: the recipe has equal thing / stuff / total class counts ({recipe}); '
                               'cannot tell which one a num_classes means')
        out[a] = b
    return out


def _walk(node, path: str, fn) -> None:
    """Call ``fn(dict, path)`` on every dict inside ``node`` (dicts and lists, depth first)."""
    if isinstance(node, dict):
        fn(node, path)
        for k in list(node):
            _walk(node[k], f'{path}.{k}', fn)
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            _walk(v, f'{path}[{i}]', fn)


def adapt_classes(model, spec: RunSpec, recipe: Dict[str, int], ds: DatasetInfo) -> List[str]:
    """Class counts and per-class loss weights of the model config for the shared dataset; returns changed keys."""
    counts = _class_maps(spec, recipe, ds)
    n_th = len(ds.thing_classes)
    n_st = len(ds.stuff_classes) if spec.kind == 'panoptic' else 0
    changed: List[str] = []

    def fix(d, path):
        if 'num_things_classes' in d:
            d['num_things_classes'] = n_th
        if 'num_stuff_classes' in d:
            d['num_stuff_classes'] = n_st
        if 'num_classes' in d and isinstance(d['num_classes'], int):
            if d['num_classes'] not in counts:
                raise CompareError(f'{spec.name}: {path}.num_classes = {d["num_classes"]} is not a class count of the '
                                   f'recipe dataset ({recipe}); cannot map it to the shared dataset')
            d['num_classes'] = counts[d['num_classes']]
        weight = d.get('class_weight')
        if isinstance(weight, (list, tuple)):
            d['class_weight'] = _class_weight(list(weight), counts, f'{spec.name}: {path}.class_weight')
        changed.extend(f'{path}.{k}' for k in ('num_things_classes', 'num_stuff_classes', 'num_classes',
                                                 'class_weight') if k in d)

    _walk(model, 'model', fix)
    return changed


def _class_weight(weight: List[float], counts: Dict[int, int], what: str) -> List[float]:
    """A per-class weight list for the new class count: uniform class weights (+ the no-object weight) only."""
    for n0, n1 in counts.items():
        if len(weight) in (n0, n0 + 1) and len(set(weight[:n0])) == 1:
            return [weight[0]] * n1 + weight[n0:]
    raise CompareError(f'{what}: {len(weight)} weights, not uniform per class over one of the recipe class counts '
                       f'{sorted(counts)}; cannot map them to the shared dataset')


def _sync_bn_to_bn(model) -> None:
    def fix(d, path):
        if d.get('type') in ('SyncBN', 'MMSyncBN'):
            d['type'] = 'BN'
    _walk(model, 'model', fix)


def adapt_roi_sampling(model, rois_per_image: Optional[int]) -> List[str]:
    """The second-stage RoI sampler's ``num`` of two-stage models (``model.train_cfg.rcnn``, one dict or one per
    cascade stage) set to ``rois_per_image`` (None: the recipe's); returns the changed keys."""
    rcnn = (model.get('train_cfg') or {}).get('rcnn')
    if rois_per_image is None or rcnn is None:
        return []
    stages = rcnn if isinstance(rcnn, (list, tuple)) else [rcnn]
    changed = []
    for i, stage in enumerate(stages):
        sampler = stage.get('sampler') or {}
        if 'num' in sampler:
            sampler['num'] = rois_per_image
            changed.append(f'model.train_cfg.rcnn{f"[{i}]" if stages is rcnn else ""}.sampler.num')
    return changed


def adapt_model(cfg, spec: RunSpec, ds: DatasetInfo, backbone: Dict, rois_per_image: Optional[int] = None) -> Dict:
    """Backbone, class counts, preprocessing, test mode and the RoI batch (two-stage models) of a peer's model
    config (in place)."""
    model = cfg.model
    recipe = recipe_class_counts(cfg, spec.library)
    if 'pretrained' in model:
        model.pretrained = None
    report = swap_backbone(model, spec.library, backbone, spec.name)
    adapt_classes(model, spec, recipe, ds)
    adapt_roi_sampling(model, rois_per_image)
    _sync_bn_to_bn(model)
    pre = model.get('data_preprocessor')
    if pre is not None:
        if spec.library == 'mmseg':
            pre.size, pre.size_divisor = None, 32
        else:
            pre.batch_augments = None
            pre.pad_size_divisor = 32
            pre.pad_mask = True  # the shared pipeline's batches vary in size (recipes like RTMDet pad to one size)
    if spec.library == 'mmseg' and model.get('test_cfg', {}).get('mode', 'whole') != 'whole':
        model.test_cfg = dict(mode='whole')
    return report


def _dataset(spec: RunSpec, ds: DatasetInfo, split: str, recipe_dataset, base_pipeline) -> Dict:
    """The shared split as the peer's library reads it, with the recipe's loaders and packing around the shared
    augmentation."""
    info = ds.splits[split]
    pipeline = shared_loading(splice(recipe_dataset.pipeline, augmentation_of(base_pipeline, spec.library)),
                              spec.library)
    test_mode = split != 'train'
    if spec.kind == 'panoptic':
        d = dict(type='CocoPanopticDataset', ann_file=info['ann_file'],
                 metainfo=dict(classes=ds.classes, thing_classes=ds.thing_classes, stuff_classes=ds.stuff_classes),
                 data_prefix=dict(img=info['img'], seg=info['seg']))
    elif spec.kind == 'instance':
        d = dict(type='CocoDataset', ann_file=info['instance_ann'], metainfo=dict(classes=ds.thing_classes),
                 data_prefix=dict(img=info['img']))
        if not test_mode and recipe_dataset.get('filter_cfg'):
            d['filter_cfg'] = copy.deepcopy(dict(recipe_dataset.filter_cfg))
    else:
        d = dict(type='BaseSegDataset', metainfo=dict(classes=ds.classes), reduce_zero_label=False,
                 data_prefix=dict(img_path=info['img'], seg_map_path=ds.semantic_dir(split)),
                 img_suffix=image_suffix(ds, split), seg_map_suffix='.png')
    d.update(data_root=ds.data_root, pipeline=pipeline)
    if test_mode:
        d['test_mode'] = True
    return d


def evaluator(spec: RunSpec, ds: DatasetInfo) -> List[Dict]:
    """The task's metric, in the peer's library, on the shared val split."""
    val = ds.splits['val']
    if spec.kind == 'panoptic':
        return [dict(type='CocoPanopticMetric', ann_file=ds.path(val['ann_file']), seg_prefix=ds.path(val['seg']))]
    if spec.kind == 'instance':
        return [dict(type='CocoMetric', ann_file=ds.path(val['instance_ann']), metric='segm')]
    return [dict(type='IoUMetric', iou_metrics=['mIoU'])]


def adapt_data(cfg, spec: RunSpec, ds: DatasetInfo, batch: int) -> None:
    """Point a peer config at the shared data: datasets, loaders, evaluator (in place)."""
    base = ds.cfg
    train = _dataset(spec, ds, 'train', _unwrap(cfg.train_dataloader.dataset), base.train_pipeline)
    test = _dataset(spec, ds, 'val', _unwrap(cfg.test_dataloader.dataset), base.test_pipeline)
    cfg.train_dataloader = dict(batch_size=batch, num_workers=1, persistent_workers=True,
                                sampler=dict(type='DefaultSampler', shuffle=True), batch_sampler=None, dataset=train)
    cfg.test_dataloader = dict(batch_size=1, num_workers=1, persistent_workers=False, drop_last=False,
                               sampler=dict(type='DefaultSampler', shuffle=False), dataset=test)
    cfg.test_evaluator = evaluator(spec, ds)


def adapt_oneformer(cfg, ds: DatasetInfo, batch: int) -> None:
    """Give the OneFormer config the dataset base's datasets (pipelines included) and evaluators; the heads' class
    counts follow the dataset."""
    base = ds.cfg
    for loader in LOADERS:
        dataset = copy.deepcopy(base[loader].dataset)
        dataset.data_root = ds.data_root
        cfg[loader].dataset = dataset
    cfg.train_dataloader.batch_size = batch
    cfg.test_dataloader.batch_size = 1
    evaluators = copy.deepcopy(list(base.val_evaluator))
    for metric in evaluators:
        for key in ('ann_file', 'seg_prefix'):
            if key in metric:
                metric[key] = ds.path(strip_root(metric[key], ds.base_root))
        if metric.get('type') == 'CocoMetric':
            metric['ann_file'] = ds.path(ds.splits['val']['instance_ann'])
    cfg.test_evaluator = evaluators
    num_things, num_stuff = len(ds.thing_classes), len(ds.stuff_classes)
    for head in (cfg.model.panoptic_head, cfg.model.panoptic_fusion_head):
        head.num_things_classes, head.num_stuff_classes = num_things, num_stuff


def shared_schedule(oneformer_cfg, iters: int) -> Dict:
    """OneFormer's optimizer, gradient clipping and poly decay over ``iters``: the schedule of every run."""
    ow = oneformer_cfg.optim_wrapper
    poly = [dict(s) for s in oneformer_cfg.param_scheduler if s.get('type') == 'PolyLR']
    power = poly[0].get('power', 0.9) if poly else 0.9
    return dict(optimizer=copy.deepcopy(dict(ow.optimizer)), clip_grad=copy.deepcopy(ow.get('clip_grad')),
                scheduler=[dict(type='PolyLR', eta_min=0, power=power, begin=0, end=iters, by_epoch=False)])


def adapt_optimizer(cfg, schedule: Dict) -> None:
    """The shared optimizer and clipping; the recipe's paramwise_cfg kept with the backbone at the base lr."""
    ow = cfg.optim_wrapper
    paramwise = copy.deepcopy(dict(ow.get('paramwise_cfg') or {}))
    keys = paramwise.get('custom_keys')
    if keys and 'backbone' in keys:
        keys['backbone'] = dict(lr_mult=1.0, decay_mult=1.0)
    new = dict(type='OptimWrapper', optimizer=copy.deepcopy(schedule['optimizer']))
    if schedule.get('clip_grad'):
        new['clip_grad'] = copy.deepcopy(schedule['clip_grad'])
    if paramwise:
        new['paramwise_cfg'] = paramwise
    cfg.optim_wrapper = new
    cfg.auto_scale_lr = dict(enable=False, base_batch_size=16)


def apply_budget(cfg, schedule: Dict, iters: int, seed: int, checkpoint_interval: int, log_interval: int) -> None:
    """Same budget for every run: ``iters`` iterations, poly decay to ``iters``, fixed seed, deterministic
    algorithms, no validation during training (one test pass after it)."""
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
    cfg.param_scheduler = copy.deepcopy(schedule['scheduler'])
    hooks = cfg.default_hooks
    hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=checkpoint_interval, max_keep_ckpts=1,
                            save_last=True)
    hooks.logger = dict(type='LoggerHook', interval=log_interval)
    cfg.log_processor = dict(cfg.get('log_processor') or {}, by_epoch=False)
    cfg.randomness = dict(seed=seed, deterministic=True)
    cfg.env_cfg = dict(cfg.get('env_cfg') or {}, cudnn_benchmark=False)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = dict(type='TestLoop')
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks') or [] if h.get('type') not in DROPPED_HOOKS]
    cfg.load_from = None


def build_run_config(spec: RunSpec, ds: DatasetInfo, oneformer_cfg, backbone: Dict, iters: int, batch: int,
                     seed: int, checkpoint_interval: int, log_interval: int, rois_per_image: Optional[int] = None):
    """The config of one run: the recipe adapted to the shared data, backbone, schedule and budget.

    Args:
        spec: The run.
        ds: The shared dataset.
        oneformer_cfg: The OneFormer config (its optimizer and schedule are the shared ones).
        backbone: The shared backbone config (``None``: each model's own; only meaningful for OneFormer's
            default, whose own is the demo's).
        iters, batch, seed, checkpoint_interval, log_interval: The budget.
        rois_per_image: RoIs sampled per image by two-stage peers (None: the recipe's).

    Returns:
        Config: Ready for ``Runner.from_cfg``.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(spec.path)
    schedule = shared_schedule(oneformer_cfg, iters)
    if spec.library == 'oneformer':
        adapt_oneformer(cfg, ds, batch)
        if backbone is not None:
            swap_backbone(cfg.model, 'mmdet', backbone, spec.name)
        cfg.val_dataloader = None
    else:
        adapt_model(cfg, spec, ds, backbone, rois_per_image)
        adapt_data(cfg, spec, ds, batch)
        adapt_optimizer(cfg, schedule)
    apply_budget(cfg, schedule, iters, seed, checkpoint_interval, log_interval)
    return cfg


def flatten(node, prefix: str = '') -> Dict[str, object]:
    """A config as ``{dotted.key[i]: leaf value}`` (for comparing an adapted config with its recipe)."""
    out: Dict[str, object] = {}
    if isinstance(node, dict):
        if not node and prefix:
            out[prefix] = {}
        for k, v in node.items():
            out.update(flatten(v, f'{prefix}.{k}' if prefix else str(k)))
    elif isinstance(node, (list, tuple)):
        if not node:
            out[prefix] = []
        for i, v in enumerate(node):
            out.update(flatten(v, f'{prefix}[{i}]'))
    else:
        out[prefix] = node
    return out


def changed_keys(recipe, adapted, ignore: Sequence[str] = ('work_dir', 'experiment_name', 'visualizer.name')
                 ) -> List[str]:
    """The flattened keys where ``adapted`` differs from ``recipe`` (added, removed or changed)."""
    a, b = flatten(recipe.to_dict()), flatten(adapted.to_dict())
    return sorted(k for k in set(a) | set(b) if a.get(k, KeyError) != b.get(k, KeyError) and k not in ignore)
