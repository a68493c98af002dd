"""Evaluation refuses broken panoptic ground truth (as training does), handles 1x1 images, computes a true aAcc and
reports AP 0 when there are no instance predictions."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.evaluation import SemSegMetric
from mmdet.registry import METRICS
from mmdet.structures import DetDataSample
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from oneformer.dataset_converters import generate_synthetic_panoptic, write_panoptic_png
from oneformer.datasets import LoadPanopticTestAnnotations
from oneformer.evaluation import OneFormerSemSegMetric, summarize_metrics

SIZE = 24


@pytest.fixture
def val_data(tmp_path):
    root = str(tmp_path / 'data')
    generate_synthetic_panoptic(root, num_train=0, num_val=2, img_size=SIZE, seed=4)
    with open(osp.join(root, 'annotations', 'panoptic_val.json')) as f:
        return root, json.load(f)


def _void_prediction(ann_json, image):
    sample = DetDataSample(metainfo=dict(img_id=image['id'], img_path=f"val/{image['file_name']}",
                                         ori_shape=(SIZE, SIZE)))
    sample.pred_panoptic_seg = PixelData(sem_seg=torch.full((1, SIZE, SIZE), 5, dtype=torch.int64))
    return sample.to_dict()


def _metric(root, data, tmp_path):
    ann = str(tmp_path / 'broken.json')
    with open(ann, 'w') as f:
        json.dump(data, f)
    metric = METRICS.build(dict(type='OneFormerPanopticMetric', ann_file=ann, seg_prefix=osp.join(root,
                                                                                                  'panoptic_val')))
    metric.dataset_meta = dict(classes=('circle', 'square', 'triangle', 'sky', 'ground'),
                               thing_classes=('circle', 'square', 'triangle'), stuff_classes=('sky', 'ground'))
    return metric


def test_png_id_missing_from_segments_info(val_data, tmp_path):
    root, data = val_data
    dropped = data['annotations'][0]['segments_info'].pop(0)
    metric = _metric(root, data, tmp_path)
    with pytest.raises(ValueError, match=rf"000001.png contains segment id\(s\) \[{dropped['id']}\] that are not in "
                                         'segments_info'):
        metric.process({}, [_void_prediction(data, data['images'][0])])


def test_listed_segment_missing_from_png(val_data, tmp_path):
    root, data = val_data
    data['annotations'][1]['segments_info'].append(dict(id=4242, category_id=1, iscrowd=0, area=5,
                                                        bbox=[0, 0, 2, 2]))
    metric = _metric(root, data, tmp_path)
    metric.process({}, [_void_prediction(data, data['images'][0])])  # the intact image passes
    with pytest.raises(ValueError, match='Segment id 4242 is listed in segments_info but absent from the PNG '
                                         r'.*000002.png'):
        metric.process({}, [_void_prediction(data, data['images'][1])])


def test_intact_ground_truth_evaluates(val_data, tmp_path):
    root, data = val_data
    metric = _metric(root, data, tmp_path)
    metric.process({}, [_void_prediction(data, img) for img in data['images']])
    assert metric.compute_metrics(metric.results)['PQ'] == 0.0


def test_predicted_class_beyond_dataset_classes_is_a_clear_error(val_data, tmp_path):
    root, data = val_data
    metric = _metric(root, data, tmp_path)
    pred = _void_prediction(data, data['images'][0])
    pred['pred_panoptic_seg']['sem_seg'][0, 0, 0] = 6  # a 7-class model on 5-class data
    with pytest.raises(ValueError, match=r'predicts class 6 but the dataset .* has 5 classes'):
        metric.process({}, [pred])


def test_test_loader_checks_and_reads_one_pixel_images(tmp_path):
    init_default_scope('mmdet')
    png = str(tmp_path / 'one.png')
    write_panoptic_png(np.array([[7]]), png)
    results = dict(seg_map_path=png, ori_shape=(1, 1), segments_info=[dict(id=7, category=3, is_thing=False)],
                   instances=[])
    out = LoadPanopticTestAnnotations()(results)  # mmdet's LoadPanopticAnnotations: OverflowError
    assert out['gt_seg_map'].tolist() == [[3]] and len(out['gt_masks']) == 0
    with pytest.raises(ValueError, match=r'one.png contains segment id\(s\) \[7\]'):
        LoadPanopticTestAnnotations()(dict(results, segments_info=[]))


def test_aacc_is_overall_pixel_accuracy():
    # class 0: 90 pixels, all right; class 1: 10 pixels, all predicted as 0 -> aAcc 90 %, mAcc 50 %
    gt = torch.zeros(1, 10, 10, dtype=torch.int64)
    gt[0, 0] = 1
    pred = torch.zeros(1, 10, 10, dtype=torch.int64)
    sample = dict(pred_sem_seg=dict(sem_seg=pred), gt_sem_seg=dict(sem_seg=gt))
    results = {}
    for cls in (SemSegMetric, OneFormerSemSegMetric):
        metric = cls()
        metric.dataset_meta = dict(classes=('a', 'b'))
        metric.process({}, [sample])
        results[cls.__name__] = metric.compute_metrics(metric.results)
    assert results['SemSegMetric']['aAcc'] == results['SemSegMetric']['mAcc'] == 50.0  # mmdet's bug
    ours = results['OneFormerSemSegMetric']
    assert ours['aAcc'] == 90.0 and ours['mAcc'] == 50.0
    assert ours['mIoU'] == results['SemSegMetric']['mIoU']
    assert METRICS.get('OneFormerSemSegMetric') is OneFormerSemSegMetric


def test_summary_reports_zero_ap_without_instance_predictions():
    metrics = {'coco_panoptic/PQ': 10.0, 'mIoU': 20.0}  # CocoMetric returned nothing (no instance predictions)
    assert 'AP' not in summarize_metrics(metrics)
    s = summarize_metrics(metrics, tasks=('panoptic', 'instance', 'semantic'))
    assert (s['AP'], s['AP50'], s['AP75']) == (0.0, 0.0, 0.0)
    assert list(s)[:4] == ['PQ', 'AP', 'AP50', 'AP75'] and s['mIoU'] == 20.0


def test_summary_hook_finds_the_evaluated_tasks(tmp_path):
    from types import SimpleNamespace

    from oneformer.evaluation import TaskMetricsSummaryHook
    init_default_scope('mmdet')
    coco = METRICS.build(dict(type='SemSegMetric'))
    runner = SimpleNamespace(work_dir=str(tmp_path), logger=None,
                             test_evaluator=SimpleNamespace(metrics=[coco, SimpleNamespace(format_only=False)]))
    assert TaskMetricsSummaryHook._evaluated_tasks(runner, 'test') == ('semantic', )
    assert TaskMetricsSummaryHook._evaluated_tasks(SimpleNamespace(), 'val') == ()
