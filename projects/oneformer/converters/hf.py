"""HF ``OneFormerForUniversalSegmentation`` checkpoint -> our mmdet-layout state dict.

Handles transformers 4.x key names (the hub checkpoints) and 5.x names (``swin.`` backbone prefix,
``attention.q_proj`` ...), with or without the ``model.`` prefix of the task model.
"""
import json
import os
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, Optional, Tuple

import torch

from .backbones import convnext_hf_to_mm, resnet_hf_to_mm, swin_hf_to_mm
from .classes import dataset_meta, load_class_info, reorder_class_head, things_first_order
from .common import Conversion, RenameRules, StateDict, fuse_qkv, split_prefix
from .hf_config import config_text, model_cfg, preprocessor_cfg

PD = 'panoptic_head.pixel_decoder.'
H = 'panoptic_head.'
ATTN = r'(in_proj_weight|in_proj_bias|out_proj\.weight|out_proj\.bias)'
WB = r'(weight|bias)'
BACKBONE_PREFIX = 'pixel_level_module.encoder.'

_PIXEL_DECODER = [
    (r'input_projections\.(\d+)\.0\.' + WB, PD + r'input_convs.\1.conv.\2'),
    (r'input_projections\.(\d+)\.1\.' + WB, PD + r'input_convs.\1.gn.\2'),
    (r'level_embed', PD + 'level_encoding.weight'),
    (r'encoder\.layers\.(\d+)\.self_attn\.(sampling_offsets|attention_weights|value_proj|output_proj)\.' + WB,
     PD + r'encoder.layers.\1.self_attn.\2.\3'),
    (r'encoder\.layers\.(\d+)\.self_attn_layer_norm\.' + WB, PD + r'encoder.layers.\1.norms.0.\2'),
    (r'encoder\.layers\.(\d+)\.(?:mlp\.)?fc1\.' + WB, PD + r'encoder.layers.\1.ffn.layers.0.0.\2'),
    (r'encoder\.layers\.(\d+)\.(?:mlp\.)?fc2\.' + WB, PD + r'encoder.layers.\1.ffn.layers.1.\2'),
    (r'encoder\.layers\.(\d+)\.final_layer_norm\.' + WB, PD + r'encoder.layers.\1.norms.1.\2'),
    (r'mask_projection\.' + WB, PD + r'mask_feature.\1'),
    (r'adapter_1\.0\.weight', PD + 'lateral_convs.0.conv.weight'),
    (r'adapter_1\.1\.' + WB, PD + r'lateral_convs.0.gn.\1'),
    (r'layer_1\.0\.weight', PD + 'output_convs.0.conv.weight'),
    (r'layer_1\.1\.' + WB, PD + r'output_convs.0.gn.\1'),
]

_QT = r'decoder\.query_transformer\.decoder\.layers\.(\d+)\.'
_DL = r'decoder\.layers\.(\d+)\.'
_TRANSFORMER = [
    (r'queries_embedder\.weight', H + 'query_embed.weight'),
    (r'level_embed\.weight', H + 'level_embed.weight'),
    (r'decoder\.decoder_norm\.' + WB, H + r'transformer_decoder.post_norm.\1'),
    (r'decoder\.query_input_projection\.' + WB, H + r'query_transformer.input_proj.\1'),
    (r'decoder\.class_embed\.' + WB, H + r'cls_embed.\1'),
    (r'decoder\.mask_embed\.layers\.(\d)\.0\.' + WB, lambda m: f'{H}mask_embed.{2 * int(m.group(1))}.{m.group(2)}'),
    (_QT + r'self_attn\.' + ATTN, H + r'query_transformer.decoder.layers.\1.self_attn.attn.\2'),
    (_QT + r'multihead_attn\.' + ATTN, H + r'query_transformer.decoder.layers.\1.cross_attn.attn.\2'),
    (_QT + r'linear1\.' + WB, H + r'query_transformer.decoder.layers.\1.ffn.layers.0.0.\2'),
    (_QT + r'linear2\.' + WB, H + r'query_transformer.decoder.layers.\1.ffn.layers.1.\2'),
    (_QT + r'norm([123])\.' + WB,
     lambda m: f'{H}query_transformer.decoder.layers.{m.group(1)}.norms.{int(m.group(2)) - 1}.{m.group(3)}'),
    (r'decoder\.query_transformer\.decoder\.norm\.' + WB, H + r'query_transformer.decoder.post_norm.\1'),
    (_DL + r'cross_attn\.multihead_attn\.' + ATTN, H + r'transformer_decoder.layers.\1.cross_attn.attn.\2'),
    (_DL + r'cross_attn\.norm\.' + WB, H + r'transformer_decoder.layers.\1.norms.0.\2'),
    (_DL + r'self_attn\.self_attn\.' + ATTN, H + r'transformer_decoder.layers.\1.self_attn.attn.\2'),
    (_DL + r'self_attn\.norm\.' + WB, H + r'transformer_decoder.layers.\1.norms.1.\2'),
    (_DL + r'ffn\.linear1\.' + WB, H + r'transformer_decoder.layers.\1.ffn.layers.0.0.\2'),
    (_DL + r'ffn\.linear2\.' + WB, H + r'transformer_decoder.layers.\1.ffn.layers.1.\2'),
    (_DL + r'ffn\.norm\.' + WB, H + r'transformer_decoder.layers.\1.norms.2.\2'),
]

_TB = r'text_encoder\.transformer\.layers\.(\d+)\.'
_TM = H + r'text_mapper.'
_OTHERS = [
    (r'task_encoder\.task_mlp\.layers\.(\d)\.0\.' + WB, H + r'task_encoder.task_mlp.layers.\1.\2'),
    (r'text_mapper\.text_encoder\.(positional_embedding|token_embedding\.weight|ln_final\.(?:weight|bias))',
     _TM + r'text_encoder.\1'),
    (r'text_mapper\.' + _TB + r'self_attn\.' + ATTN, _TM + r'text_encoder.transformer.resblocks.\1.attn.\2'),
    (r'text_mapper\.' + _TB + r'layer_norm1\.' + WB, _TM + r'text_encoder.transformer.resblocks.\1.ln_1.\2'),
    (r'text_mapper\.' + _TB + r'layer_norm2\.' + WB, _TM + r'text_encoder.transformer.resblocks.\1.ln_2.\2'),
    (r'text_mapper\.' + _TB + r'mlp\.fc1\.' + WB, _TM + r'text_encoder.transformer.resblocks.\1.mlp.c_fc.\2'),
    (r'text_mapper\.' + _TB + r'mlp\.fc2\.' + WB, _TM + r'text_encoder.transformer.resblocks.\1.mlp.c_proj.\2'),
    (r'text_mapper\.text_projector\.layers\.(\d)\.0\.' + WB, _TM + r'text_projector.layers.\1.\2'),
    (r'text_mapper\.prompt_ctx\.weight', _TM + 'prompt_ctx.weight'),
    (r'criterion\.logit_scale', H + 'loss_contrastive.logit_scale'),
    (r'criterion\.empty_weight', None),
]

RULES = RenameRules(
    [(r'pixel_level_module\.decoder\.' + p, r) for p, r in _PIXEL_DECODER] +
    [(r'transformer_module\.' + p, r) for p, r in _TRANSFORMER] + _OTHERS,
    drop_reasons={r'criterion\.empty_weight': 'CE class weights [1]*K + [no_object_weight], rebuilt from the config'})

BACKBONES = dict(swin=swin_hf_to_mm, convnext=convnext_hf_to_mm, resnet=resnet_hf_to_mm)


def load_hf_dir(hf_dir: str) -> Tuple[Dict, StateDict]:
    """``config.json`` and the weights (``model.safetensors``, sharded safetensors or ``pytorch_model.bin``)."""
    cfg_path = osp.join(hf_dir, 'config.json')
    if not osp.isfile(cfg_path):
        raise FileNotFoundError(f'{cfg_path} not found: HF_DIR must be a saved OneFormerForUniversalSegmentation')
    with open(cfg_path, encoding='utf-8') as f:
        config = json.load(f)
    if config.get('model_type') != 'oneformer':
        raise ValueError(f'{cfg_path}: model_type is {config.get("model_type")!r}, expected "oneformer"')
    single = osp.join(hf_dir, 'model.safetensors')
    index = osp.join(hf_dir, 'model.safetensors.index.json')
    binary = osp.join(hf_dir, 'pytorch_model.bin')
    if osp.isfile(single) or osp.isfile(index):
        from safetensors.torch import load_file
        if osp.isfile(single):
            files = [single]
        else:
            with open(index, encoding='utf-8') as f:
                files = [osp.join(hf_dir, s) for s in sorted(set(json.load(f)['weight_map'].values()))]
        sd = OrderedDict()
        for path in files:
            sd.update(load_file(path))
    elif osp.isfile(binary):
        sd = torch.load(binary, map_location='cpu', weights_only=True)
    else:
        raise FileNotFoundError(f'no model.safetensors(.index.json) or pytorch_model.bin in {hf_dir}')
    return config, sd


def strip_task_prefix(sd: StateDict) -> StateDict:
    """``model.*`` of OneFormerForUniversalSegmentation -> OneFormerModel names (``criterion.*`` stays)."""
    if not any(k.startswith('model.') for k in sd):
        return OrderedDict(sd)
    return OrderedDict((k[len('model.'):] if k.startswith('model.') else k, v) for k, v in sd.items())


def convert_hf_state_dict(sd: StateDict, backbone_type: str, with_text: bool) -> Conversion:
    """Rename an HF state dict (4.x or 5.x names) to ours.

    Args:
        sd (dict): HF state dict.
        backbone_type (str): ``config.backbone_config.model_type`` ('swin', 'convnext' or 'resnet').
        with_text (bool): Keep the text mapper and contrastive logit scale (else ``criterion.logit_scale`` is
            dropped with a note; text-mapper keys would be reported as unconsumed).
    """
    if backbone_type not in BACKBONES:
        raise ValueError(f'backbone model_type {backbone_type!r} is not supported (supported: {sorted(BACKBONES)})')
    sd = strip_task_prefix(sd)
    out = BACKBONES[backbone_type](split_prefix(sd, BACKBONE_PREFIX), prefix='model.' + BACKBONE_PREFIX)
    rest = OrderedDict((k, v) for k, v in sd.items() if not k.startswith(BACKBONE_PREFIX))
    # HF splits the masked decoder's self-attention in_proj into q/k/v Linear layers; mmcv keeps nn.MultiheadAttention
    rest = fuse_qkv(rest, r'(transformer_module\.decoder\.layers\.\d+\.self_attn\.self_attn)',
                    ('q_proj', 'k_proj', 'v_proj'), '{prefix}.in_proj_{param}')
    if not with_text and 'criterion.logit_scale' in rest:
        rest.pop('criterion.logit_scale')
        out.notes.append('criterion.logit_scale: no text mapper in the checkpoint, so no contrastive loss')
    head = RULES.apply(rest)
    head.unconsumed = [k if k.startswith('criterion.') else 'model.' + k for k in head.unconsumed]
    return out.merge(head)


def has_text_weights(sd: StateDict) -> bool:
    return any(re.match(r'(model\.)?text_mapper\.', k) for k in sd)


def repo_base_configs() -> list:
    """Absolute paths of the base configs of this source checkout (the written config inherits from them)."""
    import oneformer
    root = osp.dirname(osp.dirname(osp.dirname(osp.realpath(oneformer.__file__))))
    return [osp.join(root, 'configs', '_base_', 'models', 'oneformer_r50.py'),
            osp.join(root, 'configs', '_base_', 'default_runtime.py')]


def convert_hf_dir(hf_dir: str, out_dir: str, class_info: Optional[str] = None, num_things: Optional[int] = None,
                   object_mask_thr: float = 0.5, iou_thr: float = 0.8, strict: bool = False) -> Conversion:
    """Write ``out_dir/model.pth`` and ``out_dir/config.py`` for a saved HF OneFormer.

    Classes: names from ``class_info`` or else ``config.id2label``; thing/stuff split from ``class_info`` (JSON, see
    :func:`load_class_info`), else ``num_things`` (the first N classes are things), else every class is a thing.
    Thing classes are moved first (our convention), permuting the class head rows.
    Thresholds default to HF's post-processing defaults (0.5 / 0.8); the official COCO / Cityscapes configs use
    ``object_mask_thr=0.8``.
    """
    config, sd = load_hf_dir(hf_dir)
    with_text = has_text_weights(sd)
    conv = convert_hf_state_dict(sd, config['backbone_config'].get('model_type'), with_text)
    if conv.unconsumed and strict:
        raise KeyError(f'{len(conv.unconsumed)} HF keys not converted: {conv.unconsumed}')
    num_classes = conv.state_dict['panoptic_head.cls_embed.weight'].shape[0] - 1
    id2label = {int(k): v for k, v in (config.get('id2label') or {}).items()}
    names = [id2label[i] for i in range(num_classes)] if sorted(id2label) == list(range(num_classes)) else None
    thing_ids = None
    if class_info is not None:
        info_names, thing_ids = load_class_info(class_info)
        if len(info_names) != num_classes:
            raise ValueError(f'{class_info} lists {len(info_names)} classes; the checkpoint has {num_classes}')
        names = info_names  # explicit input wins over config.id2label
    elif num_things is not None:
        if not 0 <= num_things <= num_classes:
            raise ValueError(f'--num-things {num_things} is outside 0..{num_classes}')
        thing_ids = list(range(num_things))
    order = things_first_order(num_classes, thing_ids if thing_ids is not None else range(num_classes))
    conv.state_dict = reorder_class_head(conv.state_dict, order)
    meta = dataset_meta(names, num_classes, thing_ids, order)
    things = len(meta['thing_classes'])

    model = model_cfg(config, things, num_classes - things, with_text, object_mask_thr, iou_thr)
    processor_path = osp.join(hf_dir, 'preprocessor_config.json')
    if osp.isfile(processor_path):
        with open(processor_path, encoding='utf-8') as f:
            norm = preprocessor_cfg(json.load(f))
        if norm:
            model = dict(data_preprocessor=norm, **model)
    extra = ['mmpretrain.models'] if model['backbone']['type'].startswith('mmpretrain.') else []
    header = (f'Converted from the HF OneFormer checkpoint {osp.abspath(hf_dir)} by '
              'tools/model_converters/oneformer_hf_to_mm.py.\n'
              f'{things} thing / {num_classes - things} stuff classes; the class names are in model.pth meta.\n'
              'Add a dataset config (configs/_base_/datasets/...) to _base_ to evaluate or fine-tune it.')
    ckpt_path = osp.abspath(osp.join(out_dir, 'model.pth'))
    text = config_text(model, repo_base_configs(), extra, header, load_from=ckpt_path)

    os.makedirs(out_dir, exist_ok=True)
    torch.save(dict(state_dict=conv.state_dict,
                    meta=dict(dataset_meta=meta, converted_from=osp.abspath(hf_dir), converter='oneformer_hf_to_mm')),
               ckpt_path)
    with open(osp.join(out_dir, 'config.py'), 'w', encoding='utf-8') as f:
        f.write(text)
    return conv
