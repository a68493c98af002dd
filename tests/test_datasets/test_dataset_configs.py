"""Every base dataset config loads, and its train / test pipelines run on a generated fixture in its layout."""
import copy
import glob
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from mmdet.registry import DATASETS, METRICS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from oneformer.dataset_converters import generate_synthetic_panoptic
from oneformer.tasks import TASKS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO, 'configs', '_base_', 'datasets')
PANOPTIC_CFGS = ['coco_panoptic.py', 'ade20k_panoptic.py', 'ade20k_panoptic_640.py', 'ade20k_panoptic_896.py',
                 'ade20k_panoptic_1280.py', 'cityscapes_panoptic.py', 'mapillary_panoptic.py', 'custom_panoptic.py',
                 'synthetic_panoptic.py']
SIZE = 40


def test_all_base_dataset_configs_are_covered():
    found = sorted(osp.basename(p) for p in glob.glob(osp.join(CFG_DIR, '*.py')))
    assert found == sorted(PANOPTIC_CFGS + ['custom_semantic.py', 'custom_instance.py', 'oneformer_panoptic_base.py'])


def _check_train_tail(cfg):
    targets, pack = cfg.train_pipeline[-2], cfg.train_pipeline[-1]
    assert targets.type == 'OneFormerTaskTargets' and pack.type == 'PackDetInputs'
    assert not {'num_queries', 'num_text_ctx', 'num_stuff_classes'} & set(targets)  # the model owns its sizes
    assert {'task', 'text_tokens', 'flip', 'img_shape'} <= set(pack.meta_keys)
    assert 'task_tokens' not in pack.meta_keys and 'num_queries' not in cfg
    assert cfg.train_dataloader.dataset.pipeline == cfg.train_pipeline
    assert cfg.val_dataloader.dataset.pipeline == cfg.test_pipeline


def _run_train(ds, cfg, n=3, has_sem_seg=True):
    crop_w, crop_h = cfg.get('crop_size') or cfg.image_size  # mmdet RandomCrop sizes are (w, h)
    np.random.seed(0)
    tasks = set()
    for i in range(n):
        out = ds[i % len(ds)]
        img, sample = out['inputs'], out['data_samples']
        assert img.dtype in (torch.uint8, torch.float32) and img.shape[0] == 3
        assert img.shape[1] <= crop_h and img.shape[2] <= crop_w
        assert sample.task in TASKS
        tasks.add(sample.task)
        assert sample.text_tokens.shape == (len(sample.gt_instances), 77) and sample.text_tokens.dtype == np.int64
        labels = sample.gt_instances.labels
        assert labels.dtype == torch.int64 and (labels < cfg.num_classes).all()
        masks = sample.gt_instances.masks
        assert masks.masks.shape[1:] == tuple(img.shape[1:])
        if has_sem_seg:
            assert tuple(sample.gt_sem_seg.sem_seg.shape[1:]) == tuple(img.shape[1:])
        if sample.task == 'instance':
            assert (labels < cfg.num_things_classes).all()
        if sample.task == 'semantic':
            assert len(set(labels.tolist())) == len(labels)
    return tasks


def _rebase(path, old_root, new_root):
    assert path.startswith(old_root), (path, old_root)
    return osp.join(new_root, path[len(old_root):])


@pytest.mark.parametrize('name', PANOPTIC_CFGS)
def test_panoptic_config_pipelines(name, tmp_path, relayout):
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(CFG_DIR, name))
    _check_train_tail(cfg)
    assert cfg.num_classes == cfg.num_things_classes + cfg.num_stuff_classes
    train_ds_cfg, val_ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset), copy.deepcopy(cfg.val_dataloader.dataset)
    meta = dict(DATASETS.get(train_ds_cfg.type).METAINFO, **(train_ds_cfg.get('metainfo') or {}))
    assert len(meta['thing_classes']) == cfg.num_things_classes
    assert len(meta['stuff_classes']) == cfg.num_stuff_classes

    # fixture with the config's classes, moved to the config's paths
    src, dst = str(tmp_path / 'src'), str(tmp_path / 'data')
    generate_synthetic_panoptic(src, num_train=3, num_val=1, img_size=SIZE, seed=0,
                                thing_classes=meta['thing_classes'], stuff_classes=meta['stuff_classes'])
    old_root = cfg.data_root
    metrics = {m.type: m for m in cfg.val_evaluator}
    sem = 'OneFormerSemSegMetric' if 'OneFormerSemSegMetric' in metrics else 'SemSegMetric'  # true aAcc or mmdet's
    assert set(metrics) == {'OneFormerPanopticMetric', 'CocoMetric', sem}
    assert metrics['OneFormerPanopticMetric'].ann_file == old_root + val_ds_cfg.ann_file
    assert metrics['OneFormerPanopticMetric'].seg_prefix == old_root + val_ds_cfg.data_prefix.seg
    assert metrics['CocoMetric'].metric == 'segm'
    relayout(src, dst, 'train', train_ds_cfg.ann_file, train_ds_cfg.data_prefix.img, train_ds_cfg.data_prefix.seg)
    relayout(src, dst, 'val', val_ds_cfg.ann_file, val_ds_cfg.data_prefix.img, val_ds_cfg.data_prefix.seg,
             instance_file=metrics['CocoMetric'].ann_file[len(old_root):])

    train_ds_cfg.data_root = val_ds_cfg.data_root = dst
    train = DATASETS.build(train_ds_cfg)
    assert len(train) == 3
    _run_train(train, cfg)

    val = DATASETS.build(val_ds_cfg)
    out = val[0]
    sample = out['data_samples']
    assert sample.ori_shape == (SIZE, SIZE)
    assert tuple(sample.gt_sem_seg.sem_seg.shape) == (1, SIZE, SIZE)  # GT at the original size
    assert 'text_tokens' not in sample
    for m in cfg.val_evaluator:
        m = copy.deepcopy(m)
        for key in ('ann_file', 'seg_prefix'):
            if key in m:
                m[key] = _rebase(m[key], old_root, dst + '/')
        metric = METRICS.build(m)
        metric.dataset_meta = val.metainfo


def test_custom_semantic_config(tmp_path):
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(CFG_DIR, 'custom_semantic.py'))
    _check_train_tail(cfg)
    assert cfg.task_probs == dict(semantic=1.0)
    ds_cfg, val_cfg = copy.deepcopy(cfg.train_dataloader.dataset), copy.deepcopy(cfg.val_dataloader.dataset)
    rng = np.random.default_rng(0)
    for split_cfg in (ds_cfg, val_cfg):
        img_dir = osp.join(tmp_path, split_cfg.data_prefix.img_path)
        seg_dir = osp.join(tmp_path, split_cfg.data_prefix.seg_map_path)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(seg_dir, exist_ok=True)
        for i in range(2):
            label = rng.integers(0, cfg.num_classes, (SIZE, SIZE)).astype(np.uint8)
            label[:4] = 255
            Image.fromarray(label).save(osp.join(seg_dir, f'{i}{cfg.seg_map_suffix}'))
            Image.fromarray(rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)).save(
                osp.join(img_dir, f'{i}{cfg.img_suffix}'))
        split_cfg.data_root = str(tmp_path)
    ds = DATASETS.build(ds_cfg)
    assert _run_train(ds, cfg) == {'semantic'}
    sample = DATASETS.build(val_cfg)[0]['data_samples']
    assert tuple(sample.gt_sem_seg.sem_seg.shape) == (1, SIZE, SIZE)
    METRICS.build(cfg.val_evaluator)


def test_custom_instance_config(tmp_path):
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(CFG_DIR, 'custom_instance.py'))
    _check_train_tail(cfg)
    src = str(tmp_path / 'src')
    generate_synthetic_panoptic(src, num_train=3, num_val=1, img_size=SIZE, thing_classes=cfg.classes,
                                stuff_classes=())
    ds_cfg, val_cfg = copy.deepcopy(cfg.train_dataloader.dataset), copy.deepcopy(cfg.val_dataloader.dataset)
    dst = str(tmp_path / 'data')
    for split, split_cfg in (('train', ds_cfg), ('val', val_cfg)):
        shutil.copytree(osp.join(src, split), osp.join(dst, split_cfg.data_prefix.img))
        os.makedirs(osp.dirname(osp.join(dst, split_cfg.ann_file)), exist_ok=True)
        shutil.copy(osp.join(src, 'annotations', f'instances_{split}.json'), osp.join(dst, split_cfg.ann_file))
        split_cfg.data_root = dst
    ds = DATASETS.build(ds_cfg)
    assert _run_train(ds, cfg, has_sem_seg=False) == {'instance'}
    with open(osp.join(dst, cfg.val_ann_file)) as f:
        n_val = sum(1 for a in json.load(f)['annotations'] if a['image_id'] == 1)
    sample = DATASETS.build(val_cfg)[0]['data_samples']
    assert len(sample.gt_instances) == n_val
    m = copy.deepcopy(cfg.val_evaluator)
    m.ann_file = _rebase(m.ann_file, cfg.data_root, dst + '/')
    METRICS.build(m)


def test_ground_truth_as_prediction_scores_perfectly_with_the_config_metrics(tmp_path):
    """Labels, PNG names, image ids and the instance JSON agree with mmdet's PQ / AP / mIoU metrics."""
    from mmdet.evaluation.functional import INSTANCE_OFFSET
    from mmdet.structures.mask import BitmapMasks
    from mmengine.evaluator import Evaluator
    from mmengine.structures import InstanceData, PixelData

    from oneformer.datasets import LoadPanopticSegments

    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(CFG_DIR, 'synthetic_panoptic.py'))
    root = str(tmp_path) + '/'
    generate_synthetic_panoptic(root, num_train=0, num_val=4, img_size=SIZE, seed=5)
    val_cfg = copy.deepcopy(cfg.val_dataloader.dataset)
    val_cfg.data_root = root
    ds = DATASETS.build(val_cfg)
    metrics = copy.deepcopy(cfg.val_evaluator)
    for m in metrics:
        for key in ('ann_file', 'seg_prefix'):
            if key in m:
                m[key] = _rebase(m[key], cfg.data_root, root)
    evaluator = Evaluator(metrics)
    evaluator.dataset_meta = ds.metainfo
    load = LoadPanopticSegments()
    for i in range(len(ds)):
        sample = ds[i]['data_samples']
        gt = load(dict(ds.get_data_info(i), ori_shape=(SIZE, SIZE)))
        masks, labels = gt['gt_masks'].masks.astype(bool), gt['gt_bboxes_labels']
        pan = np.full((SIZE, SIZE), cfg.num_classes, np.int64)  # void
        things = []
        for k, (m, lb) in enumerate(zip(masks, labels)):
            if lb < cfg.num_things_classes:
                pan[m] = lb + (k + 1) * INSTANCE_OFFSET
                things.append(k)
            else:
                pan[m] = lb
        inst_masks = BitmapMasks(masks[things], SIZE, SIZE)
        sample.pred_panoptic_seg = PixelData(sem_seg=torch.from_numpy(pan)[None])
        sample.pred_sem_seg = PixelData(sem_seg=torch.from_numpy(gt['gt_seg_map'].astype(np.int64))[None])
        sample.pred_instances = InstanceData(
            masks=torch.from_numpy(masks[things]), labels=torch.from_numpy(labels[things]),
            scores=torch.ones(len(things)), bboxes=inst_masks.get_bboxes('hbox').tensor)
        evaluator.process([sample])
    res = evaluator.evaluate(len(ds))
    assert res['coco_panoptic/PQ'] == pytest.approx(100.0)
    assert res['coco/segm_mAP'] == pytest.approx(1.0)
    assert res['mIoU'] == pytest.approx(100.0)  # mmdet's SemSegMetric reports without a prefix
