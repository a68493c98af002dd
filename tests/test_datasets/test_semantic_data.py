"""Semantic-only data in the mmseg / VOC format: palette PNG label maps, split files, train + validate."""
import copy
import os.path as osp

import numpy as np
import pytest
from mmdet.registry import DATASETS, TRANSFORMS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from oneformer.datasets import LoadSemSegAsSegments, LoadSemSegMap, read_label_map
from oneformer.testing import tiny_model_cfg

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(REPO, 'configs', '_base_', 'datasets', 'custom_semantic.py')
PALETTE = [0, 0, 0, 200, 30, 30, 30, 200, 30] + [0, 0, 0] * 252 + [255, 255, 255]


def _palette_png(path: str, label: np.ndarray) -> None:
    """A palette ('P' mode) PNG whose pixel values are the class indices, as mmseg / VOC label maps are."""
    img = Image.frombytes('P', (label.shape[1], label.shape[0]), label.astype(np.uint8).tobytes())
    img.putpalette(PALETTE)
    img.save(path)


def _labels(rng, size=64):
    label = np.zeros((size, size), np.uint8)
    label[size // 2:] = 1
    x0, y0 = rng.integers(0, size // 2, 2)
    label[y0:y0 + size // 3, x0:x0 + size // 3] = 2
    label[:2] = 255  # void
    return label


def _write_split(root, img_dir, seg_dir, stems, rng):
    for stem in stems:
        label = _labels(rng)
        lab = label.astype(np.int64)
        img = np.stack([lab * 60 % 256, 255 - lab, np.full_like(lab, 90)], axis=-1).astype(np.uint8)
        (root / img_dir).mkdir(parents=True, exist_ok=True)
        (root / seg_dir).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / img_dir / f'{stem}.jpg')
        _palette_png(str(root / seg_dir / f'{stem}.png'), label)


def test_palette_png_decodes_to_indices_in_both_loaders(tmp_path):
    """The failure: mmdet's LoadAnnotations(with_seg=True) decodes palette PNGs with cv2 into (H, W, 3) colours."""
    init_default_scope('mmdet')
    label = np.array([[0, 1, 2], [2, 255, 1]], np.uint8)
    path = str(tmp_path / 'p.png')
    _palette_png(path, label)
    mmdet = TRANSFORMS.build(dict(type='LoadAnnotations', with_bbox=False, with_label=False, with_seg=True))
    assert mmdet(dict(seg_map_path=path))['gt_seg_map'].shape == (2, 3, 3)  # why validation crashed
    np.testing.assert_array_equal(read_label_map(path), label)
    test_out = LoadSemSegMap(num_classes=3)(dict(seg_map_path=path))
    train_out = LoadSemSegAsSegments(num_classes=3)(dict(seg_map_path=path))
    np.testing.assert_array_equal(test_out['gt_seg_map'], label)
    np.testing.assert_array_equal(train_out['gt_seg_map'], test_out['gt_seg_map'])
    assert train_out['gt_bboxes_labels'].tolist() == [0, 1, 2]
    # a 1-pixel-high map is not squeezed to 1-D
    _palette_png(path, label[:1])
    assert LoadSemSegMap(num_classes=3)(dict(seg_map_path=path))['gt_seg_map'].shape == (1, 3)


def test_label_map_errors_name_the_file(tmp_path):
    rgb = str(tmp_path / 'rgb.png')
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(rgb)
    with pytest.raises(ValueError, match=r'rgb.png must be single-channel.*\(4, 4, 3\)'):
        LoadSemSegMap()(dict(seg_map_path=rgb))
    bad = str(tmp_path / 'bad.png')
    _palette_png(bad, np.array([[0, 7]]))
    with pytest.raises(ValueError, match=r'bad.png has label\(s\) \[7\] outside \[0, 3\)'):
        LoadSemSegMap(num_classes=3)(dict(seg_map_path=bad))
    with pytest.raises(ValueError, match=r'bad.png has label\(s\) \[6\].*reduce_zero_label=True'):
        LoadSemSegMap(num_classes=3, reduce_zero_label=True)(dict(seg_map_path=bad))


def test_dataset_split_file_and_errors(tmp_path):
    init_default_scope('mmdet')
    rng = np.random.default_rng(0)
    _write_split(tmp_path, 'img', 'ann', ['a', 'b', 'c'], rng)
    (tmp_path / 'train.txt').write_text('a\nc\n')
    base = dict(type='OneFormerSemSegDataset', data_root=str(tmp_path), metainfo=dict(classes=('x', 'y', 'z')),
                data_prefix=dict(img_path='img', seg_map_path='ann'))
    ds = DATASETS.build(dict(base, ann_file='train.txt'))
    assert [osp.basename(d['img_path']) for d in ds] == ['a.jpg', 'c.jpg']
    info = ds.get_data_info(0)
    assert info['classes'] == ('x', 'y', 'z') and info['num_things_classes'] == 0
    assert len(DATASETS.build(base)) == 3  # no split file: the whole folder
    with pytest.raises(FileNotFoundError, match='split file.*nope.txt'):
        DATASETS.build(dict(base, ann_file='nope.txt'))
    (tmp_path / 'bad.txt').write_text('a\nzz\n')
    with pytest.raises(FileNotFoundError, match=r'1 image\(s\) listed in the split file .*bad.txt.*zz.jpg'):
        DATASETS.build(dict(base, ann_file='bad.txt'))
    with pytest.raises(ValueError, match=r"no images in folder .*img \(img_suffix='.png'\)"):
        DATASETS.build(dict(base, img_suffix='.png'))


def _semantic_runner_cfg(root, work_dir) -> Config:
    """custom_semantic.py pointed at ``root`` with tiny images and a tiny model: 2 iterations, then validation."""
    cfg = Config.fromfile(CFG)
    size = (64, 64)
    for split in ('train_dataloader', 'val_dataloader'):
        loader = cfg[split]
        loader.num_workers, loader.persistent_workers, loader.batch_size = 0, False, 2
        loader.dataset.data_root = str(root)
    train = cfg.train_dataloader.dataset
    train.ann_file = 'train.txt'
    for t in train.pipeline:
        if t.type == 'RandomChoiceResize':
            t.scales = [size]
        if t.type == 'RandomCrop':
            t.crop_size = size
    for t in cfg.val_dataloader.dataset.pipeline:
        if t.type == 'Resize':
            t.scale = size
    model = tiny_model_cfg(num_things=cfg.num_things_classes, num_stuff=cfg.num_stuff_classes)
    model.test_cfg.tasks = ('semantic', )
    return Config(dict(
        model=model, work_dir=str(work_dir), default_scope='mmdet', randomness=dict(seed=0),
        train_dataloader=cfg.train_dataloader, val_dataloader=cfg.val_dataloader, val_evaluator=cfg.val_evaluator,
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=2, val_interval=2), val_cfg=dict(type='ValLoop'),
        optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4)),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1), checkpoint=None),
        custom_hooks=[dict(type='ClassCountCheckHook')]))


@pytest.mark.slow
def test_semantic_palette_data_trains_and_validates(tmp_path):
    from mmengine.runner import Runner
    init_default_scope('mmdet')
    rng = np.random.default_rng(1)
    cfg = Config.fromfile(CFG)
    _write_split(tmp_path, cfg.train_img_dir, cfg.train_seg_dir, ['t0', 't1', 't2', 't3', 'unused'], rng)
    _write_split(tmp_path, cfg.val_img_dir, cfg.val_seg_dir, ['v0', 'v1'], rng)
    (tmp_path / 'train.txt').write_text('t0\nt1\nt2\nt3\n')
    runner = Runner.from_cfg(_semantic_runner_cfg(tmp_path, tmp_path / 'work'))
    assert len(runner.train_dataloader.dataset) == 4
    runner.train()  # validates after iteration 2 (crashed with cv2-decoded palette maps)
    assert runner.iter == 2
    metrics = runner.val()
    assert {'aAcc', 'mIoU', 'mAcc'} <= set(metrics)
    assert 0 <= metrics['mIoU'] <= 100


def test_semantic_config_validation_sample(tmp_path):
    """The test pipeline's ground truth of a palette PNG is the (H, W) index map, not colours."""
    init_default_scope('mmdet')
    rng = np.random.default_rng(2)
    cfg = Config.fromfile(CFG)
    _write_split(tmp_path, cfg.val_img_dir, cfg.val_seg_dir, ['v0'], rng)
    val = copy.deepcopy(cfg.val_dataloader.dataset)
    val.data_root = str(tmp_path)
    sample = DATASETS.build(val)[0]['data_samples']
    expected = np.asarray(Image.open(tmp_path / cfg.val_seg_dir / 'v0.png'))
    np.testing.assert_array_equal(sample.gt_sem_seg.sem_seg[0].numpy(), expected)
