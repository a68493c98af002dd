"""Shared fixtures: a tiny OneFormer config built from the real base config, shrunk for CPU tests."""
import copy
import os.path as osp

import pytest
from mmengine.config import Config, ConfigDict

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def tiny_model_cfg(num_things=3, num_stuff=2, num_queries=12, num_ctx=4, hidden=32) -> ConfigDict:
    """The base R50 OneFormer config with every size shrunk (ResNet-18/16 channels, 32-d, 2 decoder layers)."""
    import oneformer  # noqa: F401
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/models/oneformer_r50.py'))
    m = copy.deepcopy(cfg.model)
    m.backbone = ConfigDict(type='ResNet', depth=18, base_channels=16, num_stages=4, out_indices=(0, 1, 2, 3),
                            norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False, style='pytorch')
    h = m.panoptic_head
    h.in_channels = [16, 32, 64, 128]
    h.feat_channels = h.out_channels = hidden
    h.num_things_classes, h.num_stuff_classes, h.num_queries = num_things, num_stuff, num_queries
    enc = h.pixel_decoder.encoder
    enc.num_layers = 1
    enc.layer_cfg.self_attn_cfg.update(embed_dims=hidden, num_heads=4)
    enc.layer_cfg.ffn_cfg.update(embed_dims=hidden, feedforward_channels=64)
    h.pixel_decoder.positional_encoding.num_feats = hidden // 2
    h.positional_encoding.num_feats = hidden // 2
    dec = h.transformer_decoder
    dec.num_layers = 2
    for k in ('self_attn_cfg', 'cross_attn_cfg'):
        dec.layer_cfg[k].update(embed_dims=hidden, num_heads=4)
    dec.layer_cfg.ffn_cfg.update(embed_dims=hidden, feedforward_channels=64)
    h.task_encoder.embed_dims = hidden
    qt = h.query_transformer
    qt.embed_dims = hidden
    for k in ('self_attn_cfg', 'cross_attn_cfg'):
        qt.decoder.layer_cfg[k].update(embed_dims=hidden, num_heads=4)
    qt.decoder.layer_cfg.ffn_cfg.update(embed_dims=hidden, feedforward_channels=64)
    h.text_mapper.update(embed_dims=hidden, width=32, num_layers=1, num_heads=2, num_ctx=num_ctx)
    m.panoptic_fusion_head.num_things_classes = num_things
    m.panoptic_fusion_head.num_stuff_classes = num_stuff
    m.train_cfg.num_points = 64
    m.test_cfg.max_per_image = num_queries
    return m


@pytest.fixture
def tiny_cfg():
    return tiny_model_cfg()


@pytest.fixture(autouse=True, scope='session')
def mmdet_default_scope():
    """Build unscoped names (DetDataPreprocessor, ResNet, ...) in mmdet's registries, as configs do."""
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=True)
