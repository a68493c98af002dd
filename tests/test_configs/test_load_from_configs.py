"""Every zoo config with ``load_from`` loads its source checkpoint's layout (another dataset's classes)."""
import glob
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from oneformer.testing import config_path, tiny_twin

CONFIGS = sorted(osp.basename(p) for p in glob.glob(osp.join(config_path('configs/oneformer'), '*.py')))
#: checkpoint of each ``load_from`` -> the config it was trained with (its dataset's classes)
SOURCES = {
    'checkpoints/150_16_dinat_l_oneformer_coco_100ep.pth':
        'oneformer_dinat-l-k11-384-in21k_16xb1-100e_coco-panoptic.py',
    'checkpoints/mapillary_pretrain_250_16_convnext_l_oneformer_mapillary_300k.pth':
        'oneformer_convnext-l-in21k_8xb2-300k_mapillary-panoptic-1024x1024-for-cityscapes.py',
    'checkpoints/mapillary_pretrain_250_16_convnext_xl_oneformer_mapillary_300k.pth':
        'oneformer_convnext-xl-in21k_8xb2-300k_mapillary-panoptic-1024x1024-for-cityscapes.py',
}


def _cfg(name):
    return Config.fromfile(config_path(f'configs/oneformer/{name}'))


def _load_from_configs():
    return [n for n in CONFIGS if _cfg(n).get('load_from')]


LOAD_FROM = ['oneformer_convnext-l-in21k-mapillary-pre_8xb2-90k_cityscapes-panoptic-512x1024.py',
             'oneformer_convnext-xl-in21k-mapillary-pre_8xb2-90k_cityscapes-panoptic-512x1024.py',
             'oneformer_dinat-l-k11-384-in21k-coco-pre_8xb2-160k_ade20k-panoptic-1280x1280.py']


@pytest.mark.slow  # loads every zoo config (~25 s)
def test_every_load_from_config_is_tested_with_its_source():
    found = {n: _cfg(n).load_from for n in _load_from_configs()}
    assert sorted(found) == LOAD_FROM
    assert set(found.values()) <= set(SOURCES), found


def _build(model_cfg):
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model


@pytest.mark.parametrize('name', LOAD_FROM)
def test_load_from_loads_the_source_layout_and_reinitialises_only_the_class_head(name, tmp_path):
    cfg = _cfg(name)
    source_cfg = _cfg(SOURCES[cfg.load_from])
    ours, source = tiny_twin(cfg.model), tiny_twin(source_cfg.model)
    k_ours = ours.panoptic_head.num_things_classes + ours.panoptic_head.num_stuff_classes
    k_src = source.panoptic_head.num_things_classes + source.panoptic_head.num_stuff_classes
    assert k_ours != k_src  # the case at hand: another dataset's classes
    src_state = _build(source).state_dict()
    ckpt = str(tmp_path / 'source.pth')
    torch.save(dict(state_dict=src_state), ckpt)
    model = _build(ours)
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    load_checkpoint(model, ckpt, map_location='cpu', strict=False)  # what the runner's load_from does
    cls_keys = {f'panoptic_head.{k}' for k in model.panoptic_head.class_head_keys()}
    assert cls_keys == {'panoptic_head.cls_embed.weight', 'panoptic_head.cls_embed.bias'}
    assert model.panoptic_head.cls_embed.weight.shape[0] == k_ours + 1
    assert src_state['panoptic_head.cls_embed.weight'].shape[0] == k_src + 1
    for key, value in model.state_dict().items():
        expected = fresh[key] if key in cls_keys else src_state[key]
        assert torch.equal(value, expected), key


def test_without_the_policy_the_class_mismatch_is_an_error_naming_it(tmp_path):
    name = 'oneformer_dinat-l-k11-384-in21k-coco-pre_8xb2-160k_ade20k-panoptic-1280x1280.py'
    cfg = _cfg(name)
    ours, source = tiny_twin(cfg.model), tiny_twin(_cfg(SOURCES[cfg.load_from]).model)
    ours.load_mismatch = 'error'
    ckpt = str(tmp_path / 'source.pth')
    torch.save(dict(state_dict=_build(source).state_dict()), ckpt)
    with pytest.raises(ValueError, match="(?s)cls_embed.weight: checkpoint .*model.load_mismatch='reinit_cls'"):
        load_checkpoint(_build(ours), ckpt, map_location='cpu', strict=False)
