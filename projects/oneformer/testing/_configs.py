"""Tiny configs built from the shipped ones, every size shrunk so a model builds and runs in milliseconds on CPU."""
import copy
import os.path as osp
from typing import Sequence

from mmengine.config import Config, ConfigDict


def config_path(relative: str) -> str:
    """Absolute path of a shipped config (``'configs/...'``): the installed package's ``.mim`` copy (what mim
    uses), else the repository checkout this package lives in."""
    pkg = osp.dirname(osp.dirname(osp.abspath(__file__)))
    for root in (osp.join(pkg, '.mim'), osp.dirname(osp.dirname(pkg))):
        path = osp.join(root, relative)
        if osp.exists(path):
            return path
    raise FileNotFoundError(f'{relative} is neither in {osp.join(pkg, ".mim")} nor in the repository checkout')


def shrink_head(h: ConfigDict, hidden: int = 32, num_queries: int = 12, num_ctx: int = 4) -> ConfigDict:
    """Shrink a OneFormer head config in place (its in_channels / strides are left to the model): ``hidden``-d,
    one encoder layer, two decoder layers, a one-layer text mapper."""
    h.in_channels = h.strides = None  # found from the backbone at build
    h.feat_channels = h.out_channels = hidden
    h.num_queries = num_queries
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
    return h


def _tiny_resnet(**kwargs) -> ConfigDict:
    return ConfigDict(type='ResNet', depth=18, base_channels=16, num_stages=4, out_indices=(0, 1, 2, 3),
                      norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False, style='pytorch', **kwargs)


def tiny_model_cfg(num_things: int = 3, num_stuff: int = 2, num_queries: int = 12, num_ctx: int = 4,
                   hidden: int = 32) -> ConfigDict:
    """The base R50 OneFormer (mmdet detector) with every size shrunk (ResNet-18/16 channels, 32-d)."""
    import oneformer  # noqa: F401  (registers the modules the config names)
    m = copy.deepcopy(Config.fromfile(config_path('configs/_base_/models/oneformer_r50.py')).model)
    m.backbone = _tiny_resnet()
    h = shrink_head(m.panoptic_head, hidden, num_queries, num_ctx)
    h.num_things_classes, h.num_stuff_classes = num_things, num_stuff
    m.panoptic_fusion_head.num_things_classes = num_things
    m.panoptic_fusion_head.num_stuff_classes = num_stuff
    m.train_cfg.num_points = 64
    m.test_cfg.max_per_image = num_queries
    return m


def tiny_twin(model_cfg: ConfigDict, hidden: int = 32) -> ConfigDict:
    """A shipped OneFormer model config with every size shrunk (ResNet-18/16 channels, ``hidden``-d, few layers)
    but what decides whether its checkpoints load kept: class counts, query count, text context length and the
    detector's options (``load_mismatch``)."""
    import oneformer  # noqa: F401  (registers the modules the config names)
    m = copy.deepcopy(model_cfg)
    m.backbone = _tiny_resnet()
    m.pop('neck', None)
    h = m.panoptic_head
    shrink_head(h, hidden, h.num_queries, h.text_mapper.num_ctx)
    m.data_preprocessor.pop('batch_augments', None)
    return m


def tiny_seg_model_cfg(cfg: Config, class_names: Sequence[str], num_queries: int = 12, num_ctx: int = 4,
                       hidden: int = 32, size=(64, 64)) -> ConfigDict:
    """An mmseg OneFormer config's ``EncoderDecoder`` with every size shrunk."""
    m = copy.deepcopy(cfg.model)
    m.data_preprocessor.size = size
    m.backbone = _tiny_resnet(stem_channels=16, init_cfg=None)
    h = shrink_head(m.decode_head, hidden, num_queries, num_ctx)
    h.num_classes, h.class_names = len(class_names), list(class_names)
    h.loss_cls.class_weight = [1.0] * len(class_names) + [0.1]
    h.train_cfg.num_points = 64
    return m
