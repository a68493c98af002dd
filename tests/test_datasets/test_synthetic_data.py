"""The synthetic panoptic generator: determinism, annotation consistency, loading, CLI."""
import filecmp
import importlib.util
import json
import os
import os.path as osp

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from mmdet.registry import DATASETS
from mmengine.registry import init_default_scope
from scipy import ndimage

from oneformer.dataset_converters import generate_synthetic_panoptic, read_panoptic_png
from oneformer.datasets import SYNTHETIC_METAINFO

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _files(root):
    return sorted(osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synth'))
    generate_synthetic_panoptic(root, num_train=12, num_val=4, img_size=64, seed=0)
    return root


def test_same_seed_gives_identical_files(synth, tmp_path):
    again = str(tmp_path / 'again')
    generate_synthetic_panoptic(again, num_train=12, num_val=4, img_size=64, seed=0)
    files = _files(synth)
    assert files == _files(again)
    assert 'annotations/panoptic_train.json' in files and 'val/000004.jpg' in files
    assert 'panoptic_val/000004.png' in files and 'annotations/instances_val.json' in files
    _, mismatch, errors = filecmp.cmpfiles(synth, again, files, shallow=False)
    assert mismatch == [] and errors == []
    other = str(tmp_path / 'other')
    generate_synthetic_panoptic(other, num_train=2, num_val=0, img_size=64, seed=1)
    assert not filecmp.cmp(osp.join(synth, 'panoptic_train/000001.png'), osp.join(other, 'panoptic_train/000001.png'),
                           shallow=False)


@pytest.mark.parametrize('split', ['train', 'val'])
def test_panoptic_annotation_consistency(synth, split):
    with open(osp.join(synth, 'annotations', f'panoptic_{split}.json')) as f:
        data = json.load(f)
    cats = {c['id']: c for c in data['categories']}
    assert [c['name'] for c in data['categories']] == list(SYNTHETIC_METAINFO['classes'])
    assert len(data['images']) == len(data['annotations']) == (12 if split == 'train' else 4)
    n_things = []
    for ann in data['annotations']:
        ids = read_panoptic_png(osp.join(synth, f'panoptic_{split}', ann['file_name']))
        assert ids.shape == (64, 64)
        listed = {s['id'] for s in ann['segments_info']}
        assert set(np.unique(ids).tolist()) - {0} == listed
        for s in ann['segments_info']:
            mask = ids == s['id']
            assert s['area'] == mask.sum()
            ys, xs = np.nonzero(mask)
            assert s['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
            assert s['iscrowd'] == 0
        n_things.append(sum(cats[s['category_id']]['isthing'] for s in ann['segments_info']))
    assert min(n_things) >= 1 and max(n_things) >= 3  # several instances per image


def test_instance_json_matches_panoptic_things(synth):
    with open(osp.join(synth, 'annotations', 'panoptic_train.json')) as f:
        pan = json.load(f)
    with open(osp.join(synth, 'annotations', 'instances_train.json')) as f:
        inst = json.load(f)
    things = {c['id'] for c in pan['categories'] if c['isthing']}
    assert {c['id'] for c in inst['categories']} == things
    assert [i['id'] for i in inst['images']] == [i['id'] for i in pan['images']]
    by_img = {}
    for a in inst['annotations']:
        by_img.setdefault(a['image_id'], []).append(a)
    for ann in pan['annotations']:
        ids = read_panoptic_png(osp.join(synth, 'panoptic_train', ann['file_name']))
        segs = [s for s in ann['segments_info'] if s['category_id'] in things]
        got = by_img.get(ann['image_id'], [])
        assert len(got) == len(segs)
        for s, a in zip(segs, got):
            assert a['category_id'] == s['category_id'] and a['area'] == s['area']
            np.testing.assert_array_equal(mask_utils.decode(a['segmentation']).astype(bool), ids == s['id'])


def test_some_instances_touch_or_overlap(synth):
    """Shapes are drawn over each other: some thing segments share a border."""
    with open(osp.join(synth, 'annotations', 'panoptic_train.json')) as f:
        pan = json.load(f)
    things = {c['id'] for c in pan['categories'] if c['isthing']}
    touching = 0
    for ann in pan['annotations']:
        ids = read_panoptic_png(osp.join(synth, 'panoptic_train', ann['file_name']))
        segs = [s['id'] for s in ann['segments_info'] if s['category_id'] in things]
        for i, a in enumerate(segs):
            grown = ndimage.binary_dilation(ids == a)
            touching += sum(bool((grown & (ids == b)).any()) for b in segs[i + 1:])
    assert touching >= 2


def test_loads_through_dataset_and_train_pipeline(synth):
    init_default_scope('mmdet')
    ds = DATASETS.build(dict(
        type='SyntheticPanopticDataset', data_root=synth, ann_file='annotations/panoptic_train.json',
        data_prefix=dict(img='train/', seg='panoptic_train/'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadPanopticSegments'),
                  dict(type='OneFormerTaskTargets', task_probs=dict(panoptic=1.0)),
                  dict(type='PackDetInputs', meta_keys=('img_id', 'task', 'text_tokens'))]))
    assert len(ds) == 12 and ds.metainfo['classes'] == SYNTHETIC_METAINFO['classes']
    sample = ds[0]['data_samples']
    info = ds.get_data_info(0)
    assert len(sample.gt_instances) == len(info['segments_info'])
    assert sample.text_tokens.shape == (len(sample.gt_instances), 77)  # unpadded: the model pads to its size


def test_cli(tmp_path):
    spec = importlib.util.spec_from_file_location(
        'make_synthetic_panoptic', osp.join(REPO, 'tools/dataset_converters/make_synthetic_panoptic.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = str(tmp_path / 'cli')
    mod.main([out, '--num-train', '2', '--num-val', '1', '--size', '48', '--seed', '3'])
    assert _files(out) == ['annotations/instances_train.json', 'annotations/instances_val.json',
                           'annotations/panoptic_train.json', 'annotations/panoptic_val.json', 'meta.json',
                           'panoptic_train/000001.png', 'panoptic_train/000002.png', 'panoptic_val/000001.png',
                           'train/000001.jpg', 'train/000002.jpg', 'val/000001.jpg']
    with open(osp.join(out, 'annotations', 'panoptic_val.json')) as f:
        assert json.load(f)['images'][0]['height'] == 48
