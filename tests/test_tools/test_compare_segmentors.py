"""tools/analysis_tools/compare_segmentors.py (issue 15): OneFormer trained once vs Mask2Former trained per task.

Fast tests: the clear errors, and that pointing the peer configs at the default dataset reproduces
``configs/compare/`` (same data, pipeline and classes as the OneFormer demo). The slow test trains and evaluates every
model for a few iterations on a tiny generated dataset, checks the table, JSON and plot, then reruns and checks that
nothing is retrained.
"""
import json
import os
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from oneformer.dataset_converters import generate_synthetic_panoptic

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', '..', 'tools', 'analysis_tools'))
import compare_segmentors as cs  # noqa: E402


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp('compare_data')
    generate_synthetic_panoptic(str(root), num_train=8, num_val=4, img_size=64, seed=1)
    return root


def _copy_without(src, dst, missing: str):
    import shutil
    shutil.copytree(src, dst)
    os.remove(osp.join(dst, missing))
    return dst


def test_missing_instance_json_names_the_file_and_the_converter(tiny_data, tmp_path, capsys):
    data = _copy_without(tiny_data, tmp_path / 'data', 'annotations/instances_train.json')
    work = tmp_path / 'work'
    with pytest.raises(SystemExit) as exc:
        cs.main(['--data-root', str(data), '--work-dir', str(work), '--iters', '2'])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert str(data / 'annotations' / 'instances_train.json') in err
    assert 'mask2former_instance' in err
    assert 'tools/dataset_converters/panoptic2instance.py' in err
    assert str(data / 'annotations' / 'panoptic_train.json') in err  # the command to run, with its arguments
    assert not work.exists()  # checked before anything was trained


def test_missing_val_instance_json_blames_every_run_that_needs_it(tiny_data, tmp_path):
    data = _copy_without(tiny_data, tmp_path / 'data', 'annotations/instances_val.json')
    ds = cs.read_dataset(cs.DEFAULT_DATASET, str(data))
    with pytest.raises(cs.CompareError, match='instances_val.json') as exc:
        cs.check_data(ds, cs.requested_runs(cs.parse_args([])))
    assert 'oneformer' in str(exc.value) and 'mask2former_instance' in str(exc.value)
    cs.check_data(ds, [cs.MASK2FORMER_RUNS[0], cs.MASK2FORMER_RUNS[2]])  # panoptic / semantic peers do not read it


def test_knet_flag_is_refused_clearly():
    with pytest.raises(cs.CompareError, match='--with-knet is not implemented'):
        cs.requested_runs(cs.parse_args(['--with-knet']))


def test_instance_file_names_follow_the_split_names():
    assert cs._swap_split('annotations/instances_val.json', 'annotations/panoptic_val.json',
                          'annotations/panoptic_train.json') == 'annotations/instances_train.json'
    assert cs._swap_split('ade20k_instance_val.json', 'ade20k_panoptic_val.json',
                          'ade20k_panoptic_train.json') == 'ade20k_instance_train.json'
    assert cs._instance_name('annotations/panoptic_val2017.json') == 'annotations/instances_val2017.json'


def _pipeline(cfg, loader):
    return [dict(t) for t in cfg[loader].dataset.pipeline]


@pytest.mark.parametrize('spec', cs.MASK2FORMER_RUNS + (cs.MASKFORMER_RUN, ), ids=lambda s: s.name)
def test_retargeting_the_default_dataset_reproduces_the_peer_configs(spec, tiny_data):
    """The configs in configs/compare/ say what the tool does to them for the default dataset: same files, classes,
    augmentation and resizing as configs/_base_/datasets/synthetic_panoptic.py (a drift in either shows here)."""
    ds = cs.read_dataset(cs.DEFAULT_DATASET, str(tiny_data))
    written = Config.fromfile(spec.config)
    retargeted = Config.fromfile(spec.config)
    cs.retarget_peer(retargeted, spec, ds)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert _pipeline(retargeted, loader) == _pipeline(written, loader)
        a, b = retargeted[loader].dataset, written[loader].dataset
        assert a.metainfo == b.metainfo
        assert a.get('ann_file') == b.get('ann_file') and a.data_prefix == b.data_prefix
        assert a.data_root == str(tiny_data) + '/' and b.data_root == 'data/synthetic/'
    if spec.kind == 'semantic':
        assert retargeted.model.decode_head.num_classes == written.model.decode_head.num_classes == 5
    else:
        head = written.model.panoptic_head
        assert retargeted.model.panoptic_head.num_things_classes == head.num_things_classes
        assert retargeted.model.panoptic_head.num_stuff_classes == head.num_stuff_classes
        assert retargeted.model.panoptic_head.loss_cls.class_weight == head.loss_cls.class_weight
    # the peers share the demo OneFormer's backbone and widths
    demo = Config.fromfile(cs.DEFAULT_ONEFORMER).model
    assert written.model.backbone.depth == demo.backbone.depth == 18
    assert written.model.backbone.base_channels == demo.backbone.base_channels
    head = written.model.get('decode_head') or written.model.panoptic_head
    from mmdet.registry import MODELS
    assert head.in_channels == MODELS.build(demo).panoptic_head.in_channels  # found from the demo's backbone
    assert head.feat_channels == demo.panoptic_head.feat_channels
    assert head.num_queries == demo.panoptic_head.num_queries
    assert head.transformer_decoder.num_layers == demo.panoptic_head.transformer_decoder.num_layers
    assert written.train_dataloader.batch_size == Config.fromfile(cs.DEFAULT_ONEFORMER).train_dataloader.batch_size


def test_semantic_labels_match_the_panoptic_pngs(tiny_data):
    import numpy as np
    from PIL import Image

    from oneformer.dataset_converters import read_panoptic_png
    ds = cs.read_dataset(cs.DEFAULT_DATASET, str(tiny_data))
    out = cs.make_semantic_labels(ds, 'val', quiet=True)
    ann = json.loads((tiny_data / 'annotations' / 'panoptic_val.json').read_text())
    a = ann['annotations'][0]
    ids = read_panoptic_png(str(tiny_data / 'panoptic_val' / a['file_name']))
    labels = np.asarray(Image.open(osp.join(out, a['file_name'])))
    for seg in a['segments_info']:
        assert (labels[ids == seg['id']] == seg['category_id'] - 1).all()  # synthetic: category id = label + 1
    assert labels.dtype == np.uint8 and labels.shape == ids.shape
    assert cs.make_semantic_labels(ds, 'val', quiet=True) == out  # stamped: not rewritten


@pytest.mark.slow
def test_compare_trains_every_model_writes_table_and_plot_and_skips_finished_runs(tiny_data, tmp_path, capsys):
    work = tmp_path / 'work'
    argv = ['--data-root', str(tiny_data), '--work-dir', str(work), '--iters', '2', '--batch', '2',
            '--timing-images', '1', '--with-maskformer']
    report = cs.main(argv)

    expected = {'oneformer': {'PQ', 'AP', 'mIoU'}, 'mask2former_panoptic': {'PQ'}, 'mask2former_instance': {'AP'},
                'mask2former_semantic': {'mIoU'}, 'maskformer_panoptic': {'PQ'}}
    saved = json.loads((work / 'results.json').read_text())
    assert [r['name'] for r in saved['runs']] == list(expected)
    for run in saved['runs']:
        for key in ('PQ', 'AP', 'mIoU'):
            if key in expected[run['name']]:
                assert run[key] is not None and 0 <= run[key] <= 100, (run['name'], key)
            else:
                assert run[key] is None, (run['name'], key)
        assert run['iterations'] == 2 and run['train_seconds'] > 0 and run['inference_s_per_image'] > 0
        assert run['params'] > 0 and run['flops'] and run['flops'] > 0, run['name']
    models = {m['name']: m for m in saved['models']}
    assert models['OneFormer']['trainings'] == 1 and models['OneFormer']['iterations'] == 2
    assert models['Mask2Former']['trainings'] == 3 and models['Mask2Former']['iterations'] == 6
    assert all(models['Mask2Former'][k] is not None for k in ('PQ', 'AP', 'mIoU'))
    assert len(models['Mask2Former']['flops_per_forward']) == 3 and all(models['Mask2Former']['flops_per_forward'])
    assert models['Mask2Former']['inference_s_per_image'] == pytest.approx(
        sum(r['inference_s_per_image'] for r in saved['runs'] if r['model'] == 'Mask2Former'))
    assert models['MaskFormer']['PQ'] is not None
    assert report['table'] == saved['table'] and '| **Mask2Former** |' in saved['table']
    assert (work / 'compare.png').stat().st_size > 10_000
    assert (work / 'results.md').read_text().strip() == saved['table']

    # rerun: every run is reused, nothing is retrained, same metrics
    stamps = {n: (work / n / 'result.json').stat().st_mtime_ns for n in expected}
    capsys.readouterr()
    again = cs.main(argv)
    out = capsys.readouterr().out
    assert out.count('finished earlier, reusing') == len(expected)
    assert 'training OneFormer' not in out and 'training Mask2Former' not in out
    assert stamps == {n: (work / n / 'result.json').stat().st_mtime_ns for n in expected}
    assert [(r['PQ'], r['AP'], r['mIoU']) for r in again['runs']] == [(r['PQ'], r['AP'], r['mIoU'])
                                                                      for r in saved['runs']]

    # other settings in the same work dir: refused, not silently mixed
    with pytest.raises(SystemExit):
        cs.main(argv[:4] + ['--iters', '3'] + argv[6:])
    assert 'other settings' in capsys.readouterr().err


@pytest.mark.parametrize('task, classes', [('panoptic', (100, 50)), ('instance', (100, 0)), ('semantic', 150)])
def test_paper_scale_peer_configs_build_and_read_the_oneformer_ade20k_files(task, classes):
    """The R-50 ADE20K peers of docs/compare.md: mmdet:: / mmseg:: inheritance resolves, the model builds with
    the right class counts and the data is the OneFormer ADE20K config's."""
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(osp.join(cs.COMPARE_CONFIGS, f'mask2former_r50_8xb2-160k_ade20k-{task}-512x512.py'))
    oneformer = Config.fromfile(osp.join(cs.REPO, 'configs', 'oneformer',
                                         'oneformer_r50_8xb2-160k_ade20k-panoptic-512x512.py'))
    assert cfg.train_dataloader.dataset.data_root == oneformer.train_dataloader.dataset.data_root
    assert cfg.train_cfg.max_iters == oneformer.train_cfg.max_iters == 160000
    assert cfg.train_dataloader.batch_size == oneformer.train_dataloader.batch_size == 2
    cfg.model.backbone.init_cfg = None  # no download
    if task == 'semantic':
        from mmseg.registry import MODELS
        with DefaultScope.overwrite_default_scope('mmseg'):
            model = MODELS.build(cfg.model)
        assert model.decode_head.num_classes == classes
        return
    from mmdet.registry import MODELS
    model = MODELS.build(cfg.model)
    head = model.panoptic_head
    assert (head.num_things_classes, head.num_stuff_classes) == classes
    for loader, tag in (('train_dataloader', 'train'), ('test_dataloader', 'test')):  # same augmentation / resizing
        ours = cs.augmentation_of(oneformer[loader].dataset.pipeline, 'mmdet')
        assert cs.augmentation_of(cfg[loader].dataset.pipeline, 'mmdet') == ours, tag
    if task == 'instance':
        from mmdet.datasets import ADE20KPanopticDataset
        assert cfg.train_dataloader.dataset.metainfo['classes'] == ADE20KPanopticDataset.METAINFO['thing_classes']


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


def test_another_dataset_base_reaches_every_run(tiny_data, tmp_path):
    """A user's COCO-panoptic base (other augmentation, sizes, data root): every run reads its files and classes
    with its augmentation (translated for mmseg) and resizing; the budget is the same everywhere."""
    base = tmp_path / 'my_panoptic.py'
    base.write_text(CUSTOM_BASE)
    args = cs.parse_args(['--dataset', str(base), '--data-root', str(tiny_data), '--iters', '7', '--batch', '3',
                          '--with-maskformer'])
    ds = cs.read_dataset(args.dataset, args.data_root)
    assert ds.base_root == 'data/elsewhere/' and ds.data_root == str(tiny_data) + '/'
    assert ds.splits['train']['instance_ann'] == 'annotations/instances_train.json'
    cs.check_data(ds, cs.requested_runs(args))
    train_aug = cs.augmentation_of(Config.fromfile(str(base)).train_pipeline, 'mmdet')
    assert [t['type'] for t in train_aug] == ['RandomChoiceResize', 'RandomCrop', 'PhotoMetricDistortion', 'RandomFlip']
    for spec in cs.requested_runs(args):
        cfg = cs.build_run_config(spec, ds, args)
        assert cfg.train_cfg.max_iters == 7 and cfg.train_dataloader.batch_size == 3
        assert cfg.param_scheduler[0]['end'] == 7 and cfg.randomness == dict(seed=0, deterministic=True)
        assert cfg.val_dataloader is None  # one test pass after training
        for loader in ('train_dataloader', 'test_dataloader'):
            assert cfg[loader].dataset.data_root == ds.data_root
        aug = cs.augmentation_of(cfg.train_dataloader.dataset.pipeline, 'mmdet')
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
            assert cfg.test_evaluator[0]['ann_file'] == str(tiny_data / 'annotations' / 'instances_val.json')
            assert cfg.train_dataloader.dataset.metainfo == dict(classes=('circle', 'square', 'triangle'))
        if spec.kind == 'oneformer':
            assert cfg.train_dataloader.dataset.type == 'OneFormerPanopticDataset'
            assert [m['type'] for m in cfg.test_evaluator] == ['OneFormerPanopticMetric', 'CocoMetric',
                                                                'OneFormerSemSegMetric']
            assert cfg.test_evaluator[1]['ann_file'] == str(tiny_data / 'annotations' / 'instances_val.json')


def test_dataset_base_without_panoptic_files_is_refused(tmp_path):
    base = tmp_path / 'semantic_only.py'
    base.write_text("train_dataloader = dict(dataset=dict(type='BaseSegDataset', ann_file='', "
                    "data_prefix=dict(img_path='img', seg_map_path='ann')))\nval_dataloader = train_dataloader\n")
    with pytest.raises(cs.CompareError, match='COCO-panoptic'):
        cs.read_dataset(str(base))
