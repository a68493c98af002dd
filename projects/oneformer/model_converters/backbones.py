"""Backbone key mapping: official (detectron2 OneFormer) and HF names -> mmdet / mmpretrain / our names.

Input state dicts carry no ``backbone.`` prefix; outputs do (our detector's layout). HF names are first renamed
to the official ones so that one official -> mm mapping per architecture does the real work.
"""
import math
import re
from collections import OrderedDict

import torch

from .common import Conversion, RenameRules, StateDict, fuse_qkv

_NORM_PARAMS = r'(weight|bias|running_mean|running_var|num_batches_tracked)'


def _stage_norm(m: re.Match) -> str:
    """HF ``hidden_states_norms.stage{k}`` (k = 1..4) is the official / mm ``norm{k-1}``."""
    return f'norm{int(m.group(1)) - 1}.{m.group(2)}'


# ----------------------------------------------------------------------------------------------------------- Swin
_SWIN_OFFICIAL = RenameRules([
    (r'patch_embed\.(proj|norm)\.(weight|bias)', r'\g<0>'),
    (r'layers\.\d+\.blocks\.\d+\.(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias)', r'\g<0>'),
    (r'layers\.\d+\.blocks\.\d+\.attn\.relative_position_bias_table', r'\g<0>'),
    (r'layers\.\d+\.blocks\.\d+\.attn\.relative_position_index', r'\g<0>'),
    (r'layers\.\d+\.downsample\.(reduction\.weight|norm\.weight|norm\.bias)', r'\g<0>'),
    (r'norm[0-3]\.(weight|bias)', r'\g<0>'),
])

_HF_SWIN_BLOCK = r'(?:swin\.)?encoder\.layers\.(\d+)\.blocks\.(\d+)\.'
_SWIN_HF = RenameRules([
    (r'(?:swin\.)?embeddings\.patch_embeddings\.projection\.(weight|bias)', r'patch_embed.proj.\1'),
    (r'(?:swin\.)?embeddings\.norm\.(weight|bias)', r'patch_embed.norm.\1'),
    (_HF_SWIN_BLOCK + r'layernorm_before\.(weight|bias)', r'layers.\1.blocks.\2.norm1.\3'),
    (_HF_SWIN_BLOCK + r'layernorm_after\.(weight|bias)', r'layers.\1.blocks.\2.norm2.\3'),
    (_HF_SWIN_BLOCK + r'attention\.qkv\.(weight|bias)', r'layers.\1.blocks.\2.attn.qkv.\3'),
    (_HF_SWIN_BLOCK + r'attention\.(?:output\.dense|o_proj)\.(weight|bias)', r'layers.\1.blocks.\2.attn.proj.\3'),
    (_HF_SWIN_BLOCK + r'attention\.(?:self|relative_position_bias)\.relative_position_bias_table',
     r'layers.\1.blocks.\2.attn.relative_position_bias_table'),
    (_HF_SWIN_BLOCK + r'attention\.(?:self|relative_position_bias)\.relative_position_index',
     r'layers.\1.blocks.\2.attn.relative_position_index'),
    (_HF_SWIN_BLOCK + r'(?:intermediate\.dense|mlp\.fc1)\.(weight|bias)', r'layers.\1.blocks.\2.mlp.fc1.\3'),
    (_HF_SWIN_BLOCK + r'(?:output\.dense|mlp\.fc2)\.(weight|bias)', r'layers.\1.blocks.\2.mlp.fc2.\3'),
    (r'(?:swin\.)?encoder\.layers\.(\d+)\.downsample\.(reduction\.weight|norm\.weight|norm\.bias)',
     r'layers.\1.downsample.\2'),
    (r'hidden_states_norms\.stage(\d)\.(weight|bias)', _stage_norm),
    (r'(?:swin\.)?embeddings\.mask_token', None),
    (r'(?:swin\.)?layernorm\.(weight|bias)', None),
], drop_reasons={
    r'(?:swin\.)?embeddings\.mask_token': 'masked-image-modeling token, unused by a backbone',
    r'(?:swin\.)?layernorm\.(weight|bias)': "SwinModel's final norm, unused by SwinBackbone",
})


def swin_relative_position_index(window_size: int) -> torch.Tensor:
    """The (W², W²) relative position index mmdet's ``WindowMSA`` builds (same values as the official Swin)."""
    from mmdet.models.backbones.swin import WindowMSA
    coords = WindowMSA.double_step_seq(2 * window_size - 1, window_size, 1, window_size)
    return (coords + coords.T).flip(1).contiguous()


def swin_official_to_mm(sd: StateDict, prefix: str = 'backbone.') -> Conversion:
    """Official Swin names -> mmdet ``SwinTransformer`` (via mmdet's own ``swin_converter``, which also reorders the
    PatchMerging channels for mmdet's ``nn.Unfold``). ``relative_position_index`` buffers are rebuilt from the window
    size (HF >= 5 does not save them); a source index that disagrees with mmdet's is an error."""
    from mmdet.models.backbones.swin import swin_converter
    checked = _SWIN_OFFICIAL.apply(sd, prefix)
    indices = {k: v for k, v in checked.state_dict.items() if k.endswith('relative_position_index')}
    tensors = {k: v for k, v in checked.state_dict.items() if k not in indices}
    out = Conversion(unconsumed=checked.unconsumed, notes=checked.notes)
    out.state_dict = OrderedDict(swin_converter(tensors))
    for key in [k for k in out.state_dict if k.endswith('relative_position_bias_table')]:
        rows = out.state_dict[key].shape[0]
        window = (math.isqrt(rows) + 1) // 2
        if (2 * window - 1)**2 != rows:
            raise ValueError(f'{key}: {rows} rows is not (2W-1)^2 for any window size W')
        index = swin_relative_position_index(window)
        src_key = key[len('backbone.'):].replace('stages', 'layers', 1).replace('w_msa.', '').replace(
            'relative_position_bias_table', 'relative_position_index')
        if src_key in indices and not torch.equal(indices[src_key].reshape(index.shape).to(index), index):
            raise ValueError(f'{prefix}{src_key} differs from the Swin relative position index of window {window}')
        out.state_dict[key.replace('relative_position_bias_table', 'relative_position_index')] = index
    return out


def swin_hf_to_mm(sd: StateDict, prefix: str = '') -> Conversion:
    """HF ``SwinBackbone`` (transformers 4.x ``attention.self.query`` or 5.x ``attention.q_proj`` names)."""
    attn = r'((?:swin\.)?encoder\.layers\.\d+\.blocks\.\d+\.attention)'
    for names in (('self.query', 'self.key', 'self.value'), ('q_proj', 'k_proj', 'v_proj')):
        sd = fuse_qkv(sd, attn, names, '{prefix}.qkv.{param}')
    official = _SWIN_HF.apply(sd, prefix)
    out = swin_official_to_mm(official.state_dict)
    out.unconsumed = official.unconsumed + out.unconsumed
    out.notes = official.notes + out.notes
    return out


# ------------------------------------------------------------------------------------------------------- ConvNeXt
_CONVNEXT_OFFICIAL = RenameRules([
    (r'downsample_layers\.(\d)\.([01])\.(weight|bias)', r'\g<0>'),
    (r'stages\.(\d+)\.(\d+)\.dwconv\.(weight|bias)', r'stages.\1.\2.depthwise_conv.\3'),
    (r'stages\.(\d+)\.(\d+)\.norm\.(weight|bias)', r'\g<0>'),
    (r'stages\.(\d+)\.(\d+)\.pwconv([12])\.(weight|bias)', r'stages.\1.\2.pointwise_conv\3.\4'),
    (r'stages\.(\d+)\.(\d+)\.gamma', r'\g<0>'),
    (r'norm([0-3])\.(weight|bias)', r'\g<0>'),
])

_HF_CONVNEXT_LAYER = r'encoder\.stages\.(\d+)\.layers\.(\d+)\.'
_CONVNEXT_HF = RenameRules([
    (r'embeddings\.patch_embeddings\.(weight|bias)', r'downsample_layers.0.0.\1'),
    (r'embeddings\.layernorm\.(weight|bias)', r'downsample_layers.0.1.\1'),
    (r'encoder\.stages\.(\d+)\.downsampling_layer\.([01])\.(weight|bias)', r'downsample_layers.\1.\2.\3'),
    (_HF_CONVNEXT_LAYER + r'dwconv\.(weight|bias)', r'stages.\1.\2.dwconv.\3'),
    (_HF_CONVNEXT_LAYER + r'layernorm\.(weight|bias)', r'stages.\1.\2.norm.\3'),
    (_HF_CONVNEXT_LAYER + r'pwconv([12])\.(weight|bias)', r'stages.\1.\2.pwconv\3.\4'),
    (_HF_CONVNEXT_LAYER + r'layer_scale_parameter', r'stages.\1.\2.gamma'),
    (r'hidden_states_norms\.stage(\d)\.(weight|bias)', _stage_norm),
])


def convnext_official_to_mm(sd: StateDict, prefix: str = 'backbone.') -> Conversion:
    """Official ConvNeXt (OneFormer's ``D2ConvNeXt``) -> mmpretrain ``ConvNeXt`` (``gap_before_final_norm=False``)."""
    out = _CONVNEXT_OFFICIAL.apply(sd, prefix)
    out.state_dict = OrderedDict(('backbone.' + k, v) for k, v in out.state_dict.items())
    return out


def convnext_hf_to_mm(sd: StateDict, prefix: str = '') -> Conversion:
    official = _CONVNEXT_HF.apply(sd, prefix)
    out = convnext_official_to_mm(official.state_dict)
    out.unconsumed = official.unconsumed + out.unconsumed
    out.notes = official.notes + out.notes
    return out


# --------------------------------------------------------------------------------------------------------- ResNet
def _layer(m: re.Match, offset: int) -> str:
    return f'layer{int(m.group(1)) + offset}.{m.group(2)}.'


_RESNET_D2 = RenameRules([
    (r'stem\.conv1\.weight', 'conv1.weight'),
    (r'stem\.conv1\.norm\.' + _NORM_PARAMS, r'bn1.\1'),
    (r'res([2-5])\.(\d+)\.conv(\d)\.weight', lambda m: _layer(m, -1) + f'conv{m.group(3)}.weight'),
    (r'res([2-5])\.(\d+)\.conv(\d)\.norm\.' + _NORM_PARAMS, lambda m: _layer(m, -1) + f'bn{m.group(3)}.{m.group(4)}'),
    (r'res([2-5])\.(\d+)\.shortcut\.weight', lambda m: _layer(m, -1) + 'downsample.0.weight'),
    (r'res([2-5])\.(\d+)\.shortcut\.norm\.' + _NORM_PARAMS, lambda m: _layer(m, -1) + f'downsample.1.{m.group(3)}'),
])

_HF_RESNET_LAYER = r'encoder\.stages\.(\d+)\.layers\.(\d+)\.'
_RESNET_HF = RenameRules([
    (r'embedder\.embedder\.convolution\.weight', 'conv1.weight'),
    (r'embedder\.embedder\.normalization\.' + _NORM_PARAMS, r'bn1.\1'),
    (_HF_RESNET_LAYER + r'shortcut\.convolution\.weight', lambda m: _layer(m, 1) + 'downsample.0.weight'),
    (_HF_RESNET_LAYER + r'shortcut\.normalization\.' + _NORM_PARAMS,
     lambda m: _layer(m, 1) + f'downsample.1.{m.group(3)}'),
    (_HF_RESNET_LAYER + r'layer\.(\d)\.convolution\.weight',
     lambda m: _layer(m, 1) + f'conv{int(m.group(3)) + 1}.weight'),
    (_HF_RESNET_LAYER + r'layer\.(\d)\.normalization\.' + _NORM_PARAMS,
     lambda m: _layer(m, 1) + f'bn{int(m.group(3)) + 1}.{m.group(4)}'),
])


def _with_batch_counters(out: Conversion) -> Conversion:
    """Frozen BN (detectron2) stores no ``num_batches_tracked``; mmdet's BatchNorm2d has it. Add zeros so that a
    strict load succeeds (the counter only matters for momentum=None BN training)."""
    sd = OrderedDict()
    for k, v in out.state_dict.items():
        sd[k] = v
        if k.endswith('.running_var'):
            counter = k[:-len('running_var')] + 'num_batches_tracked'
            if counter not in out.state_dict:
                sd[counter] = torch.tensor(0, dtype=torch.long)
    out.state_dict = OrderedDict(('backbone.' + k, v) for k, v in sd.items())
    return out


def resnet_d2_to_mm(sd: StateDict, prefix: str = 'backbone.') -> Conversion:
    """detectron2 ResNet (``stem``, ``res2..res5``, ``shortcut``) -> mmdet ``ResNet``."""
    return _with_batch_counters(_RESNET_D2.apply(sd, prefix))


def resnet_hf_to_mm(sd: StateDict, prefix: str = '') -> Conversion:
    """HF ``ResNetBackbone`` -> mmdet ``ResNet``."""
    return _with_batch_counters(_RESNET_HF.apply(sd, prefix))


# ---------------------------------------------------------------------------------------------------------- DiNAT
# Our DiNAT (oneformer/models/backbones/dinat.py) keeps the module tree of OneFormer's D2DiNAT, so official names
# pass unchanged; the rules only check that each key is one a DiNAT has.
_DINAT_BLOCK = r'levels\.\d+\.blocks\.\d+\.'
_DINAT_OFFICIAL = RenameRules([
    (r'patch_embed\.proj\.[01]\.(weight|bias)', r'\g<0>'),
    (r'patch_embed\.norm\.(weight|bias)', r'\g<0>'),
    (_DINAT_BLOCK + r'(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias)', r'\g<0>'),
    (_DINAT_BLOCK + r'(attn\.rpb|gamma1|gamma2)', r'\g<0>'),
    (r'levels\.\d+\.downsample\.(reduction\.weight|norm\.weight|norm\.bias)', r'\g<0>'),
    (r'norm[0-3]\.(weight|bias)', r'\g<0>'),
])

_HF_DINAT_LAYER = r'encoder\.levels\.(\d+)\.layers\.(\d+)\.'
_DINAT_HF = RenameRules([
    (r'embeddings\.patch_embeddings\.projection\.([01])\.(weight|bias)', r'patch_embed.proj.\1.\2'),
    (r'embeddings\.norm\.(weight|bias)', r'patch_embed.norm.\1'),
    (_HF_DINAT_LAYER + r'layernorm_before\.(weight|bias)', r'levels.\1.blocks.\2.norm1.\3'),
    (_HF_DINAT_LAYER + r'layernorm_after\.(weight|bias)', r'levels.\1.blocks.\2.norm2.\3'),
    (_HF_DINAT_LAYER + r'attention\.qkv\.(weight|bias)', r'levels.\1.blocks.\2.attn.qkv.\3'),
    (_HF_DINAT_LAYER + r'attention\.self\.rpb', r'levels.\1.blocks.\2.attn.rpb'),
    (_HF_DINAT_LAYER + r'attention\.output\.dense\.(weight|bias)', r'levels.\1.blocks.\2.attn.proj.\3'),
    (_HF_DINAT_LAYER + r'intermediate\.dense\.(weight|bias)', r'levels.\1.blocks.\2.mlp.fc1.\3'),
    (_HF_DINAT_LAYER + r'output\.dense\.(weight|bias)', r'levels.\1.blocks.\2.mlp.fc2.\3'),
    (_HF_DINAT_LAYER + r'layer_scale_parameters\.([01])',
     lambda m: f'levels.{m.group(1)}.blocks.{m.group(2)}.gamma{int(m.group(3)) + 1}'),
    (r'encoder\.levels\.(\d+)\.downsample\.(reduction\.weight|norm\.weight|norm\.bias)', r'levels.\1.downsample.\2'),
    (r'hidden_states_norms\.stage(\d)\.(weight|bias)', _stage_norm),
])


def dinat_official_to_mm(sd: StateDict, prefix: str = 'backbone.') -> Conversion:
    """Official DiNAT (OneFormer's ``D2DiNAT``) -> our ``DiNAT``: same names, checked and prefixed.

    Args:
        sd (dict): Official backbone state dict without the ``backbone.`` prefix.
        prefix (str): Prepended to the source keys named in the report.
    """
    out = _DINAT_OFFICIAL.apply(sd, prefix)
    out.state_dict = OrderedDict(('backbone.' + k, v) for k, v in out.state_dict.items())
    return out


def _split_layer_scale(sd: StateDict) -> StateDict:
    """HF stores both layer-scale vectors of a DiNAT layer as one ``layer_scale_parameters`` (2, C) tensor."""
    out = OrderedDict()
    for k, v in sd.items():
        if k.endswith('.layer_scale_parameters'):
            if v.dim() != 2 or v.shape[0] != 2:
                raise ValueError(f'{k}: expected a (2, C) layer-scale tensor, got shape {tuple(v.shape)}')
            out[k + '.0'], out[k + '.1'] = v[0].clone(), v[1].clone()
        else:
            out[k] = v
    return out


def dinat_hf_to_mm(sd: StateDict, prefix: str = '') -> Conversion:
    """HF ``DinatBackbone`` (separate ``attention.self.{query,key,value}``) -> official names -> our ``DiNAT``.

    Args:
        sd (dict): HF backbone state dict (``pixel_level_module.encoder.`` removed).
        prefix (str): Prepended to the HF keys named in the report.
    """
    attn = r'(encoder\.levels\.\d+\.layers\.\d+\.attention)'
    sd = fuse_qkv(sd, attn, ('self.query', 'self.key', 'self.value'), '{prefix}.qkv.{param}')
    official = _DINAT_HF.apply(_split_layer_scale(sd), prefix)
    out = dinat_official_to_mm(official.state_dict)
    out.unconsumed = official.unconsumed + out.unconsumed
    out.notes = official.notes + out.notes
    return out


def detect_official_backbone(sd: StateDict) -> str:
    """The backbone family of official backbone keys (no ``backbone.`` prefix).

    Returns:
        str: 'swin', 'convnext', 'resnet' or 'dinat'.

    Raises:
        ValueError: None of the families' marker keys is present.
    """
    keys = set(sd)
    if 'patch_embed.proj.weight' in keys:
        return 'swin'
    if 'downsample_layers.0.0.weight' in keys:
        return 'convnext'
    if 'stem.conv1.weight' in keys:
        return 'resnet'
    if 'patch_embed.proj.0.weight' in keys or any(k.startswith('levels.') for k in keys):
        return 'dinat'
    raise ValueError(f'unknown backbone: none of patch_embed.proj.weight (Swin), downsample_layers.0.0.weight '
                     f'(ConvNeXt), stem.conv1.weight (ResNet), patch_embed.proj.0.weight (DiNAT) in backbone keys '
                     f'{sorted(keys)[:8]}...')
