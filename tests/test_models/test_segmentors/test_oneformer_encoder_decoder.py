"""The mmseg face finds decode_head.in_channels / strides from its backbone, as the detector does."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from oneformer.testing import config_path, tiny_seg_model_cfg

NAMES = ['a', 'b', 'c']


@pytest.fixture(scope='module')
def seg_cfg():
    import oneformer  # noqa: F401
    cfg = Config.fromfile(config_path('configs/mmseg/oneformer_r50_8xb2-160k_ade20k-512x512.py'))
    return tiny_seg_model_cfg(cfg, NAMES)


def test_shipped_mmseg_config_uses_the_inferring_segmentor_and_finds_the_channels(seg_cfg):
    assert seg_cfg.type == 'OneFormerEncoderDecoder'
    assert seg_cfg.decode_head.in_channels is None
    model = MODELS.build(seg_cfg)
    assert model.decode_head.in_channels == [16, 32, 64, 128] and model.decode_head.strides == [4, 8, 16, 32]
    model.eval()
    with torch.no_grad():
        logits = model.encode_decode(torch.randn(1, 3, 64, 64), [dict(img_shape=(64, 64), pad_shape=(64, 64))])
    assert logits.shape[:2] == (1, len(NAMES))


def test_mismatch_names_the_mmseg_key(seg_cfg):
    cfg = copy.deepcopy(seg_cfg)
    cfg.decode_head.in_channels = [256, 512, 1024, 2048]
    with pytest.raises(ValueError, match=r'model\.decode_head\.in_channels=\[256, 512, 1024, 2048\].*'
                                         r'\[16, 32, 64, 128\]'):
        MODELS.build(cfg)


def test_plain_vit_with_the_mmdet_pyramid(seg_cfg):
    cfg = copy.deepcopy(seg_cfg)
    cfg.backbone = dict(type='mmpretrain.VisionTransformer', arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                                                                      feedforward_channels=64),
                        img_size=64, patch_size=14, out_type='featmap')
    cfg.neck = dict(type='mmdet.SimpleFeaturePyramid', out_channels=16)
    model = MODELS.build(cfg)
    assert model.neck.backbone_stride == 14 and model.decode_head.in_channels == [16] * 4
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 64, 96))
    assert [tuple(f.shape[-2:]) for f in feats] == [(16, 24), (8, 12), (4, 6), (2, 3)]
