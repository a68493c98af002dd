"""Official OneFormer (detectron2) checkpoint -> our mmdet-layout state dict.

Source layout: ``backbone.*``, ``sem_seg_head.pixel_decoder.*``, ``sem_seg_head.predictor.*``, ``task_mlp.*``,
training-only ``text_encoder.*`` / ``text_projector.*`` / ``prompt_ctx.*`` and ``criterion.*``.
"""
import re
from collections import OrderedDict
from typing import Dict, Tuple

import numpy as np
import torch

from .backbones import convnext_official_to_mm, detect_official_backbone, resnet_d2_to_mm, swin_official_to_mm
from .common import Conversion, RenameRules, StateDict, split_prefix

PD = 'panoptic_head.pixel_decoder.'
H = 'panoptic_head.'
ATTN = r'(in_proj_weight|in_proj_bias|out_proj\.weight|out_proj\.bias)'
WB = r'(weight|bias)'


def _mask_embed(m: re.Match) -> str:
    # official MLP layers.{0,1,2} -> mmdet Sequential(Linear, ReLU, Linear, ReLU, Linear) indices 0, 2, 4
    return f'{H}mask_embed.{2 * int(m.group(1))}.{m.group(2)}'


def _norm_index(m: re.Match) -> str:
    # DETR decoder layer norm1/2/3 (after self-attn / cross-attn / FFN) -> mmdet norms.0/1/2
    return f'{H}query_transformer.decoder.layers.{m.group(1)}.norms.{int(m.group(2)) - 1}.{m.group(3)}'


_PIXEL_DECODER = [
    (r'input_proj\.(\d+)\.0\.' + WB, PD + r'input_convs.\1.conv.\2'),
    (r'input_proj\.(\d+)\.1\.' + WB, PD + r'input_convs.\1.gn.\2'),
    (r'transformer\.level_embed', PD + 'level_encoding.weight'),
    (r'transformer\.encoder\.layers\.(\d+)\.self_attn\.(sampling_offsets|attention_weights|value_proj|output_proj)\.'
     + WB, PD + r'encoder.layers.\1.self_attn.\2.\3'),
    (r'transformer\.encoder\.layers\.(\d+)\.norm1\.' + WB, PD + r'encoder.layers.\1.norms.0.\2'),
    (r'transformer\.encoder\.layers\.(\d+)\.norm2\.' + WB, PD + r'encoder.layers.\1.norms.1.\2'),
    (r'transformer\.encoder\.layers\.(\d+)\.linear1\.' + WB, PD + r'encoder.layers.\1.ffn.layers.0.0.\2'),
    (r'transformer\.encoder\.layers\.(\d+)\.linear2\.' + WB, PD + r'encoder.layers.\1.ffn.layers.1.\2'),
    (r'mask_features\.' + WB, PD + r'mask_feature.\1'),
    (r'adapter_1\.weight', PD + 'lateral_convs.0.conv.weight'),
    (r'adapter_1\.norm\.' + WB, PD + r'lateral_convs.0.gn.\1'),
    (r'layer_1\.weight', PD + 'output_convs.0.conv.weight'),
    (r'layer_1\.norm\.' + WB, PD + r'output_convs.0.gn.\1'),
]

_QT = r'class_transformer\.decoder\.layers\.(\d+)\.'
_PREDICTOR = [
    (r'query_embed\.weight', H + 'query_embed.weight'),
    (r'level_embed\.weight', H + 'level_embed.weight'),
    (r'class_input_proj\.' + WB, H + r'query_transformer.input_proj.\1'),
    (r'class_embed\.' + WB, H + r'cls_embed.\1'),
    (r'mask_embed\.layers\.(\d)\.' + WB, _mask_embed),
    (r'decoder_norm\.' + WB, H + r'transformer_decoder.post_norm.\1'),
    (_QT + r'self_attn\.' + ATTN, H + r'query_transformer.decoder.layers.\1.self_attn.attn.\2'),
    (_QT + r'multihead_attn\.' + ATTN, H + r'query_transformer.decoder.layers.\1.cross_attn.attn.\2'),
    (_QT + r'linear1\.' + WB, H + r'query_transformer.decoder.layers.\1.ffn.layers.0.0.\2'),
    (_QT + r'linear2\.' + WB, H + r'query_transformer.decoder.layers.\1.ffn.layers.1.\2'),
    (_QT + r'norm([123])\.' + WB, _norm_index),
    (r'class_transformer\.decoder\.norm\.' + WB, H + r'query_transformer.decoder.post_norm.\1'),
    (r'transformer_self_attention_layers\.(\d+)\.self_attn\.' + ATTN,
     H + r'transformer_decoder.layers.\1.self_attn.attn.\2'),
    (r'transformer_self_attention_layers\.(\d+)\.norm\.' + WB, H + r'transformer_decoder.layers.\1.norms.1.\2'),
    (r'transformer_cross_attention_layers\.(\d+)\.multihead_attn\.' + ATTN,
     H + r'transformer_decoder.layers.\1.cross_attn.attn.\2'),
    (r'transformer_cross_attention_layers\.(\d+)\.norm\.' + WB, H + r'transformer_decoder.layers.\1.norms.0.\2'),
    (r'transformer_ffn_layers\.(\d+)\.linear1\.' + WB, H + r'transformer_decoder.layers.\1.ffn.layers.0.0.\2'),
    (r'transformer_ffn_layers\.(\d+)\.linear2\.' + WB, H + r'transformer_decoder.layers.\1.ffn.layers.1.\2'),
    (r'transformer_ffn_layers\.(\d+)\.norm\.' + WB, H + r'transformer_decoder.layers.\1.norms.2.\2'),
]

_TEXT_BLOCK = r'(attn\.in_proj_weight|attn\.in_proj_bias|attn\.out_proj\.(?:weight|bias)|' \
              r'(?:ln_1|ln_2|mlp\.c_fc|mlp\.c_proj)\.(?:weight|bias))'
_TOP = [
    (r'task_mlp\.layers\.(\d)\.' + WB, H + r'task_encoder.task_mlp.layers.\1.\2'),
    # our text mapper keeps the official names
    (r'text_encoder\.(positional_embedding|token_embedding\.weight|ln_final\.(?:weight|bias))',
     H + r'text_mapper.text_encoder.\1'),
    (r'text_encoder\.transformer\.resblocks\.(\d+)\.' + _TEXT_BLOCK,
     H + r'text_mapper.text_encoder.transformer.resblocks.\1.\2'),
    (r'text_projector\.layers\.(\d)\.' + WB, H + r'text_mapper.text_projector.layers.\1.\2'),
    (r'prompt_ctx\.weight', H + 'text_mapper.prompt_ctx.weight'),
    (r'criterion\.logit_scale', H + 'loss_contrastive.logit_scale'),
    (r'criterion\.empty_weight', None),
    (r'pixel_(mean|std)', None),
]
_DROP_REASONS = {
    r'criterion\.empty_weight': 'CE class weights [1]*K + [0.1], rebuilt from the config (no_object_weight)',
    r'pixel_(mean|std)': 'input normalisation lives in the data_preprocessor config',
}

RULES = RenameRules([(r'sem_seg_head\.pixel_decoder\.' + p, r) for p, r in _PIXEL_DECODER] +
                    [(r'sem_seg_head\.predictor\.' + p, r) for p, r in _PREDICTOR] + _TOP,
                    drop_reasons=_DROP_REASONS)

BACKBONES = dict(swin=swin_official_to_mm, convnext=convnext_official_to_mm, resnet=resnet_d2_to_mm)


def _as_state_dict(ckpt: Dict) -> StateDict:
    """The model state dict of a detectron2 checkpoint (``{'model': ...}``) or a bare state dict; numpy arrays
    (detectron2 pickles) become tensors."""
    sd = ckpt.get('model', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(sd, dict):
        raise ValueError('expected a detectron2 checkpoint dict with a "model" state dict')
    out = OrderedDict()
    for k, v in sd.items():
        if isinstance(v, np.ndarray):
            v = torch.from_numpy(v)
        if not isinstance(v, torch.Tensor):
            raise ValueError(f'checkpoint entry model[{k!r}] is a {type(v).__name__}, not a tensor')
        out[k] = v
    return out


def _legacy_head_names(sd: StateDict) -> Tuple[StateDict, list]:
    """Checkpoints older than the official head's version 2 keep the pixel decoder directly under
    ``sem_seg_head.``; move it under ``sem_seg_head.pixel_decoder.`` as the official loader does."""
    out, notes = OrderedDict(), []
    for k, v in sd.items():
        if k.startswith('sem_seg_head.') and not k.startswith(('sem_seg_head.pixel_decoder.',
                                                               'sem_seg_head.predictor.')):
            new = 'sem_seg_head.pixel_decoder.' + k[len('sem_seg_head.'):]
            notes.append(f'{k}: legacy name, read as {new}')
            k = new
        out[k] = v
    return out, notes


def convert_d2_checkpoint(ckpt: Dict) -> Tuple[Conversion, str]:
    """Convert an official checkpoint.

    Returns:
        tuple: the :class:`Conversion` (state dict in our names, unconsumed keys, notes) and the backbone kind
        ('swin' | 'convnext' | 'resnet').
    """
    sd = _as_state_dict(ckpt)
    kind = detect_official_backbone(split_prefix(sd, 'backbone.'))
    out = BACKBONES[kind](split_prefix(sd, 'backbone.'))
    rest, notes = _legacy_head_names(OrderedDict((k, v) for k, v in sd.items() if not k.startswith('backbone.')))
    out.merge(RULES.apply(rest))
    out.notes = notes + out.notes
    return out, kind
