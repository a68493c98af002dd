"""Training / evaluating on a subset of a COCO-panoptic JSON's classes, and class names read from the JSON."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import DATASETS, METRICS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from oneformer.dataset_converters import generate_synthetic_panoptic
from oneformer.datasets import FROM_JSON, LoadPanopticSegments, LoadPanopticTestAnnotations, coco_panoptic_classes

THINGS, STUFF = ('car', 'person'), ('road', 'grass', 'sky')
SUBSET = ('person', 'grass', 'sky')  # car and road become void
SIZE = 32


@pytest.fixture
def data(tmp_path):
    root = str(tmp_path / 'data')
    generate_synthetic_panoptic(root, num_train=0, num_val=3, img_size=SIZE, seed=3, thing_classes=THINGS,
                                stuff_classes=STUFF)
    return root


def _build(root, metainfo, **kw):
    init_default_scope('mmdet')
    cfg = dict(type='OneFormerPanopticDataset', data_root=root, ann_file='annotations/panoptic_val.json',
               data_prefix=dict(img='val/', seg='panoptic_val/'), metainfo=metainfo)
    cfg.update(kw)
    return DATASETS.build(cfg)


def test_classes_from_json(data):
    ann = osp.join(data, 'annotations', 'panoptic_val.json')
    meta = coco_panoptic_classes(ann)
    assert meta == dict(classes=THINGS + STUFF, thing_classes=THINGS, stuff_classes=STUFF)
    assert coco_panoptic_classes(ann, ['sky', 'person', 'grass']) == dict(
        classes=SUBSET, thing_classes=('person', ), stuff_classes=('grass', 'sky'))  # things first, JSON order
    with pytest.raises(ValueError, match=r"panoptic_val.json: classes \['tree'\] are not categories"):
        coco_panoptic_classes(ann, ['person', 'tree'])
    ds = _build(data, dict(classes=FROM_JSON))
    assert ds.metainfo['classes'] == THINGS + STUFF and ds.num_things_classes == 2
    assert len(ds.metainfo['palette']) == 5


def test_subset_other_categories_become_void(data):
    ds = _build(data, dict(classes=SUBSET))  # thing / stuff split taken from the JSON isthing flags
    assert ds.metainfo['thing_classes'] == ('person', ) and ds.metainfo['stuff_classes'] == ('grass', 'sky')
    with open(osp.join(data, 'annotations', 'panoptic_val.json')) as f:
        raw = {a['image_id']: a['segments_info'] for a in json.load(f)['annotations']}
    cat_names = {1: 'car', 2: 'person', 3: 'road', 4: 'grass', 5: 'sky'}
    n_void = 0
    load, load_test = LoadPanopticSegments(), LoadPanopticTestAnnotations()
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        segs = raw[info['img_id']]
        void = [s['id'] for s in segs if cat_names[s['category_id']] not in SUBSET]
        assert sorted(info['ignored_segment_ids']) == sorted(void)
        assert {s['id'] for s in info['segments_info']} == {s['id'] for s in segs} - set(void)
        n_void += len(void)
        out = load(dict(info, ori_shape=(SIZE, SIZE)))  # strict check passes: ignored ids are void
        assert set(out['gt_bboxes_labels'].tolist()) <= {0, 1, 2}
        test_out = load_test(dict(info, ori_shape=(SIZE, SIZE)))
        np.testing.assert_array_equal(test_out['gt_seg_map'], out['gt_seg_map'])
        ids = out['gt_seg_map']
        assert (ids[np.isin(_png_ids(info['seg_map_path']), void)] == 255).all()
    assert n_void > 0, 'the fixture must contain segments of excluded classes'


def _png_ids(path):
    from oneformer.structures import read_panoptic_png
    return read_panoptic_png(path)


def test_subset_order_and_unknown_names_are_clear_errors(data):
    with pytest.raises(ValueError, match=r"thing classes first.*use classes=\('person', 'grass', 'sky'\)"):
        _build(data, dict(classes=('grass', 'person', 'sky')))
    with pytest.raises(ValueError, match=r"classes \['tree'\] are not categories"):
        _build(data, dict(classes=('person', 'tree')))
    with pytest.raises(ValueError, match="give a list of names or 'from_json'"):
        _build(data, dict(classes='all'))


def test_config_can_read_the_classes(data, tmp_path):
    ann = osp.join(data, 'annotations', 'panoptic_val.json')
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(  # a usual (``_base_``-style) config; pure-python configs import lazily
        '_base_ = []\n'
        'from oneformer.datasets import coco_panoptic_classes\n'
        f'metainfo = coco_panoptic_classes({ann!r}, {list(SUBSET)!r})\n'
        "num_things_classes = len(metainfo['thing_classes'])\n"
        "num_stuff_classes = len(metainfo['stuff_classes'])\n")
    cfg = Config.fromfile(str(cfg_file))
    assert tuple(cfg.metainfo['classes']) == SUBSET
    assert (cfg.num_things_classes, cfg.num_stuff_classes) == (1, 2)


def _perfect_predictions(ds):
    """The subset ground truth as panoptic predictions (excluded classes predicted as void)."""
    from mmdet.structures import DetDataSample
    load, samples = LoadPanopticSegments(), []
    num_classes, num_things = len(ds.metainfo['classes']), ds.num_things_classes
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        gt = load(dict(info, ori_shape=(SIZE, SIZE)))
        pan = np.full((SIZE, SIZE), num_classes, np.int64)
        for k, (mask, label) in enumerate(zip(gt['gt_masks'].masks.astype(bool), gt['gt_bboxes_labels'])):
            pan[mask] = label + (k + 1) * INSTANCE_OFFSET if label < num_things else label
        sample = DetDataSample(metainfo=dict(img_id=info['img_id'], img_path=info['img_path'],
                                             ori_shape=(SIZE, SIZE)))
        sample.pred_panoptic_seg = PixelData(sem_seg=torch.from_numpy(pan)[None])
        samples.append(sample.to_dict())
    return samples


@pytest.mark.parametrize('metric_type, perfect', [('OneFormerPanopticMetric', True), ('CocoPanopticMetric', False)])
def test_subset_panoptic_quality(data, metric_type, perfect):
    """PQ over the subset only, excluded ground truth counted as void: the perfect subset prediction scores 100;
    mmdet's metric counts the excluded classes as missed."""
    ds = _build(data, dict(classes=SUBSET), test_mode=True)
    metric = METRICS.build(dict(type=metric_type, ann_file=osp.join(data, 'annotations', 'panoptic_val.json'),
                                seg_prefix=osp.join(data, 'panoptic_val')))
    metric.dataset_meta = ds.metainfo
    metric.process({}, _perfect_predictions(ds))
    pq = metric.compute_metrics(metric.results)['PQ']
    if perfect:
        assert pq == pytest.approx(100.0)
        assert sorted(c['name'] for c in metric.categories.values()) == sorted(SUBSET)
    else:
        assert pq < 100.0
