"""Train and test a tiny OneFormerSegHead segmentor with mmseg's own Runner setup, data pipeline and IoUMetric."""
import copy
import math
import os.path as osp

import mmcv
import numpy as np
import pytest
from mmengine.config import ConfigDict
from mmengine.runner import Runner

from oneformer.testing import tiny_seg_model_cfg

from .conftest import CLASS_NAMES, load_config

COLORS = np.array([[200, 60, 60], [60, 200, 60], [60, 60, 200], [200, 200, 60]], np.uint8)


def make_seg_dataset(root: str, split: str, num_images: int, seed: int, size=(72, 88)) -> None:
    """mmseg ``BaseSegDataset`` layout: ``img_dir/{split}/*.png`` + ``ann_dir/{split}/*.png`` label maps.

    Labels follow ADE20K's convention (0 = other, reduced to 255 by ``reduce_zero_label``; 1..K = classes);
    each class has its own colour so the images carry the labels.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    for i in range(num_images):
        label = np.zeros((h, w), np.uint8)
        for c in rng.permutation(len(CLASS_NAMES))[:3]:
            y, x = rng.integers(0, h - 24), rng.integers(0, w - 24)
            label[y:y + rng.integers(16, 40), x:x + rng.integers(16, 48)] = c + 1
        img = np.full((h, w, 3), 128, np.uint8)
        img[label > 0] = COLORS[label[label > 0] - 1]
        img = np.clip(img.astype(int) + rng.integers(-10, 11, img.shape), 0, 255).astype(np.uint8)
        mmcv.imwrite(img[..., ::-1], osp.join(root, 'img_dir', split, f'{i:03d}.png'))
        mmcv.imwrite(label, osp.join(root, 'ann_dir', split, f'{i:03d}.png'))


def _shrink_pipeline(pipeline, crop=(64, 64)):
    """The real pipeline with its image sizes scaled down to the tiny images."""
    out = copy.deepcopy(pipeline)
    for t in out:
        if t.type == 'RandomChoiceResize':
            t.scales, t.max_size = [48, 64, 80], 160
        elif t.type == 'RandomCrop':
            t.crop_size = crop
        elif t.type == 'Resize':
            t.scale = (128, 64)
    return out


def tiny_runner_cfg(root: str, work_dir: str, max_iters: int = 4):
    cfg = load_config()
    cfg.model = tiny_seg_model_cfg(cfg, CLASS_NAMES)
    dataset = dict(type='BaseSegDataset', data_root=root, img_suffix='.png', seg_map_suffix='.png',
                   reduce_zero_label=True, metainfo=dict(classes=CLASS_NAMES, palette=COLORS.tolist()))
    train_pipeline = _shrink_pipeline(cfg.train_dataloader.dataset.pipeline)
    test_pipeline = _shrink_pipeline(cfg.test_dataloader.dataset.pipeline)
    cfg.train_dataloader = ConfigDict(
        cfg.train_dataloader, batch_size=2, num_workers=0, persistent_workers=False,
        dataset=dict(dataset, data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
                     pipeline=train_pipeline))
    for name in ('val_dataloader', 'test_dataloader'):
        cfg[name] = ConfigDict(
            cfg[name], batch_size=1, num_workers=0, persistent_workers=False,
            dataset=dict(dataset, data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                         pipeline=test_pipeline))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
    cfg.param_scheduler[0].end = max_iters
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.default_hooks.logger.interval = 1
    cfg.visualizer.name = f'oneformer_mmseg_test_{id(cfg)}'  # not an instance left by another test
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=0)
    cfg.log_level = 'WARNING'
    return cfg


@pytest.mark.slow
def test_mmseg_runner_trains_and_tests_with_iou_metric(tmp_path):
    root = str(tmp_path / 'data')
    make_seg_dataset(root, 'train', 4, seed=0)
    make_seg_dataset(root, 'val', 2, seed=1)
    cfg = tiny_runner_cfg(root, str(tmp_path / 'work'))
    assert cfg.default_scope == 'mmseg'
    runner = Runner.from_cfg(cfg)
    assert type(runner.model).__name__ == 'OneFormerEncoderDecoder'
    assert type(runner.model.decode_head).__name__ == 'OneFormerSegHead'
    runner.train()

    hub = runner.message_hub
    for key in ('decode.loss_cls', 'decode.loss_mask', 'decode.loss_dice', 'decode.loss_contrastive', 'loss'):
        assert math.isfinite(hub.get_scalar(f'train/{key}').current()), key
    assert osp.isfile(osp.join(cfg.work_dir, 'iter_4.pth'))
    assert osp.isfile(osp.join(cfg.work_dir, 'best_mIoU_iter_4.pth'))  # mmseg's save_best='mIoU' saw the val mIoU

    metrics = runner.test()
    assert set(metrics) == {'aAcc', 'mIoU', 'mAcc'}
    assert all(math.isfinite(v) and 0 <= v <= 100 for v in metrics.values()), metrics
    assert tuple(runner.test_evaluator.metrics[0].dataset_meta['classes']) == CLASS_NAMES
