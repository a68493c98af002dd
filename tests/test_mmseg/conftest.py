"""mmseg-side fixtures: mmseg's default scope per test and a tiny OneFormerSegHead config from the real one."""
import copy
import os.path as osp

import pytest
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MMSEG_CONFIGS = osp.join(REPO, 'configs', 'mmseg')
ADE_R50 = osp.join(MMSEG_CONFIGS, 'oneformer_r50_8xb2-160k_ade20k-512x512.py')
CLASS_NAMES = ('sky', 'road', 'car', 'tree')


@pytest.fixture(autouse=True)
def mmseg_scope():
    """Run each test under mmseg's default scope, then restore the previous scopes (the session default is mmdet,
    and ``Runner`` registers a new current scope that must not leak into the other tests)."""
    import oneformer  # noqa: F401
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


def load_config(path: str = ADE_R50) -> Config:
    import oneformer  # noqa: F401
    return Config.fromfile(path)


def tiny_seg_model_cfg(cfg: Config, num_classes=len(CLASS_NAMES), num_queries=12, num_ctx=4, hidden=32,
                       size=(64, 64)) -> ConfigDict:
    """The real config's EncoderDecoder with every size shrunk (ResNet-18/16 channels, 32-d, 2 decoder layers)."""
    m = copy.deepcopy(cfg.model)
    m.data_preprocessor.size = size
    m.backbone = ConfigDict(type='ResNet', depth=18, stem_channels=16, base_channels=16, num_stages=4,
                            out_indices=(0, 1, 2, 3), norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
                            style='pytorch', init_cfg=None)
    h = m.decode_head
    h.num_classes, h.class_names, h.num_queries = num_classes, list(CLASS_NAMES[:num_classes]), num_queries
    h.in_channels = [16, 32, 64, 128]
    h.feat_channels = h.out_channels = hidden
    h.loss_cls.class_weight = [1.0] * num_classes + [0.1]
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
    h.train_cfg.num_points = 64
    return m
