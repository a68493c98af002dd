"""tools/analysis_tools/compare_segmentors.py (issues 15, 21): the command, the shared dataset and its checks.

Fast tests: the clear errors and the derived label maps. The slow test runs the whole command on a tiny generated
dataset with OneFormer and two peers (mmdet and mmseg), checks results.json / results.md / the plot, then reruns and
checks that nothing is retrained.
"""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config
from segcompare import cli, dataset
from segcompare.common import COMPARE_CONFIGS, DEFAULT_DATASET, DEFAULT_ONEFORMER, REPO, CompareError
from segcompare.peers import DEFAULT_PEERS, peer_spec, requested_runs
from segcompare.pipelines import augmentation_of


def _copy_without(src, dst, missing: str):
    import shutil
    shutil.copytree(src, dst)
    os.remove(osp.join(dst, missing))
    return dst


def test_missing_instance_json_names_the_file_and_the_converter(compare_data, tmp_path, capsys):
    data = _copy_without(compare_data, tmp_path / 'data', 'annotations/instances_train.json')
    work = tmp_path / 'work'
    with pytest.raises(SystemExit) as exc:
        cli.main(['--data-root', str(data), '--work-dir', str(work), '--iters', '2'])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert str(data / 'annotations' / 'instances_train.json') in err
    for run in ('mask2former_instance', 'maskrcnn_instance', 'solov2_instance', 'rtmdetins_instance'):
        assert run in err  # every default instance peer trains on it
    assert 'tools/dataset_converters/panoptic2instance.py' in err
    assert str(data / 'annotations' / 'panoptic_train.json') in err  # the command to run, with its arguments
    assert not work.exists()  # checked before anything was trained


def test_missing_val_instance_json_blames_every_run_that_needs_it(compare_data, tmp_path):
    data = _copy_without(compare_data, tmp_path / 'data', 'annotations/instances_val.json')
    ds = dataset.read_dataset(DEFAULT_DATASET, str(data))
    runs = requested_runs(DEFAULT_ONEFORMER, [DEFAULT_PEERS[2], DEFAULT_PEERS[6], DEFAULT_PEERS[-1]])
    with pytest.raises(CompareError, match='instances_val.json') as exc:
        dataset.check_data(ds, runs)
    assert 'oneformer' in str(exc.value) and 'mask2former_instance' in str(exc.value)
    dataset.check_data(ds, [runs[1], runs[3]])  # panoptic / semantic peers do not read it


@pytest.mark.parametrize('name, message', [
    ('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', 'predicts no masks'),
    ('mmpose::foo.py', "scope 'mmpose' is not supported"),
    ('mmseg::knet/no_such_config.py', 'no such config in the installed mmseg'),
    (DEFAULT_ONEFORMER, 'is a OneFormer config'),
])
def test_peers_that_cannot_be_one_are_refused_with_the_reason(name, message):
    with pytest.raises(CompareError, match=message):
        peer_spec(name)


def test_default_leaderboard_covers_the_issue_list():
    runs = requested_runs(DEFAULT_ONEFORMER)
    by_task = {t: [r.model for r in runs if r.tasks == (t, )] for t in ('panoptic', 'instance', 'semantic')}
    assert by_task == {
        'panoptic': ['Panoptic FPN', 'MaskFormer', 'Mask2Former'],
        'instance': ['Mask R-CNN', 'SOLOv2', 'RTMDet-Ins', 'Mask2Former'],
        'semantic': ['FCN', 'UPerNet', 'SegFormer', 'K-Net', 'Mask2Former']}
    assert runs[0].tasks == ('panoptic', 'instance', 'semantic') and len({r.name for r in runs}) == 13
    assert [r.library for r in runs if r.tasks == ('semantic', )] == ['mmseg'] * 5
    semantic = requested_runs(DEFAULT_ONEFORMER, tasks=('semantic', ))
    assert [r.name for r in semantic] == ['oneformer', 'fcn_semantic', 'upernet_semantic', 'segformer_semantic',
                                          'knet_semantic', 'mask2former_semantic']


def test_instance_file_names_follow_the_split_names():
    assert dataset._swap_split('annotations/instances_val.json', 'annotations/panoptic_val.json',
                               'annotations/panoptic_train.json') == 'annotations/instances_train.json'
    assert dataset._swap_split('ade20k_instance_val.json', 'ade20k_panoptic_val.json',
                               'ade20k_panoptic_train.json') == 'ade20k_instance_train.json'
    assert dataset._instance_name('annotations/panoptic_val2017.json') == 'annotations/instances_val2017.json'


def test_semantic_labels_match_the_panoptic_pngs(compare_data):
    import numpy as np
    from PIL import Image

    from oneformer.dataset_converters import read_panoptic_png
    ds = dataset.read_dataset(DEFAULT_DATASET, str(compare_data))
    out = dataset.make_semantic_labels(ds, 'val', quiet=True)
    ann = json.loads((compare_data / 'annotations' / 'panoptic_val.json').read_text())
    a = ann['annotations'][0]
    ids = read_panoptic_png(str(compare_data / 'panoptic_val' / a['file_name']))
    labels = np.asarray(Image.open(osp.join(out, a['file_name'])))
    for seg in a['segments_info']:
        assert (labels[ids == seg['id']] == seg['category_id'] - 1).all()  # synthetic: category id = label + 1
    assert labels.dtype == np.uint8 and labels.shape == ids.shape
    assert dataset.make_semantic_labels(ds, 'val', quiet=True) == out  # stamped: not rewritten


def test_dataset_base_without_panoptic_files_is_refused(tmp_path):
    base = tmp_path / 'semantic_only.py'
    base.write_text("train_dataloader = dict(dataset=dict(type='BaseSegDataset', ann_file='', "
                    "data_prefix=dict(img_path='img', seg_map_path='ann')))\nval_dataloader = train_dataloader\n")
    with pytest.raises(CompareError, match='COCO-panoptic'):
        dataset.read_dataset(str(base))


@pytest.mark.slow
def test_leaderboard_trains_writes_table_and_plot_and_reuses_finished_runs(compare_data, tmp_path, capsys):
    work = tmp_path / 'work'
    peers = ','.join([DEFAULT_PEERS[6], DEFAULT_PEERS[9]])  # Mask2Former (mmdet, instance), SegFormer (mmseg::)
    argv = ['--data-root', str(compare_data), '--work-dir', str(work), '--iters', '2', '--batch', '2',
            '--timing-images', '1', '--peers', peers, '--threads', '1']
    report = cli.main(argv)

    expected = {'oneformer': {'PQ', 'AP', 'mIoU'}, 'mask2former_instance': {'AP'}, 'segformer_semantic': {'mIoU'}}
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
        assert run['peak_rss_mb'] > 100 and run['threads'] == 1  # its own process, pinned
        assert run['trainings_for_3_tasks'] == (1 if run['name'] == 'oneformer' else 3)
    assert [r['library'] for r in saved['runs']] == ['oneformer', 'mmdet', 'mmseg']
    assert saved['environment']['threads per run'] == 1 and saved['schema_version'] == 2
    assert saved['environment']['CPU'] and saved['environment']['MMDetection']  # oneformer.utils.collect_env
    assert report['table'] == saved['table'] and '| SegFormer | mmseg | semantic |' in saved['table']
    assert (work / 'leaderboard.png').stat().st_size > 10_000
    assert (work / 'results.md').read_text().strip() == saved['table']

    # rerun: every run is reused, nothing is retrained, same metrics
    stamps = {n: (work / n / 'result.json').stat().st_mtime_ns for n in expected}
    capsys.readouterr()
    again = cli.main(argv)
    out = capsys.readouterr().out
    assert out.count('finished earlier, reusing') == len(expected)
    assert 'training OneFormer' not in out and 'training SegFormer' not in out
    assert stamps == {n: (work / n / 'result.json').stat().st_mtime_ns for n in expected}
    assert [(r['PQ'], r['AP'], r['mIoU']) for r in again['runs']] == [(r['PQ'], r['AP'], r['mIoU'])
                                                                      for r in saved['runs']]
    # --only with --tasks: the table keeps the finished runs of the requested ones
    sem = cli.main(argv + ['--tasks', 'semantic', '--only', 'segformer_semantic'])
    assert [r['name'] for r in sem['runs']] == ['oneformer', 'segformer_semantic']

    # other settings in the same work dir: refused, not silently mixed
    with pytest.raises(SystemExit):
        cli.main(argv[:4] + ['--iters', '3'] + argv[6:])
    assert 'other settings' in capsys.readouterr().err


@pytest.mark.parametrize('task, classes', [('panoptic', (100, 50)), ('instance', (100, 0)), ('semantic', 150)])
def test_paper_scale_peer_configs_build_and_read_the_oneformer_ade20k_files(task, classes):
    """The R-50 ADE20K peers of docs/compare.md: mmdet:: / mmseg:: inheritance resolves, the model builds with
    the right class counts and the data is the OneFormer ADE20K config's."""
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(osp.join(COMPARE_CONFIGS, f'mask2former_r50_8xb2-160k_ade20k-{task}-512x512.py'))
    oneformer = Config.fromfile(osp.join(REPO, 'configs', 'oneformer',
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
        ours = augmentation_of(oneformer[loader].dataset.pipeline, 'mmdet')
        assert augmentation_of(cfg[loader].dataset.pipeline, 'mmdet') == ours, tag
    if task == 'instance':
        from mmdet.datasets import ADE20KPanopticDataset
        assert cfg.train_dataloader.dataset.metainfo['classes'] == ADE20KPanopticDataset.METAINFO['thing_classes']
