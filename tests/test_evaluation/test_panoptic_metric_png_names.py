"""Panoptic evaluation reads the ground-truth PNG the JSON names (``file_name``), not one derived from the image
name; ``tools/misc/check_dataset.py --split val`` checks exactly that PNG."""
import json
import os
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import METRICS
from mmdet.structures import DetDataSample
from mmengine.structures import PixelData

from oneformer.dataset_converters import generate_synthetic_panoptic
from oneformer.structures import read_panoptic_png
from oneformer.testing import config_path

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZE = 24
CLASSES = ('circle', 'square', 'triangle', 'sky', 'ground')
META = dict(classes=CLASSES, thing_classes=CLASSES[:3], stuff_classes=CLASSES[3:])


def _rename(root):
    """``.jpeg`` images and PNGs named ``gt_{stem}.png``, as the JSON says."""
    ann_file = osp.join(root, 'annotations', 'panoptic_val.json')
    with open(ann_file) as f:
        data = json.load(f)
    for img in data['images']:
        stem = osp.splitext(img['file_name'])[0]
        os.rename(osp.join(root, 'val', img['file_name']), osp.join(root, 'val', stem + '.jpeg'))
        img['file_name'] = stem + '.jpeg'
    for ann in data['annotations']:
        os.rename(osp.join(root, 'panoptic_val', ann['file_name']), osp.join(root, 'panoptic_val', 'gt_' +
                                                                             ann['file_name']))
        ann['file_name'] = 'gt_' + ann['file_name']
    with open(ann_file, 'w') as f:
        json.dump(data, f)
    return data


def _perfect_predictions(root, data):
    """Predictions equal to the ground truth (label + instance * INSTANCE_OFFSET, void = len(CLASSES))."""
    cats = {c['id']: CLASSES.index(c['name']) for c in data['categories']}
    anns = {a['image_id']: a for a in data['annotations']}
    samples = []
    for img in data['images']:
        ann = anns[img['id']]
        ids = read_panoptic_png(osp.join(root, 'panoptic_val', ann['file_name']))
        pan = np.full(ids.shape, len(CLASSES), np.int64)
        for inst, seg in enumerate(ann['segments_info'], start=1):
            label = cats[seg['category_id']]
            pan[ids == seg['id']] = label + (inst if label < 3 else 0) * INSTANCE_OFFSET
        sample = DetDataSample(metainfo=dict(img_id=img['id'], img_path=osp.join(root, 'val', img['file_name']),
                                             ori_shape=ids.shape))
        sample.pred_panoptic_seg = PixelData(sem_seg=torch.from_numpy(pan)[None])
        samples.append(sample.to_dict())
    return samples


@pytest.fixture
def renamed(tmp_path):
    root = str(tmp_path / 'data')
    generate_synthetic_panoptic(root, num_train=0, num_val=2, img_size=SIZE, seed=4)
    return root, _rename(root)


@pytest.mark.parametrize('outfile_prefix', [False, True])
def test_jpeg_images_and_differently_named_pngs_evaluate(renamed, tmp_path, outfile_prefix):
    root, data = renamed
    extra = dict(outfile_prefix=str(tmp_path / 'out' / 'pan')) if outfile_prefix else {}
    metric = METRICS.build(dict(type='OneFormerPanopticMetric', ann_file=osp.join(root, 'annotations',
                                                                                   'panoptic_val.json'),
                                seg_prefix=osp.join(root, 'panoptic_val'), **extra))
    metric.dataset_meta = META
    metric.process({}, _perfect_predictions(root, data))
    assert metric.compute_metrics(metric.results)['PQ'] == pytest.approx(100.0)
    if outfile_prefix:  # the predicted PNGs are PNGs, named as the ground truth
        assert sorted(os.listdir(str(tmp_path / 'out' / 'pan.panoptic'))) == sorted(
            a['file_name'] for a in data['annotations'])


def test_without_ann_file_the_dataset_seg_map_path_names_the_png(renamed):
    root, data = renamed
    metric = METRICS.build(dict(type='OneFormerPanopticMetric', seg_prefix=osp.join(root, 'panoptic_val')))
    metric.dataset_meta = META
    img, ann = data['images'][0], data['annotations'][0]
    sample = dict(img_id=img['id'], img_path=osp.join(root, 'val', img['file_name']),
                  seg_map_path=osp.join(root, 'panoptic_val', ann['file_name']))
    assert metric.gt_png_name(sample) == ann['file_name']
    sample.pop('seg_map_path')
    assert metric.gt_png_name(sample) == osp.splitext(img['file_name'])[0] + '.png'  # not '....jpeg'


def test_check_dataset_val_checks_the_png_evaluation_reads(renamed, tmp_path, capsys):
    sys.path.insert(0, osp.join(REPO, 'tools', 'misc'))
    import check_dataset
    root, _ = renamed
    base = config_path('configs/_base_/datasets/synthetic_panoptic.py')

    def config(seg_prefix):
        path = tmp_path / 'cfg.py'
        path.write_text(
            f'_base_ = [{base!r}]\n'
            f'data_root = {root + "/"!r}\n'
            'val_dataloader = dict(dataset=dict(data_root=data_root))\n'
            f'val_evaluator = [dict(type="OneFormerPanopticMetric", ann_file=data_root + '
            f'"annotations/panoptic_val.json", seg_prefix={seg_prefix!r})]\n')
        return str(path)

    assert check_dataset.main([config(osp.join(root, 'panoptic_val')), '--split', 'val']) == []
    (tmp_path / 'elsewhere').mkdir()
    problems = check_dataset.main([config(str(tmp_path / 'elsewhere')), '--split', 'val'])
    assert [kind for kind, _ in problems] == ['evaluation annotation'] * 2, problems
    assert 'elsewhere/gt_000001.png' in problems[0][1] and 'panoptic_val/gt_000001.png' in problems[0][1]
