"""One-pass three-task evaluation with mmdet's own metrics, checked against the reference implementations.

Fixtures (tiny COCO-panoptic JSON + PNGs, COCO instance JSON, semantic maps) are written to tmp_path.
"""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from cityscapesscripts.evaluation import evalPanopticSemanticLabeling as cs_pq
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.structures import DetDataSample
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData, PixelData
from PIL import Image
from pycocotools import mask as mask_util
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import oneformer  # noqa: F401  (panopticapi alias for CocoPanopticMetric)
from oneformer.structures import id2rgb

CLASSES = ('person', 'car', 'sky')
THINGS = ('person', 'car')
CAT_IDS = (1, 3, 10)  # label -> category id; non contiguous so the label<->category mapping is exercised
NUM_CLASSES = len(CLASSES)
META = dict(classes=CLASSES, thing_classes=THINGS, stuff_classes=('sky', ))


class Sample:
    """One fixture image: GT panoptic ids (COCO style, 0 = void) + segment labels, and the predictions."""

    def __init__(self, name, img_id, gt_ids, gt_segments, pan_label, pan_inst, instances, sem_pred):
        self.name, self.img_id = name, img_id
        self.gt_ids = gt_ids  # (H, W) int
        self.gt_segments = gt_segments  # {segment id: (label, iscrowd)}
        self.pan_label, self.pan_inst = pan_label, pan_inst  # predicted label (NUM_CLASSES = void) / instance ids
        self.instances = instances  # [(label, bool mask, score)]
        self.sem_pred = sem_pred  # (H, W) int labels

    @property
    def gt_sem(self):
        sem = np.full(self.gt_ids.shape, 255, np.int64)
        for seg_id, (label, _) in self.gt_segments.items():
            sem[self.gt_ids == seg_id] = label
        return sem

    @property
    def pan_pred(self):
        """mmdet panoptic prediction ids: label + instance_id * INSTANCE_OFFSET, stuff/void without instance id."""
        return self.pan_label + self.pan_inst * INSTANCE_OFFSET


def _bbox(mask):
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def write_gt(root, images):
    """COCO panoptic JSON + PNGs and the derived COCO instance JSON (thing segments; crowd kept as iscrowd)."""
    pan_dir = osp.join(root, 'panoptic')
    os.makedirs(pan_dir)
    categories = [dict(id=c, name=n, isthing=int(n in THINGS), supercategory=n) for c, n in zip(CAT_IDS, CLASSES)]
    pan_json = dict(images=[], annotations=[], categories=categories)
    ins_json = dict(images=[], annotations=[], categories=[c for c in categories if c['isthing']])
    for im in images:
        h, w = im.gt_ids.shape
        info = dict(id=im.img_id, file_name=f'{im.name}.jpg', height=h, width=w)
        pan_json['images'].append(info)
        ins_json['images'].append(info)
        Image.fromarray(id2rgb(im.gt_ids)).save(osp.join(pan_dir, f'{im.name}.png'))
        segments = []
        for seg_id, (label, iscrowd) in im.gt_segments.items():
            mask = im.gt_ids == seg_id
            seg = dict(id=int(seg_id), category_id=CAT_IDS[label], iscrowd=iscrowd, area=int(mask.sum()),
                       bbox=_bbox(mask))
            segments.append(seg)
            if CLASSES[label] in THINGS:
                rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
                rle['counts'] = rle['counts'].decode()
                ins_json['annotations'].append(
                    dict(id=len(ins_json['annotations']) + 1, image_id=im.img_id, category_id=CAT_IDS[label],
                         segmentation=rle, area=int(mask.sum()), bbox=_bbox(mask), iscrowd=iscrowd))
        pan_json['annotations'].append(dict(image_id=im.img_id, file_name=f'{im.name}.png', segments_info=segments))
    pan_file, ins_file = osp.join(root, 'panoptic.json'), osp.join(root, 'instances.json')
    json.dump(pan_json, open(pan_file, 'w'))
    json.dump(ins_json, open(ins_file, 'w'))
    return pan_file, pan_dir, ins_file


def to_data_sample(root, im):
    h, w = im.gt_ids.shape
    ds = DetDataSample(metainfo=dict(img_id=im.img_id, img_path=osp.join(root, f'{im.name}.jpg'), ori_shape=(h, w)))
    ds.pred_panoptic_seg = PixelData(sem_seg=torch.from_numpy(im.pan_pred[None]).long())
    ds.gt_sem_seg = PixelData(sem_seg=torch.from_numpy(im.gt_sem[None]))
    ds.pred_sem_seg = PixelData(sem_seg=torch.from_numpy(im.sem_pred[None]).long())
    pred = InstanceData()
    masks = np.stack([m for _, m, _ in im.instances]) if im.instances else np.zeros((0, h, w), bool)
    pred.masks = torch.from_numpy(masks)
    pred.labels = torch.tensor([lb for lb, _, _ in im.instances], dtype=torch.long)
    pred.scores = torch.tensor([s for _, _, s in im.instances], dtype=torch.float32)
    pred.bboxes = torch.tensor([[b[0], b[1], b[0] + b[2], b[1] + b[3]] for b in map(_bbox, masks)],
                               dtype=torch.float32).reshape(-1, 4)
    ds.pred_instances = pred
    return ds


def build_evaluator(pan_file, pan_dir, ins_file, with_semantic=True, panoptic_metric='CocoPanopticMetric'):
    metrics = [
        dict(type=panoptic_metric, ann_file=pan_file, seg_prefix=pan_dir, nproc=1),
        dict(type='CocoMetric', ann_file=ins_file, metric='segm'),
    ]
    if with_semantic:
        metrics.append(dict(type='SemSegMetric', iou_metrics=['mIoU']))
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    evaluator = Evaluator(metrics)
    evaluator.dataset_meta = META
    return evaluator


def run_evaluator(tmp_path, images, with_semantic=True):
    pan_file, pan_dir, ins_file = write_gt(str(tmp_path), images)
    evaluator = build_evaluator(pan_file, pan_dir, ins_file, with_semantic)
    evaluator.process([to_data_sample(str(tmp_path), im) for im in images])
    return evaluator.evaluate(len(images)), (pan_file, pan_dir, ins_file)


# ----------------------------------------------------------------------------------------------- fixtures
def hand_image():
    """10x10 case with a known PQ.

    GT: person A rows 0-3 x cols 0-4 (20 px), car B rows 5-6 (10 px), void row 7 (5 px), sky elsewhere (65 px).
    Pred: person rows 0-2 (IoU 15/20 = 0.75 -> TP), car rows 6-7 (5 px on B, 5 on void: IoU 5/(10+10-5-5) = 0.5,
    not > 0.5 -> B is a FN and the car a FP since only half of it is void), sky exact (TP, IoU 1),
    rows 3 and 5 predicted void.
    """
    gt = np.full((10, 10), 13)
    gt[0:4, 0:5] = 11
    gt[5:7, 0:5] = 12
    gt[7, 0:5] = 0
    label = np.full((10, 10), 2)
    inst = np.zeros((10, 10), np.int64)
    label[0:3, 0:5], inst[0:3, 0:5] = 0, 1
    label[3, 0:5] = NUM_CLASSES
    label[5, 0:5] = NUM_CLASSES
    label[6:8, 0:5], inst[6:8, 0:5] = 1, 2
    return Sample('hand', 1, gt, {11: (0, 0), 12: (1, 0), 13: (2, 0)}, label, inst, [], np.where(
        label == NUM_CLASSES, 2, label))


def random_image(rng, name, img_id, h=32, w=40):
    """Random rectangles: GT things over sky with a void strip and sometimes a crowd; predictions jitter them."""
    gt = np.full((h, w), 1)  # segment 1 = sky
    segments = {1: (2, 0)}
    rects = []
    for k in range(int(rng.integers(2, 5))):
        y0, x0 = int(rng.integers(0, h - 12)), int(rng.integers(0, w - 12))
        rect = (y0, x0, y0 + int(rng.integers(5, 12)), x0 + int(rng.integers(5, 12)))
        label = int(rng.integers(0, 2))
        seg_id = 2 + k + 256 * label  # exercise the G channel of the PNG encoding
        gt[rect[0]:rect[2], rect[1]:rect[3]] = seg_id
        segments[seg_id] = (label, int(k == 3))  # a 4th object is a crowd region
        rects.append((label, rect))
    gt[:, w - 2:] = 0  # void strip
    segments = {s: v for s, v in segments.items() if (gt == s).any()}

    label_map, inst_map = np.full((h, w), 2), np.zeros((h, w), np.int64)
    instances = []
    for i, (label, (y0, x0, y1, x1)) in enumerate(rects):
        dy, dx = (int(v) for v in rng.integers(-1, 2, size=2))
        if rng.random() < 0.2:
            label = 1 - label
        ys, xs = slice(max(0, y0 + dy), y1 + dy), slice(max(0, x0 + dx), x1 + dx)
        label_map[ys, xs], inst_map[ys, xs] = label, i + 1
        mask = np.zeros((h, w), bool)
        mask[ys, xs] = True
        instances.append((label, mask, float(rng.uniform(0.3, 1.0))))
        if rng.random() < 0.5:  # a duplicate, shifted further, with a lower score
            dup = np.roll(mask, int(rng.integers(1, 4)), axis=1)
            instances.append((label, dup, float(rng.uniform(0.05, 0.5))))
    fp = np.zeros((h, w), bool)
    fp[h - 4:, :5] = True
    instances.append((0, fp, 0.9))  # confident false positive
    label_map[0:2, :] = NUM_CLASSES  # predicted void rows
    inst_map[0:2, :] = 0
    keep = (label_map == 2) | (label_map == NUM_CLASSES)
    inst_map[keep] = 0
    sem_pred = np.where(label_map == NUM_CLASSES, 2, label_map)
    return Sample(name, img_id, gt, segments, label_map, inst_map, instances, sem_pred)


def gt_as_prediction(im):
    """Panoptic prediction identical to the GT (crowd and void regions predicted void)."""
    label = np.full(im.gt_ids.shape, NUM_CLASSES)
    inst = np.zeros(im.gt_ids.shape, np.int64)
    for k, (seg_id, (lb, iscrowd)) in enumerate(im.gt_segments.items()):
        m = im.gt_ids == seg_id
        if iscrowd:
            continue
        label[m] = lb
        if CLASSES[lb] in THINGS:
            inst[m] = k + 1
    return Sample(im.name, im.img_id, im.gt_ids, im.gt_segments, label, inst, im.instances, im.sem_pred)


# ----------------------------------------------------------------------------------------------- references
def reference_pq(pan_file, pan_dir, images, tmp_path):
    """cityscapesscripts' pq_compute_single_core / PQStat on prediction PNGs written independently of mmdet."""
    pred_dir = tmp_path / 'ref_pred'
    pred_dir.mkdir()
    gt_json = json.load(open(pan_file))
    categories = {c['id']: c for c in gt_json['categories']}
    gt_anns = {a['image_id']: a for a in gt_json['annotations']}
    pairs = []
    for im in images:
        ids = im.pan_pred.copy()
        ids[im.pan_label == NUM_CLASSES] = 0
        segs = [dict(id=int(i), category_id=CAT_IDS[int(i) % INSTANCE_OFFSET]) for i in np.unique(ids) if i != 0]
        Image.fromarray(id2rgb(ids)).save(pred_dir / f'{im.name}.png')
        pairs.append((gt_anns[im.img_id], dict(image_id=im.img_id, file_name=f'{im.name}.png', segments_info=segs)))
    stat = cs_pq.pq_compute_single_core(0, pairs, pan_dir, str(pred_dir), categories)
    out = {}
    for name, isthing in (('', None), ('_th', True), ('_st', False)):
        res, _ = stat.pq_average(categories, isthing=isthing)
        out.update({f'PQ{name}': 100 * res['pq'], f'SQ{name}': 100 * res['sq'], f'RQ{name}': 100 * res['rq']})
    return out


def reference_segm_ap(ins_file, images):
    """pycocotools COCOeval run directly on RLEs encoded here."""
    gt = COCO(ins_file)
    dets = []
    for im in images:
        for label, mask, score in im.instances:
            rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
            rle['counts'] = rle['counts'].decode()
            dets.append(dict(image_id=im.img_id, category_id=CAT_IDS[label], segmentation=rle, score=score))
    coco_eval = COCOeval(gt, gt.loadRes(dets), 'segm')
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return coco_eval.stats


def reference_miou(images, num_classes=NUM_CLASSES):
    inter, union = np.zeros(num_classes), np.zeros(num_classes)
    for im in images:
        gt, pred = im.gt_sem, im.sem_pred
        valid = gt != 255
        for c in range(num_classes):
            inter[c] += ((gt == c) & (pred == c) & valid).sum()
            union[c] += (((gt == c) | (pred == c)) & valid).sum()
    with np.errstate(invalid='ignore'):
        return 100 * np.nanmean(inter / union)


# ----------------------------------------------------------------------------------------------- tests
def test_hand_designed_pq(tmp_path):
    metrics, _ = run_evaluator(tmp_path, [hand_image()], with_semantic=False)
    # person: TP IoU 0.75; car: 1 FP + 1 FN; sky: TP IoU 1
    expected = dict(PQ=(0.75 + 0 + 1) / 3, SQ=(0.75 + 0 + 1) / 3, RQ=(1 + 0 + 1) / 3, PQ_th=0.75 / 2,
                    SQ_th=0.75 / 2, RQ_th=1 / 2, PQ_st=1.0, SQ_st=1.0, RQ_st=1.0)
    for k, v in expected.items():
        assert metrics[f'coco_panoptic/{k}'] == pytest.approx(100 * v, abs=1e-9), k


def test_gt_as_prediction_gives_pq_100(tmp_path):
    rng = np.random.default_rng(0)
    images = [gt_as_prediction(random_image(rng, f'img{i}', 10 + i)) for i in range(3)]
    metrics, _ = run_evaluator(tmp_path, images, with_semantic=False)
    for k in ('PQ', 'SQ', 'RQ', 'PQ_th', 'PQ_st'):
        assert metrics[f'coco_panoptic/{k}'] == pytest.approx(100.0), k


def test_three_metrics_in_one_pass_match_references(tmp_path):
    rng = np.random.default_rng(1)
    images = [random_image(rng, f'img{i}', 100 + i) for i in range(4)]
    metrics, (pan_file, pan_dir, ins_file) = run_evaluator(tmp_path, images)

    # key names of mmdet 3.3's metrics (the summary hook relies on them)
    assert {'coco_panoptic/PQ', 'coco_panoptic/PQ_th', 'coco_panoptic/PQ_st', 'coco/segm_mAP', 'coco/segm_mAP_50',
            'coco/segm_mAP_75', 'mIoU', 'aAcc', 'mAcc'} <= set(metrics)

    ref = reference_pq(pan_file, pan_dir, images, tmp_path)
    assert 0 < ref['PQ'] < 100  # the fixture is not trivial
    for k, v in ref.items():
        assert metrics[f'coco_panoptic/{k}'] == pytest.approx(v, abs=1e-9), k

    stats = reference_segm_ap(ins_file, images)
    assert 0 < stats[0] < 1
    for key, idx in (('segm_mAP', 0), ('segm_mAP_50', 1), ('segm_mAP_75', 2)):
        assert metrics[f'coco/{key}'] == pytest.approx(round(stats[idx], 3), abs=1e-9), key

    assert metrics['mIoU'] == pytest.approx(round(reference_miou(images), 2), abs=1e-6)


def test_semseg_metric_hand_case():
    """mIoU by hand: class 0 IoU 5/9, class 1 4/7, class 2 1/2, class 3 absent (NaN, ignored); 255 ignored."""
    from mmdet.evaluation import SemSegMetric
    gts = [np.array([[0, 0, 1, 1], [2, 2, 255, 255]]), np.array([[1, 1, 1, 1], [0, 0, 0, 0]])]
    preds = [np.array([[0, 1, 1, 1], [2, 0, 2, 2]]), np.array([[1, 1, 0, 0], [0, 0, 0, 0]])]
    metric = SemSegMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=('a', 'b', 'c', 'd'))
    samples = [
        dict(pred_sem_seg=dict(sem_seg=torch.from_numpy(p[None])), gt_sem_seg=dict(sem_seg=torch.from_numpy(g[None])))
        for g, p in zip(gts, preds)
    ]
    metric.process({}, samples)
    res = metric.evaluate(2)
    assert res['mIoU'] == pytest.approx(round(100 * (5 / 9 + 4 / 7 + 1 / 2) / 3, 2))
    # per-class accuracy 5/6, 4/6, 1/2. (mmdet 3.3's `aAcc` is this same class mean, not the pixel accuracy
    # 10/14: it averages the per-class array; do not report it.)
    assert res['mAcc'] == pytest.approx(round(100 * (5 / 6 + 4 / 6 + 1 / 2) / 3, 2))


@pytest.mark.parametrize('outfile_prefix', [None, 'out/res'])
def test_oneformer_panoptic_metric_keeps_predictions(tmp_path, outfile_prefix):
    """Same numbers as mmdet's metric (both evaluation paths) but the model's panoptic map is left untouched."""
    rng = np.random.default_rng(2)
    images = [random_image(rng, f'img{i}', 200 + i) for i in range(2)]
    pan_file, pan_dir, ins_file = write_gt(str(tmp_path), images)
    build_evaluator(pan_file, pan_dir, ins_file)  # registers mmdet + sets the default scope
    kwargs = dict(ann_file=pan_file, seg_prefix=pan_dir, nproc=1)
    if outfile_prefix:  # the json + multi-process path of mmdet's metric
        (tmp_path / 'out').mkdir()
        kwargs['outfile_prefix'] = str(tmp_path / outfile_prefix)
    results = {}
    for mtype in ('CocoPanopticMetric', 'OneFormerPanopticMetric'):
        evaluator = Evaluator([dict(type=mtype, **kwargs)])
        evaluator.dataset_meta = META
        samples = [to_data_sample(str(tmp_path), im) for im in images]
        evaluator.process(samples)
        voids = [int((ds.pred_panoptic_seg.sem_seg == NUM_CLASSES).sum()) for ds in samples]
        results[mtype] = (evaluator.evaluate(len(images)), voids)
    (mmdet_res, mmdet_voids), (ours, our_voids) = results['CocoPanopticMetric'], results['OneFormerPanopticMetric']
    assert ours == mmdet_res and ours['coco_panoptic/PQ'] == pytest.approx(
        reference_pq(pan_file, pan_dir, images, tmp_path)['PQ'], abs=1e-9)
    assert our_voids == [int((im.pan_label == NUM_CLASSES).sum()) for im in images] and min(our_voids) > 0
    assert mmdet_voids == [0, 0]  # mmdet 3.3 overwrote void with 0 in the prediction (why the subclass exists)
