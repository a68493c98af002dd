"""segcompare.adapt / backbone (issue 21): every peer adapted the same way, and only where documented.

For each default peer: the adapted config differs from its recipe only in ``ADAPTED_KEYS`` (which docs/compare.md
lists), gets the shared backbone with matching input widths, the shared data and budget; the slow test builds it and
runs one training step on the synthetic data (loss finite, weights move).
"""
import copy
import fnmatch
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from segcompare.adapt import ADAPTED_KEYS, build_run_config, changed_keys
from segcompare.backbone import demo_backbone, parse_backbone, swap_backbone
from segcompare.common import DEFAULT_DATASET, DEFAULT_ONEFORMER, REPO, CompareError
from segcompare.dataset import make_semantic_labels, read_dataset
from segcompare.peers import DEFAULT_PEERS, oneformer_run, peer_spec
from segcompare.pipelines import augmentation_of

DEMO_WIDTHS = [32, 64, 128, 256]


@pytest.fixture(scope='module')
def oneformer_cfg():
    return Config.fromfile(DEFAULT_ONEFORMER)


def _adapted(name, ds, one, backbone=None, iters=7, batch=3):
    spec = peer_spec(name)
    bb = backbone if backbone is not None else demo_backbone(one, spec.library)
    return spec, build_run_config(spec, ds, one, bb, iters=iters, batch=batch, seed=5, checkpoint_interval=2,
                                  log_interval=1)


def _input_widths(cfg):
    model = cfg.model
    if model.get('neck'):
        return [model.neck.in_channels]
    heads = [model.get('decode_head'), model.get('auxiliary_head'), model.get('panoptic_head')]
    out = []
    for h in heads:
        for h in (h if isinstance(h, list) else [h]):
            if h:
                out += [h[k] for k in ('in_channels', 'c1_in_channels') if k in h]
                if h.get('kernel_generate_head'):
                    out.append(h.kernel_generate_head.in_channels)
    return out


@pytest.mark.parametrize('name', DEFAULT_PEERS, ids=lambda n: osp.basename(n).split('_')[0])
def test_adapted_config_differs_from_its_recipe_only_in_documented_keys(name, compare_data, oneformer_cfg):
    ds = read_dataset(DEFAULT_DATASET, str(compare_data))
    spec, cfg = _adapted(name, ds, oneformer_cfg)
    undocumented = [k for k in changed_keys(Config.fromfile(spec.path), cfg)
                    if not any(fnmatch.fnmatchcase(k, pattern) for pattern, _ in ADAPTED_KEYS)]
    assert not undocumented
    # the shared backbone, its widths where the recipe's were read
    assert cfg.model.backbone.depth == 18 and cfg.model.backbone.base_channels == 32
    assert cfg.model.backbone.init_cfg is None and cfg.model.get('pretrained') is None
    for widths in _input_widths(cfg):
        assert set(widths if isinstance(widths, list) else [widths]) <= set(DEMO_WIDTHS), widths
    # the shared data, budget and schedule
    assert cfg.train_dataloader.dataset.data_root == ds.data_root and cfg.train_dataloader.batch_size == 3
    assert cfg.train_cfg.max_iters == 7 and cfg.param_scheduler[0]['end'] == 7
    assert cfg.randomness == dict(seed=5, deterministic=True) and cfg.val_dataloader is None
    assert cfg.optim_wrapper.optimizer == oneformer_cfg.optim_wrapper.optimizer
    train_aug = augmentation_of(Config.fromfile(DEFAULT_DATASET).train_pipeline, spec.library)
    assert augmentation_of(cfg.train_dataloader.dataset.pipeline, spec.library) == train_aug
    assert not [h for h in cfg.custom_hooks if h['type'] == 'PipelineSwitchHook']


def test_every_adapted_key_is_documented():
    with open(osp.join(REPO, 'docs', 'compare.md')) as f:
        doc = f.read()
    assert [p for p, _ in ADAPTED_KEYS if f'`{p}`' not in doc] == []


def test_recipe_specifics_are_adapted(compare_data, oneformer_cfg):
    """Dilated FCN keeps its output stride 8 on the new ResNet; RTMDet's CSPNeXt stages 2-4 map to ResNet stages
    1-3; class counts follow the dataset (COCO 80 things -> 3; ADE20K 150 -> 5; K-Net's three update heads)."""
    ds = read_dataset(DEFAULT_DATASET, str(compare_data))
    _, fcn = _adapted('mmseg::fcn/fcn_r50-d8_4xb4-80k_ade20k-512x512.py', ds, oneformer_cfg)
    assert fcn.model.backbone.dilations == (1, 1, 2, 4) and fcn.model.backbone.strides == (1, 2, 1, 1)
    assert fcn.model.decode_head.in_channels == 256 and fcn.model.auxiliary_head.in_channels == 128
    assert fcn.model.decode_head.num_classes == 5 and fcn.model.test_cfg.mode == 'whole'
    _, rtm = _adapted('mmdet::rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py', ds, oneformer_cfg)
    assert rtm.model.backbone.out_indices == (1, 2, 3) and rtm.model.neck.in_channels == [64, 128, 256]
    assert rtm.model.bbox_head.num_classes == 3
    assert [t['poly2mask'] for t in rtm.train_dataloader.dataset.pipeline if t['type'] == 'LoadAnnotations'] == [True]
    _, knet = _adapted('mmseg::knet/knet-s3_r50-d8_fcn_8xb2-adamw-80k_ade20k-512x512.py', ds, oneformer_cfg)
    assert [h.num_classes for h in knet.model.decode_head.kernel_update_head] == [5, 5, 5]
    assert knet.model.decode_head.kernel_generate_head.in_channels == 256
    _, fpn = _adapted('mmdet::panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py', ds, oneformer_cfg)
    assert fpn.model.semantic_head.num_things_classes == 3 and fpn.model.semantic_head.num_stuff_classes == 2
    assert fpn.model.roi_head.bbox_head.num_classes == 3 and fpn.model.semantic_head.in_channels == 256  # FPN's


def test_another_backbone_reaches_peers_and_oneformer(compare_data, oneformer_cfg):
    """--backbone: a ResNet-50 dict; the width-matched Mask2Former peer (recipe widths 32..256) gets 256..2048, and
    so does OneFormer."""
    ds = read_dataset(DEFAULT_DATASET, str(compare_data))
    bb = parse_backbone("dict(type='ResNet', depth=50, norm_cfg=dict(type='BN'), init_cfg=None)")
    _, cfg = _adapted(DEFAULT_PEERS[2], ds, oneformer_cfg, backbone=bb)
    assert cfg.model.backbone.depth == 50 and cfg.model.panoptic_head.in_channels == [256, 512, 1024, 2048]
    one = build_run_config(oneformer_run(DEFAULT_ONEFORMER), ds, oneformer_cfg, bb, 7, 3, 5, 2, 1)
    assert one.model.backbone.depth == 50 and one.model.backbone.out_indices == (0, 1, 2, 3)
    # OneFormer's head finds its input widths from the built backbone (no in_channels in its config to rewrite)
    assert one.model.panoptic_head.get('in_channels', [256, 512, 1024, 2048]) == [256, 512, 1024, 2048]
    with pytest.raises(CompareError, match='not a dict literal'):
        parse_backbone('dict(type=ResNet)')


def test_unmatched_widths_and_strides_are_refused():
    model = Config(dict(model=dict(
        backbone=dict(type='ResNet', depth=18, base_channels=32, out_indices=(0, 1, 2, 3), init_cfg=None),
        neck=dict(type='FPN', in_channels=[32, 64, 128, 999], out_channels=8, num_outs=4)))).model
    new = dict(type='ResNet', depth=18, base_channels=16, init_cfg=None)
    with pytest.raises(CompareError, match=r'model\.neck\.in_channels = \[32, 64, 128, 999\]'):
        swap_backbone(copy.deepcopy(model), 'mmdet', new, 'peer')
    model.neck.in_channels = [32, 64, 128, 256]
    changed = swap_backbone(model, 'mmdet', dict(new, out_indices=(0, 1, 2, 3)), 'peer')
    assert changed['new'] == [(16, 4), (32, 8), (64, 16), (128, 32)] and model.neck.in_channels == [16, 32, 64, 128]
    two_stages = dict(new, num_stages=2, strides=(1, 2), dilations=(1, 1), out_indices=(0, 1))
    model.backbone = dict(type='ResNet', depth=18, base_channels=32, out_indices=(0, 1, 2, 3), init_cfg=None)
    with pytest.raises(CompareError, match='no stage of stride 16'):
        swap_backbone(model, 'mmdet', two_stages, 'peer')


CUSTOM_BASE = '''
dataset_type = 'OneFormerPanopticDataset'
data_root = 'data/elsewhere/'
metainfo = dict(classes=('circle', 'square', 'triangle', 'sky', 'ground'),
                thing_classes=('circle', 'square', 'triangle'), stuff_classes=('sky', 'ground'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPanopticSegments'),
    dict(type='RandomChoiceResize', scales=[(192, 64), (192, 96)], keep_ratio=True),
    dict(type='RandomCrop', crop_size=(80, 96), crop_type='absolute', recompute_bbox=True, allow_negative_crop=True),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='OneFormerTaskTargets', task_probs=dict(panoptic=1.0)),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                                          'flip_direction', 'task', 'text_tokens'))
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(192, 96), keep_ratio=True),
    dict(type='LoadPanopticTestAnnotations'),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(batch_size=2, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True), dataset=dict(
    type=dataset_type, metainfo=metainfo, data_root=data_root, ann_file='annotations/panoptic_train.json',
    data_prefix=dict(img='train/', seg='panoptic_train/'), pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False), dataset=dict(
    type=dataset_type, metainfo=metainfo, data_root=data_root, ann_file='annotations/panoptic_val.json',
    data_prefix=dict(img='val/', seg='panoptic_val/'), test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [
    dict(type='OneFormerPanopticMetric', ann_file=data_root + 'annotations/panoptic_val.json',
         seg_prefix=data_root + 'panoptic_val/'),
    dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json', metric='segm'),
    dict(type='OneFormerSemSegMetric', iou_metrics=['mIoU'])
]
test_evaluator = val_evaluator
'''


def test_another_dataset_base_reaches_every_run(compare_data, tmp_path, oneformer_cfg):
    """A user's COCO-panoptic base (other augmentation, sizes, data root): every run reads its files and classes
    with its augmentation (translated for mmseg) and resizing."""
    from segcompare.dataset import check_data
    from segcompare.peers import requested_runs
    base = tmp_path / 'my_panoptic.py'
    base.write_text(CUSTOM_BASE)
    ds = read_dataset(str(base), str(compare_data))
    assert ds.base_root == 'data/elsewhere/' and ds.data_root == str(compare_data) + '/'
    assert ds.splits['train']['instance_ann'] == 'annotations/instances_train.json'
    runs = requested_runs(DEFAULT_ONEFORMER, [DEFAULT_PEERS[0], DEFAULT_PEERS[6], DEFAULT_PEERS[-1]])
    check_data(ds, runs)
    train_aug = augmentation_of(Config.fromfile(str(base)).train_pipeline, 'mmdet')
    assert [t['type'] for t in train_aug] == ['RandomChoiceResize', 'RandomCrop', 'PhotoMetricDistortion', 'RandomFlip']
    for spec in runs:
        bb = None if spec.library == 'oneformer' else demo_backbone(oneformer_cfg, spec.library)
        cfg = build_run_config(spec, ds, oneformer_cfg, bb, 7, 3, 0, 2, 1)
        for loader in ('train_dataloader', 'test_dataloader'):
            assert cfg[loader].dataset.data_root == ds.data_root
        aug = augmentation_of(cfg.train_dataloader.dataset.pipeline, 'mmdet')
        test_resize = [t for t in cfg.test_dataloader.dataset.pipeline if t['type'] == 'Resize']
        assert [dict(t) for t in test_resize] == [dict(type='Resize', scale=(192, 96), keep_ratio=True)]
        if spec.library == 'mmseg':
            crop = [t for t in aug if t['type'] == 'RandomCrop'][0]
            assert crop == dict(type='RandomCrop', crop_size=(96, 80))  # mmseg: (h, w)
            assert cfg.train_dataloader.dataset.data_prefix.seg_map_path == 'semantic_train/'
            assert cfg.model.decode_head.num_classes == 5
        else:
            assert [dict(t) for t in aug] == [dict(t) for t in train_aug]
        if spec.kind == 'instance':
            assert cfg.train_dataloader.dataset.ann_file == 'annotations/instances_train.json'
            assert cfg.test_evaluator[0]['ann_file'] == str(compare_data / 'annotations' / 'instances_val.json')
            assert cfg.train_dataloader.dataset.metainfo == dict(classes=('circle', 'square', 'triangle'))
        if spec.kind == 'oneformer':
            assert cfg.train_dataloader.dataset.type == 'OneFormerPanopticDataset'
            assert [m['type'] for m in cfg.test_evaluator] == ['OneFormerPanopticMetric', 'CocoMetric',
                                                                'OneFormerSemSegMetric']
            assert cfg.test_evaluator[1]['ann_file'] == str(compare_data / 'annotations' / 'instances_val.json')


@pytest.mark.slow
@pytest.mark.parametrize('name', DEFAULT_PEERS, ids=lambda n: osp.basename(n).split('_')[0])
def test_default_peer_adaptation_trains_one_step(name, compare_data, oneformer_cfg):
    """Each default peer, adapted to the synthetic data: its own library builds model, dataset and optimizer, one
    training step gives finite losses and moves the weights."""
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    ds = read_dataset(DEFAULT_DATASET, str(compare_data))
    spec, cfg = _adapted(name, ds, oneformer_cfg, batch=2)
    if spec.kind == 'semantic':
        make_semantic_labels(ds, 'train', quiet=True)
    if spec.library == 'mmseg':
        from mmseg.registry import DATASETS, MODELS
    else:
        from mmdet.registry import DATASETS, MODELS
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope(spec.library):
        model = MODELS.build(cfg.model)
        model.init_weights()
        data = DATASETS.build(cfg.train_dataloader.dataset)
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
        before = {k: v.detach().clone() for k, v in model.named_parameters()}
        losses = model.train_step(pseudo_collate([data[0], data[1]]), optim)
    assert losses and all(torch.isfinite(v).all() for v in losses.values())
    moved = [k for k, v in model.named_parameters() if not torch.equal(v, before[k])]
    assert any(k.startswith('backbone.') for k in moved) and any(not k.startswith('backbone.') for k in moved)


def test_two_stage_rois_per_image_is_set_only_where_asked(compare_data, oneformer_cfg):
    ds = read_dataset(DEFAULT_DATASET, str(compare_data))
    name = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
    spec = peer_spec(name)
    bb = demo_backbone(oneformer_cfg, spec.library)
    recipe = Config.fromfile(spec.path)
    assert recipe.model.train_cfg.rcnn.sampler.num == 512
    kept = build_run_config(spec, ds, oneformer_cfg, bb, 7, 3, 5, 2, 1)
    assert kept.model.train_cfg.rcnn.sampler.num == 512
    fewer = build_run_config(spec, ds, oneformer_cfg, bb, 7, 3, 5, 2, 1, rois_per_image=64)
    assert fewer.model.train_cfg.rcnn.sampler.num == 64
    assert fewer.model.train_cfg.rcnn.sampler.pos_fraction == recipe.model.train_cfg.rcnn.sampler.pos_fraction
    assert 'model.train_cfg.rcnn.sampler.num' in changed_keys(recipe, fewer)
    # a one-stage peer has no RoI sampler: nothing changes
    solo = peer_spec('mmdet::solov2/solov2_r50_fpn_1x_coco.py')
    a = build_run_config(solo, ds, oneformer_cfg, demo_backbone(oneformer_cfg, 'mmdet'), 7, 3, 5, 2, 1)
    b = build_run_config(solo, ds, oneformer_cfg, demo_backbone(oneformer_cfg, 'mmdet'), 7, 3, 5, 2, 1,
                         rois_per_image=64)
    assert a.model.to_dict() == b.model.to_dict()


def test_rois_per_image_option_auto_is_64_on_the_synthetic_data_only():
    from segcompare.cli import parse_args
    assert parse_args([]).rois_per_image == 64
    assert parse_args(['--dataset', 'configs/_base_/datasets/ade20k_panoptic.py']).rois_per_image is None
    assert parse_args(['--rois-per-image', 'recipe']).rois_per_image is None
    assert parse_args(['--rois-per-image', '128']).rois_per_image == 128
    with pytest.raises(SystemExit):
        parse_args(['--rois-per-image', 'many'])
