"""Our model config (overrides of ``configs/_base_/models/oneformer_r50.py``) from an HF ``OneFormerConfig``."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

# what our layout hard-wires (mmdet Mask2Former head): anything else in the HF config cannot be reproduced
_FIXED = dict(pre_norm=False, enforce_input_proj=False, use_task_norm=True, norm='GN', common_stride=4,
              strides=[4, 8, 16, 32])
_RESNET_DEPTHS = {('basic', (2, 2, 2, 2)): 18, ('basic', (3, 4, 6, 3)): 34, ('bottleneck', (3, 4, 6, 3)): 50,
                  ('bottleneck', (3, 4, 23, 3)): 101, ('bottleneck', (3, 8, 36, 3)): 152}


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(f'HF config not reproducible by this project: {msg}')


def _stage_features(bb: Dict) -> None:
    out = bb.get('out_features')
    _check(out in (None, ['stage1', 'stage2', 'stage3', 'stage4']),
           f'backbone out_features must be stage1..stage4, got {out}')
    act = 'relu' if bb.get('model_type') == 'resnet' else 'gelu'  # what the mm backbones hard-wire
    _check(bb.get('hidden_act', act) == act, f'{bb.get("model_type")} hidden_act {bb.get("hidden_act")!r}')


def backbone_cfg(bb: Dict) -> Dict:
    """mmdet / mmpretrain backbone config (replacing the base ResNet-50) and its 4 output channel counts."""
    _stage_features(bb)
    kind = bb.get('model_type')
    if kind == 'swin':
        _check(not bb.get('use_absolute_embeddings', False), 'Swin absolute position embeddings')
        _check(abs(bb.get('layer_norm_eps', 1e-5) - 1e-5) < 1e-12, 'Swin layer_norm_eps != 1e-5')
        embed, patch, ratio = bb['embed_dim'], bb.get('patch_size', 4), bb.get('mlp_ratio', 4.0)
        # mmdet's SwinBlock multiplies embed_dims by mlp_ratio without int(): keep it an int
        _check(float(ratio).is_integer(), f'Swin mlp_ratio {ratio} (mmdet needs an integer)')
        cfg = dict(_delete_=True, type='SwinTransformer', pretrain_img_size=bb.get('image_size', 224),
                   embed_dims=embed, patch_size=patch, window_size=bb['window_size'],
                   mlp_ratio=int(ratio), depths=list(bb['depths']), num_heads=list(bb['num_heads']),
                   strides=(patch, 2, 2, 2), out_indices=(0, 1, 2, 3), qkv_bias=bb.get('qkv_bias', True),
                   patch_norm=True, drop_path_rate=bb.get('drop_path_rate', 0.1), use_abs_pos_embed=False,
                   convert_weights=False, init_cfg=None)
        channels = [embed * 2**i for i in range(4)]
    elif kind == 'convnext':
        _check(bb.get('num_stages', 4) == 4, 'ConvNeXt must have 4 stages')
        channels = list(bb['hidden_sizes'])
        cfg = dict(_delete_=True, type='mmpretrain.ConvNeXt', arch=dict(depths=list(bb['depths']), channels=channels),
                   stem_patch_size=bb.get('patch_size', 4), drop_path_rate=bb.get('drop_path_rate', 0.0),
                   layer_scale_init_value=bb.get('layer_scale_init_value', 1e-6), out_indices=(0, 1, 2, 3),
                   gap_before_final_norm=False, init_cfg=None)
    elif kind == 'resnet':
        layer_type, depths = bb.get('layer_type', 'bottleneck'), tuple(bb['depths'])
        _check((layer_type, depths) in _RESNET_DEPTHS, f'ResNet {layer_type} depths {list(depths)}')
        _check(not bb.get('downsample_in_first_stage', False), 'ResNet downsample_in_first_stage')
        channels = list(bb['hidden_sizes'])
        expansion = 4 if layer_type == 'bottleneck' else 1
        base = channels[0] // expansion
        _check(channels == [base * expansion * 2**i for i in range(4)], f'ResNet hidden_sizes {channels}')
        cfg = dict(_delete_=True, type='ResNet', depth=_RESNET_DEPTHS[(layer_type, depths)], num_stages=4,
                   base_channels=base, stem_channels=bb.get('embedding_size', 64), out_indices=(0, 1, 2, 3),
                   frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True,
                   style='caffe' if bb.get('downsample_in_bottleneck', False) else 'pytorch', init_cfg=None)
    else:
        raise ValueError(f'backbone model_type {kind!r} is not supported (swin, convnext, resnet)')
    return dict(cfg=cfg, channels=channels)


def _attn(dims: int, heads: int, dropout: float) -> Dict:
    return dict(embed_dims=dims, num_heads=heads, dropout=dropout)


def model_cfg(config: Dict, num_things: int, num_stuff: int, with_text: bool, object_mask_thr: float,
              iou_thr: float) -> Dict:
    """The ``model`` overrides reproducing the HF model's sizes."""
    for key, value in _FIXED.items():
        _check(list(config.get(key, value)) == value if isinstance(value, list) else config.get(key, value) == value,
               f'{key}={config.get(key)!r} (only {value!r} is supported)')
    c = config['hidden_dim']
    _check(config.get('conv_dim', c) == c and config.get('mask_dim', c) == c,
           f'conv_dim {config.get("conv_dim")}, mask_dim {config.get("mask_dim")} and hidden_dim {c} must be equal')
    _check(abs(config.get('layer_norm_eps', 1e-5) - 1e-5) < 1e-12, 'layer_norm_eps != 1e-5')
    heads, drop, n = config['num_attention_heads'], config.get('dropout', 0.1), config['num_queries']
    bb = backbone_cfg(config['backbone_config'])
    text_mapper = None
    if with_text:
        width = config['text_encoder_width']
        text_mapper = dict(embed_dims=c, context_length=config['text_encoder_context_length'], width=width,
                           num_layers=config['text_encoder_num_layers'], num_heads=width // 64,
                           vocab_size=config['text_encoder_vocab_size'],
                           proj_num_layers=config['text_encoder_proj_layers'], num_ctx=config['text_encoder_n_ctx'])
    head = dict(
        in_channels=bb['channels'], feat_channels=c, out_channels=c,
        num_things_classes=num_things, num_stuff_classes=num_stuff, num_queries=n,
        pixel_decoder=dict(
            encoder=dict(num_layers=config['encoder_layers'], layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=c, num_heads=heads, dropout=drop),
                ffn_cfg=dict(embed_dims=c, feedforward_channels=config['encoder_feedforward_dim'], ffn_drop=drop))),
            positional_encoding=dict(num_feats=c // 2)),
        positional_encoding=dict(num_feats=c // 2),
        transformer_decoder=dict(num_layers=config['decoder_layers'] - 1, layer_cfg=dict(
            self_attn_cfg=_attn(c, heads, 0.0), cross_attn_cfg=_attn(c, heads, 0.0),
            ffn_cfg=dict(embed_dims=c, feedforward_channels=config['dim_feedforward'], ffn_drop=0.0))),
        task_encoder=dict(seq_len=config.get('task_seq_len', 77), embed_dims=c),
        query_transformer=dict(embed_dims=c, decoder=dict(num_layers=config.get('query_dec_layers', 2), layer_cfg=dict(
            self_attn_cfg=_attn(c, heads, drop), cross_attn_cfg=_attn(c, heads, drop),
            ffn_cfg=dict(embed_dims=c, feedforward_channels=config['dim_feedforward'], ffn_drop=drop)))),
        text_mapper=text_mapper,
        loss_contrastive=dict(temperature=config.get('contrastive_temperature', 0.07),
                              loss_weight=config.get('contrastive_weight', 0.5)) if with_text else None,
        no_object_weight=config.get('no_object_weight', 0.1),
        loss_cls=dict(loss_weight=config.get('class_weight', 2.0)),
        loss_mask=dict(loss_weight=config.get('mask_weight', 5.0)),
        loss_dice=dict(loss_weight=config.get('dice_weight', 5.0)))
    return dict(
        backbone=bb['cfg'], panoptic_head=head,
        panoptic_fusion_head=dict(num_things_classes=num_things, num_stuff_classes=num_stuff),
        train_cfg=dict(num_points=config.get('train_num_points', 12544),
                       oversample_ratio=config.get('oversample_ratio', 3.0),
                       importance_sample_ratio=config.get('importance_sample_ratio', 0.75)),
        test_cfg=dict(object_mask_thr=object_mask_thr, iou_thr=iou_thr, max_per_image=n))


def preprocessor_cfg(processor: Optional[Dict]) -> Optional[Dict]:
    """mean / std (0-255 scale) from an HF ``preprocessor_config.json``, if it has them."""
    if not processor or 'image_mean' not in processor or 'image_std' not in processor:
        return None
    scale = 1 / processor.get('rescale_factor', 1 / 255) if processor.get('do_rescale', True) else 1.0
    return dict(mean=[round(m * scale, 4) for m in processor['image_mean']],
                std=[round(s * scale, 4) for s in processor['image_std']])


def format_value(obj, indent: int = 0, width: int = 110) -> str:
    """OpenMMLab-style Python source for a config value (``dict(a=1, ...)``, one key per line when long)."""
    if isinstance(obj, dict):
        items = [f'{k}={format_value(v, indent + 4, width)}' for k, v in obj.items()]
        inline = f'dict({", ".join(items)})'
        if '\n' not in inline and indent + len(inline) <= width:
            return inline
        pad = ' ' * (indent + 4)
        return 'dict(\n' + ',\n'.join(pad + i for i in items) + ')'
    if isinstance(obj, (list, tuple)):
        inner = ', '.join(format_value(v, indent, width) for v in obj)
        return f'[{inner}]' if isinstance(obj, list) else f'({inner}{"," if len(obj) == 1 else ""})'
    return repr(obj)


def config_text(model: Dict, bases: Sequence[str], extra_imports: List[str], header: str,
                load_from: Optional[str] = None) -> str:
    """A config file inheriting from ``bases`` (absolute paths) with ``model`` overrides."""
    missing = [b for b in bases if not osp.isfile(b)]
    if missing:
        raise FileNotFoundError(f'base configs {missing} not found (the converter writes configs that inherit '
                                'from the repository configs; run it from a source checkout)')
    imports = ['oneformer'] + extra_imports
    body = format_value(model)
    lines = [f'# {line}' if line else '#' for line in header.splitlines()]
    lines += [f'_base_ = {list(bases)!r}', '',
              f'custom_imports = dict(imports={imports!r}, allow_failed_imports=False)', '',
              f'model = {body}', '']
    if load_from:
        lines += [f'load_from = {load_from!r}', '']
    return '\n'.join(lines)
