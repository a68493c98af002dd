"""``tools/test.py --tta`` on semantic-only data: the semantic TTA base, and clear errors for a base of the wrong
kind of data."""
import argparse
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from oneformer.engine import setup_test_cfg
from oneformer.testing import config_path, tiny_model_cfg

SIZE = 48


def _args(*extra):
    return argparse.Namespace(config='cfg.py', checkpoint='ckpt.pth', tta=True, task='semantic', **dict(extra))


def _semantic_cfg(root, tta_base: str = 'oneformer_tta_semantic.py') -> Config:
    """custom_semantic.py at ``root`` (val split only) with the tiny model and a TTA base."""
    cfg = Config.fromfile(config_path('configs/_base_/datasets/custom_semantic.py'))
    tta = Config.fromfile(config_path(f'configs/_base_/tta/{tta_base}'))
    loader = cfg.test_dataloader
    loader.num_workers, loader.persistent_workers = 0, False
    loader.dataset.data_root = str(root)
    for t in loader.dataset.pipeline:
        if t.type == 'Resize':
            t.scale = (1000, SIZE)
    model = tiny_model_cfg(num_things=cfg.num_things_classes, num_stuff=cfg.num_stuff_classes)
    return Config(dict(model=model, work_dir=str(root / 'work'), default_scope='mmdet',
                       test_dataloader=loader, test_evaluator=cfg.test_evaluator, test_cfg=dict(type='TestLoop'),
                       tta_model=tta.tta_model, tta_pipeline=tta.tta_pipeline))


def _write_val(root, cfg: Config, n: int = 2) -> None:
    """``n`` image / label-map pairs where the test dataset of ``cfg`` reads them (3 classes, some void)."""
    prefix = cfg.test_dataloader.dataset.data_prefix
    rng = np.random.default_rng(0)
    for i in range(n):
        label = np.zeros((SIZE, SIZE + 8), np.uint8)
        label[SIZE // 2:] = 1
        label[4:20, 6:22] = 2
        label[:2] = 255
        img = rng.integers(0, 256, label.shape + (3, ), dtype=np.uint8)
        for folder, name, arr in ((prefix.img_path, f'v{i}.jpg', img), (prefix.seg_map_path, f'v{i}.png', label)):
            (root / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr).save(root / folder / name)


def test_semantic_tta_base_takes_the_label_loader_arguments_of_the_test_pipeline(tmp_path):
    cfg = _semantic_cfg(tmp_path)
    test_loader = [t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'LoadSemSegMap'][0]
    test_loader.reduce_zero_label = True
    out = setup_test_cfg(copy.deepcopy(cfg), _args())
    assert out.model.type == 'OneFormerTTAModel'
    tta_loader = out.test_dataloader.dataset.pipeline[1].transforms[2][0]
    assert tta_loader.type == 'LoadSemSegMap'
    assert tta_loader.num_classes == 3 and tta_loader.reduce_zero_label is True  # from the test pipeline
    # a value of its own that disagrees with the test pipeline is refused
    cfg.tta_pipeline[1].transforms[2][0].reduce_zero_label = False
    with pytest.raises(ValueError, match=r'LoadSemSegMap has reduce_zero_label=False in tta_pipeline but '
                                         r'reduce_zero_label=True in the test pipeline'):
        setup_test_cfg(copy.deepcopy(cfg), _args())


def test_wrong_or_missing_tta_base_on_semantic_data_names_the_semantic_base(tmp_path):
    cfg = _semantic_cfg(tmp_path, tta_base='oneformer_tta_ade20k.py')
    with pytest.raises(ValueError, match=r'--tta: tta_pipeline reads panoptic ground truth '
                                         r'\(LoadPanopticTestAnnotations\) but the test data are semantic '
                                         r'\(LoadSemSegMap .*\); use configs/_base_/tta/oneformer_tta_semantic.py'):
        setup_test_cfg(copy.deepcopy(cfg), _args())
    cfg.pop('tta_model')
    with pytest.raises(KeyError, match=r'no tta_model; add configs/_base_/tta/oneformer_tta_semantic.py '):
        setup_test_cfg(copy.deepcopy(cfg), _args())
    # and panoptic data are pointed to the panoptic bases
    panoptic = Config.fromfile(config_path('configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py'))
    panoptic.pop('tta_model', None)
    with pytest.raises(KeyError, match=r'add configs/_base_/tta/oneformer_tta_ade20k.py .*cityscapes.py'):
        setup_test_cfg(panoptic, _args())


@pytest.mark.slow
def test_tta_runs_on_semantic_data(tmp_path):
    """End to end through the runner: a multi-scale + flip mIoU on label-map data (the semantic TTA base at two
    scales, as tools/test.py --tta --task semantic runs it)."""
    from mmengine.runner import Runner
    init_default_scope('mmdet')
    cfg = _semantic_cfg(tmp_path)
    _write_val(tmp_path, cfg)
    tta = cfg.tta_pipeline[1].transforms
    tta[0] = [dict(type='Resize', scale=(1000, s), keep_ratio=True) for s in (32, SIZE)]
    cfg.tta_model.single_scale = (1000, SIZE)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    args = argparse.Namespace(config=str(tmp_path / 'cfg.py'), checkpoint=ckpt, tta=True, task='semantic',
                              work_dir=str(tmp_path / 'work'))
    metrics = Runner.from_cfg(setup_test_cfg(cfg, args)).test()
    assert {'mIoU', 'aAcc'} <= set(metrics) and 0 <= metrics['mIoU'] <= 100
    assert osp.isfile(tmp_path / 'work' / 'metrics.json')
