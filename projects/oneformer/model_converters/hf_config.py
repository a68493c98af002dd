"""Our model config (overrides of ``configs/_base_/models/oneformer_r50.py``) from an HF ``OneFormerConfig``."""
from typing import Dict, Optional, Tuple

from .model_config import (
    RESNET_DEPTHS,
    HeadSizes,
    convnext_backbone,
    dinat_backbone,
    oneformer_model_cfg,
    require,
    resnet_backbone,
    swin_backbone,
    text_mapper_cfg,
)

# what our layout hard-wires (mmdet Mask2Former head): anything else in the HF config cannot be reproduced
_FIXED = dict(pre_norm=False, enforce_input_proj=False, use_task_norm=True, norm='GN', common_stride=4,
              strides=[4, 8, 16, 32])
_SOURCE = 'HF config'


def _check(cond: bool, msg: str) -> None:
    require(cond, _SOURCE, msg)


def _stage_features(bb: Dict) -> None:
    out = bb.get('out_features')
    _check(out in (None, ['stage1', 'stage2', 'stage3', 'stage4']),
           f'backbone out_features must be stage1..stage4, got {out}')
    act = 'relu' if bb.get('model_type') == 'resnet' else 'gelu'  # what the mm backbones hard-wire
    _check(bb.get('hidden_act', act) == act, f'{bb.get("model_type")} hidden_act {bb.get("hidden_act")!r}')
    if bb.get('model_type') in ('swin', 'dinat'):  # their LayerNorms take the config's eps; ours use 1e-5
        _check(abs(bb.get('layer_norm_eps', 1e-5) - 1e-5) < 1e-12,
               f'{bb.get("model_type")} layer_norm_eps {bb.get("layer_norm_eps")} != 1e-5')


def backbone_cfg(bb: Dict) -> Dict:
    """Our backbone config (replacing the base ResNet-50) and its 4 output channel counts.

    Args:
        bb (dict): ``config.backbone_config`` of the HF model (Swin, ConvNeXt, ResNet or DiNAT).

    Returns:
        dict: ``cfg`` (the backbone config) and ``channels``.
    """
    try:
        return _backbone_cfg(bb)
    except KeyError as e:
        raise ValueError(f'{_SOURCE}: backbone_config ({bb.get("model_type")}) has no {e.args[0]!r}') from None


def _backbone_cfg(bb: Dict) -> Dict:
    _stage_features(bb)
    kind = bb.get('model_type')
    if kind == 'swin':
        _check(not bb.get('use_absolute_embeddings', False), 'Swin absolute position embeddings')
        cfg, channels = swin_backbone(
            embed_dim=bb['embed_dim'], depths=bb['depths'], num_heads=bb['num_heads'], window_size=bb['window_size'],
            pretrain_img_size=bb.get('image_size', 224), patch_size=bb.get('patch_size', 4),
            mlp_ratio=bb.get('mlp_ratio', 4.0), qkv_bias=bb.get('qkv_bias', True),
            drop_rate=bb.get('hidden_dropout_prob', 0.0), attn_drop_rate=bb.get('attention_probs_dropout_prob', 0.0),
            drop_path_rate=bb.get('drop_path_rate', 0.1), source=_SOURCE)
    elif kind == 'convnext':
        _check(bb.get('num_stages', 4) == 4, 'ConvNeXt must have 4 stages')
        cfg, channels = convnext_backbone(
            depths=bb['depths'], channels=bb['hidden_sizes'], drop_path_rate=bb.get('drop_path_rate', 0.0),
            layer_scale_init_value=bb.get('layer_scale_init_value', 1e-6), stem_patch_size=bb.get('patch_size', 4),
            in_channels=bb.get('num_channels', 3), source=_SOURCE)
    elif kind == 'resnet':
        layer_type, depths = bb.get('layer_type', 'bottleneck'), tuple(bb['depths'])
        _check((layer_type, depths) in RESNET_DEPTHS, f'ResNet {layer_type} depths {list(depths)}')
        _check(not bb.get('downsample_in_first_stage', False), 'ResNet downsample_in_first_stage')
        channels = list(bb['hidden_sizes'])
        expansion = 4 if layer_type == 'bottleneck' else 1
        base = channels[0] // expansion
        _check(channels == [base * expansion * 2**i for i in range(4)], f'ResNet hidden_sizes {channels}')
        cfg, channels = resnet_backbone(
            depth=RESNET_DEPTHS[(layer_type, depths)], stem_channels=bb.get('embedding_size', 64), base_channels=base,
            stride_in_1x1=bb.get('downsample_in_bottleneck', False), norm='FrozenBN', source=_SOURCE)
    elif kind == 'dinat':
        # transformers' DinatBackbone: 4x4 conv stem (two stride-2 3x3 convs), conv downsamplers, per-stage norms
        _check(bb.get('patch_size', 4) == 4, f'DiNAT patch_size {bb.get("patch_size")} (4 needed)')
        cfg, channels = dinat_backbone(
            embed_dim=bb['embed_dim'], depths=bb['depths'], num_heads=bb['num_heads'], kernel_size=bb['kernel_size'],
            dilations=bb['dilations'], mlp_ratio=bb.get('mlp_ratio', 3.0), drop_path_rate=bb.get('drop_path_rate', 0.1),
            layer_scale=bb.get('layer_scale_init_value', 0.0) or None, qkv_bias=bb.get('qkv_bias', True),
            source=_SOURCE)
    else:
        raise ValueError(f'backbone model_type {kind!r} is not supported (swin, convnext, resnet, dinat)')
    return dict(cfg=cfg, channels=channels)


def model_cfg(config: Dict, num_things: int, num_stuff: int, with_text: bool, object_mask_thr: float,
              iou_thr: float) -> Dict:
    """The ``model`` overrides reproducing the HF model's sizes.

    Args:
        config (dict): The HF ``config.json``.
        num_things (int): Thing classes (first in our order).
        num_stuff (int): Stuff classes.
        with_text (bool): The checkpoint has text-mapper weights (training config with the contrastive loss).
        object_mask_thr (float): Panoptic / instance score threshold.
        iou_thr (float): Panoptic overlap threshold.

    Raises:
        UnsupportedConfig: A setting of ``config`` this project cannot reproduce.
    """
    for key, value in _FIXED.items():
        _check(list(config.get(key, value)) == value if isinstance(value, list) else config.get(key, value) == value,
               f'{key}={config.get(key)!r} (only {value!r} is supported)')
    c = config['hidden_dim']
    _check(config.get('conv_dim', c) == c and config.get('mask_dim', c) == c,
           f'conv_dim {config.get("conv_dim")}, mask_dim {config.get("mask_dim")} and hidden_dim {c} must be equal')
    _check(abs(config.get('layer_norm_eps', 1e-5) - 1e-5) < 1e-12, 'layer_norm_eps != 1e-5')
    bb = backbone_cfg(config['backbone_config'])
    text_mapper = None
    if with_text:
        text_mapper = text_mapper_cfg(
            embed_dims=c, width=config['text_encoder_width'], num_layers=config['text_encoder_num_layers'],
            context_length=config['text_encoder_context_length'], vocab_size=config['text_encoder_vocab_size'],
            proj_num_layers=config['text_encoder_proj_layers'], num_ctx=config['text_encoder_n_ctx'])
    heads = config['num_attention_heads']
    sizes = HeadSizes(
        hidden_dim=c, num_queries=config['num_queries'], num_heads=heads, dropout=config.get('dropout', 0.1),
        dim_feedforward=config['dim_feedforward'], decoder_layers=config['decoder_layers'] - 1,
        query_dec_layers=config.get('query_dec_layers', 2), encoder_layers=config['encoder_layers'],
        encoder_heads=heads, encoder_feedforward_dim=config['encoder_feedforward_dim'],
        task_seq_len=config.get('task_seq_len', 77), text_mapper=text_mapper,
        contrastive_temperature=config.get('contrastive_temperature', 0.07),
        contrastive_weight=config.get('contrastive_weight', 0.5), no_object_weight=config.get('no_object_weight', 0.1),
        class_weight=config.get('class_weight', 2.0), mask_weight=config.get('mask_weight', 5.0),
        dice_weight=config.get('dice_weight', 5.0), train_num_points=config.get('train_num_points', 12544),
        oversample_ratio=config.get('oversample_ratio', 3.0),
        importance_sample_ratio=config.get('importance_sample_ratio', 0.75))
    return oneformer_model_cfg((bb['cfg'], bb['channels']), sizes, num_things, num_stuff, object_mask_thr, iou_thr)


def preprocessor_cfg(processor: Optional[Dict]) -> Optional[Dict]:
    """mean / std (0-255 scale) from an HF ``preprocessor_config.json``, if it has them."""
    if not processor or 'image_mean' not in processor or 'image_std' not in processor:
        return None
    scale = 1 / processor.get('rescale_factor', 1 / 255) if processor.get('do_rescale', True) else 1.0
    return dict(mean=[round(m * scale, 4) for m in processor['image_mean']],
                std=[round(s * scale, 4) for s in processor['image_std']])


def preprocessor_test_size(processor: Optional[Dict]) -> Optional[Tuple[int, int]]:
    """(short edge, long-edge cap) of the resize of an HF ``OneFormerImageProcessor`` config, if it resizes.

    Accepts ``size={'shortest_edge': s, 'longest_edge': l}`` and the older ``size=s`` with ``max_size=l``.
    """
    if not processor or not processor.get('do_resize', True):
        return None
    size = processor.get('size')
    max_size = processor.get('max_size', 1333)  # OneFormerImageProcessor's default long-edge cap
    if isinstance(size, dict) and 'shortest_edge' in size:
        short, long = size['shortest_edge'], size.get('longest_edge', max_size)
    elif isinstance(size, int):
        short, long = size, max_size
    else:
        return None
    return int(short), int(long)
