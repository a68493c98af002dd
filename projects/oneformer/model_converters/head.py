"""Key mapping of everything but the backbone: pixel decoder, transformer decoder, task MLP, text branch, criterion.

One table does the real work, :data:`OFFICIAL_TO_OURS` (official detectron2 OneFormer names -> ours). HF
``OneFormerModel`` names are first renamed to the official ones by :data:`HF_TO_OFFICIAL` (the inverse of what
transformers' ``convert_to_hf_oneformer.py`` did), so an HF checkpoint goes HF -> official -> ours, exactly as the
backbone converters in :mod:`.backbones` do.

Official module tree (SHI-Labs/OneFormer ``oneformer/oneformer_model.py``, ``modeling/meta_arch/oneformer_head.py``,
``modeling/pixel_decoder/msdeformattn.py``, ``modeling/transformer_decoder/oneformer_transformer_decoder.py``):
``sem_seg_head.pixel_decoder.*``, ``sem_seg_head.predictor.*``, ``task_mlp.*`` and, for training,
``text_encoder.*``, ``text_projector.*``, ``prompt_ctx.*``, ``criterion.*``.
"""
import re
from collections import OrderedDict

from .common import Conversion, RenameRules, StateDict, fuse_qkv

# ------------------------------------------------------------------------------------------------ our key prefixes
OUR_HEAD = 'panoptic_head.'
OUR_PIXEL_DECODER = OUR_HEAD + 'pixel_decoder.'
OUR_QUERY_TRANSFORMER = OUR_HEAD + 'query_transformer.'
OUR_DECODER_LAYER = OUR_HEAD + r'transformer_decoder.layers.\1.'
OUR_TEXT_MAPPER = OUR_HEAD + 'text_mapper.'

# -------------------------------------------------------------------------------------------- regex building blocks
PARAM = r'(weight|bias)'
# nn.MultiheadAttention parameters (packed q/k/v input projection)
MHA_PARAM = r'(in_proj_weight|in_proj_bias|out_proj\.weight|out_proj\.bias)'
LAYER = r'(\d+)'

OFFICIAL_PIXEL_DECODER = r'sem_seg_head\.pixel_decoder\.'
OFFICIAL_PREDICTOR = r'sem_seg_head\.predictor\.'
OFFICIAL_ENCODER_LAYER = OFFICIAL_PIXEL_DECODER + r'transformer\.encoder\.layers\.' + LAYER + r'\.'
OFFICIAL_QUERY_LAYER = OFFICIAL_PREDICTOR + r'class_transformer\.decoder\.layers\.' + LAYER + r'\.'
OFFICIAL_TEXT_BLOCK = r'text_encoder\.transformer\.resblocks\.' + LAYER + r'\.'
MSDEFORM_PROJ = r'(sampling_offsets|attention_weights|value_proj|output_proj)'


def _mask_embed(m: re.Match) -> str:
    """Official ``MLP.layers.{0,1,2}`` -> our ``Sequential(Linear, ReLU, Linear, ReLU, Linear)`` indices 0, 2, 4."""
    return f'{OUR_HEAD}mask_embed.{2 * int(m.group(1))}.{m.group(2)}'


def _query_layer_norm(m: re.Match) -> str:
    """DETR decoder layer ``norm1/2/3`` (after self-attn / cross-attn / FFN) -> mmdet ``norms.0/1/2``."""
    return f'{OUR_QUERY_TRANSFORMER}decoder.layers.{m.group(1)}.norms.{int(m.group(2)) - 1}.{m.group(3)}'


#: Official name -> ours, for every non-backbone tensor of an official checkpoint (``None`` drops it on purpose).
OFFICIAL_TO_OURS = [
    # ---- pixel decoder (MSDeformAttnPixelDecoder): input projections of res5, res4, res3 (index 0 = res5)
    (OFFICIAL_PIXEL_DECODER + r'input_proj\.' + LAYER + r'\.0\.' + PARAM,
     OUR_PIXEL_DECODER + r'input_convs.\1.conv.\2'),
    (OFFICIAL_PIXEL_DECODER + r'input_proj\.' + LAYER + r'\.1\.' + PARAM,
     OUR_PIXEL_DECODER + r'input_convs.\1.gn.\2'),
    (OFFICIAL_PIXEL_DECODER + r'transformer\.level_embed', OUR_PIXEL_DECODER + 'level_encoding.weight'),
    # deformable encoder layer: self-attn -> add -> norm1 -> FFN (linear1, linear2) -> add -> norm2
    (OFFICIAL_ENCODER_LAYER + r'self_attn\.' + MSDEFORM_PROJ + r'\.' + PARAM,
     OUR_PIXEL_DECODER + r'encoder.layers.\1.self_attn.\2.\3'),
    (OFFICIAL_ENCODER_LAYER + r'norm1\.' + PARAM, OUR_PIXEL_DECODER + r'encoder.layers.\1.norms.0.\2'),
    (OFFICIAL_ENCODER_LAYER + r'norm2\.' + PARAM, OUR_PIXEL_DECODER + r'encoder.layers.\1.norms.1.\2'),
    (OFFICIAL_ENCODER_LAYER + r'linear1\.' + PARAM, OUR_PIXEL_DECODER + r'encoder.layers.\1.ffn.layers.0.0.\2'),
    (OFFICIAL_ENCODER_LAYER + r'linear2\.' + PARAM, OUR_PIXEL_DECODER + r'encoder.layers.\1.ffn.layers.1.\2'),
    # 1/4 level: lateral 1x1 conv (adapter_1) + output 3x3 conv (layer_1), both conv without bias + GN
    (OFFICIAL_PIXEL_DECODER + r'mask_features\.' + PARAM, OUR_PIXEL_DECODER + r'mask_feature.\1'),
    (OFFICIAL_PIXEL_DECODER + r'adapter_1\.weight', OUR_PIXEL_DECODER + 'lateral_convs.0.conv.weight'),
    (OFFICIAL_PIXEL_DECODER + r'adapter_1\.norm\.' + PARAM, OUR_PIXEL_DECODER + r'lateral_convs.0.gn.\1'),
    (OFFICIAL_PIXEL_DECODER + r'layer_1\.weight', OUR_PIXEL_DECODER + 'output_convs.0.conv.weight'),
    (OFFICIAL_PIXEL_DECODER + r'layer_1\.norm\.' + PARAM, OUR_PIXEL_DECODER + r'output_convs.0.gn.\1'),

    # ---- predictor (ContrastiveMultiScaleMaskedTransformerDecoder)
    (OFFICIAL_PREDICTOR + r'query_embed\.weight', OUR_HEAD + 'query_embed.weight'),
    (OFFICIAL_PREDICTOR + r'level_embed\.weight', OUR_HEAD + 'level_embed.weight'),
    (OFFICIAL_PREDICTOR + r'class_input_proj\.' + PARAM, OUR_QUERY_TRANSFORMER + r'input_proj.\1'),
    (OFFICIAL_PREDICTOR + r'class_embed\.' + PARAM, OUR_HEAD + r'cls_embed.\1'),
    (OFFICIAL_PREDICTOR + r'mask_embed\.layers\.(\d)\.' + PARAM, _mask_embed),
    (OFFICIAL_PREDICTOR + r'decoder_norm\.' + PARAM, OUR_HEAD + r'transformer_decoder.post_norm.\1'),
    # query transformer (DETR decoder, CLASS_DEC_LAYERS layers): self-attn, cross-attn ("multihead_attn"), FFN
    (OFFICIAL_QUERY_LAYER + r'self_attn\.' + MHA_PARAM,
     OUR_QUERY_TRANSFORMER + r'decoder.layers.\1.self_attn.attn.\2'),
    (OFFICIAL_QUERY_LAYER + r'multihead_attn\.' + MHA_PARAM,
     OUR_QUERY_TRANSFORMER + r'decoder.layers.\1.cross_attn.attn.\2'),
    (OFFICIAL_QUERY_LAYER + r'linear1\.' + PARAM, OUR_QUERY_TRANSFORMER + r'decoder.layers.\1.ffn.layers.0.0.\2'),
    (OFFICIAL_QUERY_LAYER + r'linear2\.' + PARAM, OUR_QUERY_TRANSFORMER + r'decoder.layers.\1.ffn.layers.1.\2'),
    (OFFICIAL_QUERY_LAYER + r'norm([123])\.' + PARAM, _query_layer_norm),
    (OFFICIAL_PREDICTOR + r'class_transformer\.decoder\.norm\.' + PARAM,
     OUR_QUERY_TRANSFORMER + r'decoder.post_norm.\1'),
    # masked-attention decoder: official keeps three lists of sub-layers, mmdet one layer with norms
    # 0 (cross-attn), 1 (self-attn), 2 (FFN)
    (OFFICIAL_PREDICTOR + r'transformer_cross_attention_layers\.' + LAYER + r'\.multihead_attn\.' + MHA_PARAM,
     OUR_DECODER_LAYER + r'cross_attn.attn.\2'),
    (OFFICIAL_PREDICTOR + r'transformer_cross_attention_layers\.' + LAYER + r'\.norm\.' + PARAM,
     OUR_DECODER_LAYER + r'norms.0.\2'),
    (OFFICIAL_PREDICTOR + r'transformer_self_attention_layers\.' + LAYER + r'\.self_attn\.' + MHA_PARAM,
     OUR_DECODER_LAYER + r'self_attn.attn.\2'),
    (OFFICIAL_PREDICTOR + r'transformer_self_attention_layers\.' + LAYER + r'\.norm\.' + PARAM,
     OUR_DECODER_LAYER + r'norms.1.\2'),
    (OFFICIAL_PREDICTOR + r'transformer_ffn_layers\.' + LAYER + r'\.linear1\.' + PARAM,
     OUR_DECODER_LAYER + r'ffn.layers.0.0.\2'),
    (OFFICIAL_PREDICTOR + r'transformer_ffn_layers\.' + LAYER + r'\.linear2\.' + PARAM,
     OUR_DECODER_LAYER + r'ffn.layers.1.\2'),
    (OFFICIAL_PREDICTOR + r'transformer_ffn_layers\.' + LAYER + r'\.norm\.' + PARAM, OUR_DECODER_LAYER + r'norms.2.\2'),

    # ---- task MLP (77 token ids -> hidden), text mapper (training only; our module keeps the official names)
    (r'task_mlp\.layers\.(\d)\.' + PARAM, OUR_HEAD + r'task_encoder.task_mlp.layers.\1.\2'),
    (r'text_encoder\.(positional_embedding|token_embedding\.weight|ln_final\.(?:weight|bias))',
     OUR_TEXT_MAPPER + r'text_encoder.\1'),
    (OFFICIAL_TEXT_BLOCK + r'attn\.' + MHA_PARAM, OUR_TEXT_MAPPER + r'text_encoder.transformer.resblocks.\1.attn.\2'),
    (OFFICIAL_TEXT_BLOCK + r'(ln_1|ln_2|mlp\.c_fc|mlp\.c_proj)\.' + PARAM,
     OUR_TEXT_MAPPER + r'text_encoder.transformer.resblocks.\1.\2.\3'),
    (r'text_projector\.layers\.(\d)\.' + PARAM, OUR_TEXT_MAPPER + r'text_projector.layers.\1.\2'),
    (r'prompt_ctx\.weight', OUR_TEXT_MAPPER + 'prompt_ctx.weight'),

    # ---- criterion (SetCriterion module state) and input normalisation buffers
    (r'criterion\.logit_scale', OUR_HEAD + 'loss_contrastive.logit_scale'),
    (r'criterion\.empty_weight', None),
    (r'pixel_(mean|std)', None),
]
DROP_REASONS = {
    r'criterion\.empty_weight': 'CE class weights [1]*K + [no_object_weight], rebuilt from the config',
    r'pixel_(mean|std)': 'input normalisation lives in the data_preprocessor config',
}
OFFICIAL_HEAD_RULES = RenameRules(OFFICIAL_TO_OURS, drop_reasons=DROP_REASONS)

# --------------------------------------------------------------------------------------------------------- HF names
# transformers' OneFormerModel (prefix ``model.`` stripped): pixel_level_module.decoder = the pixel decoder,
# transformer_module = the predictor, task_encoder / text_mapper = task MLP / text branch.
HF_PIXEL_DECODER = r'pixel_level_module\.decoder\.'
HF_PREDICTOR = r'transformer_module\.'
HF_ENCODER_LAYER = HF_PIXEL_DECODER + r'encoder\.layers\.' + LAYER + r'\.'
HF_DECODER_LAYER = HF_PREDICTOR + r'decoder\.layers\.' + LAYER + r'\.'
HF_QUERY_LAYER = HF_PREDICTOR + r'decoder\.query_transformer\.decoder\.layers\.' + LAYER + r'\.'
HF_TEXT_LAYER = r'text_mapper\.text_encoder\.transformer\.layers\.' + LAYER + r'\.'
# the masked decoder's self-attention is split into q/k/v Linear layers by HF: fused before renaming
HF_SPLIT_SELF_ATTN = r'(' + HF_DECODER_LAYER.replace(LAYER, r'\d+') + r'self_attn\.self_attn)'

# official names written by HF_TO_OFFICIAL (plain strings: they are replacement templates)
TO_PIXEL_DECODER = 'sem_seg_head.pixel_decoder.'
TO_PREDICTOR = 'sem_seg_head.predictor.'
TO_ENCODER_LAYER = TO_PIXEL_DECODER + r'transformer.encoder.layers.\1.'
#: HF name -> official name (transformers 4.x hub names; 5.x ``mlp.fc1`` spelling of the encoder FFN too).
HF_TO_OFFICIAL = [
    (HF_PIXEL_DECODER + r'input_projections\.' + LAYER + r'\.([01])\.' + PARAM,
     TO_PIXEL_DECODER + r'input_proj.\1.\2.\3'),
    (HF_PIXEL_DECODER + r'level_embed', TO_PIXEL_DECODER + 'transformer.level_embed'),
    (HF_ENCODER_LAYER + r'self_attn\.' + MSDEFORM_PROJ + r'\.' + PARAM, TO_ENCODER_LAYER + r'self_attn.\2.\3'),
    (HF_ENCODER_LAYER + r'self_attn_layer_norm\.' + PARAM, TO_ENCODER_LAYER + r'norm1.\2'),
    (HF_ENCODER_LAYER + r'(?:mlp\.)?fc1\.' + PARAM, TO_ENCODER_LAYER + r'linear1.\2'),
    (HF_ENCODER_LAYER + r'(?:mlp\.)?fc2\.' + PARAM, TO_ENCODER_LAYER + r'linear2.\2'),
    (HF_ENCODER_LAYER + r'final_layer_norm\.' + PARAM, TO_ENCODER_LAYER + r'norm2.\2'),
    (HF_PIXEL_DECODER + r'mask_projection\.' + PARAM, TO_PIXEL_DECODER + r'mask_features.\1'),
    (HF_PIXEL_DECODER + r'adapter_1\.0\.weight', TO_PIXEL_DECODER + 'adapter_1.weight'),
    (HF_PIXEL_DECODER + r'adapter_1\.1\.' + PARAM, TO_PIXEL_DECODER + r'adapter_1.norm.\1'),
    (HF_PIXEL_DECODER + r'layer_1\.0\.weight', TO_PIXEL_DECODER + 'layer_1.weight'),
    (HF_PIXEL_DECODER + r'layer_1\.1\.' + PARAM, TO_PIXEL_DECODER + r'layer_1.norm.\1'),

    (HF_PREDICTOR + r'queries_embedder\.weight', TO_PREDICTOR + 'query_embed.weight'),
    (HF_PREDICTOR + r'level_embed\.weight', TO_PREDICTOR + 'level_embed.weight'),
    (HF_PREDICTOR + r'decoder\.decoder_norm\.' + PARAM, TO_PREDICTOR + r'decoder_norm.\1'),
    (HF_PREDICTOR + r'decoder\.query_input_projection\.' + PARAM, TO_PREDICTOR + r'class_input_proj.\1'),
    (HF_PREDICTOR + r'decoder\.class_embed\.' + PARAM, TO_PREDICTOR + r'class_embed.\1'),
    (HF_PREDICTOR + r'decoder\.mask_embed\.layers\.(\d)\.0\.' + PARAM, TO_PREDICTOR + r'mask_embed.layers.\1.\2'),
    (HF_QUERY_LAYER + r'(self_attn|multihead_attn)\.' + MHA_PARAM,
     TO_PREDICTOR + r'class_transformer.decoder.layers.\1.\2.\3'),
    (HF_QUERY_LAYER + r'(linear1|linear2|norm1|norm2|norm3)\.' + PARAM,
     TO_PREDICTOR + r'class_transformer.decoder.layers.\1.\2.\3'),
    (HF_PREDICTOR + r'decoder\.query_transformer\.decoder\.norm\.' + PARAM,
     TO_PREDICTOR + r'class_transformer.decoder.norm.\1'),
    (HF_DECODER_LAYER + r'cross_attn\.multihead_attn\.' + MHA_PARAM,
     TO_PREDICTOR + r'transformer_cross_attention_layers.\1.multihead_attn.\2'),
    (HF_DECODER_LAYER + r'cross_attn\.norm\.' + PARAM, TO_PREDICTOR + r'transformer_cross_attention_layers.\1.norm.\2'),
    (HF_DECODER_LAYER + r'self_attn\.self_attn\.' + MHA_PARAM,
     TO_PREDICTOR + r'transformer_self_attention_layers.\1.self_attn.\2'),
    (HF_DECODER_LAYER + r'self_attn\.norm\.' + PARAM, TO_PREDICTOR + r'transformer_self_attention_layers.\1.norm.\2'),
    (HF_DECODER_LAYER + r'ffn\.(linear1|linear2|norm)\.' + PARAM, TO_PREDICTOR + r'transformer_ffn_layers.\1.\2.\3'),

    (r'task_encoder\.task_mlp\.layers\.(\d)\.0\.' + PARAM, r'task_mlp.layers.\1.\2'),
    (r'text_mapper\.text_encoder\.(positional_embedding|token_embedding\.weight|ln_final\.(?:weight|bias))',
     r'text_encoder.\1'),
    (HF_TEXT_LAYER + r'self_attn\.' + MHA_PARAM, r'text_encoder.transformer.resblocks.\1.attn.\2'),
    (HF_TEXT_LAYER + r'layer_norm1\.' + PARAM, r'text_encoder.transformer.resblocks.\1.ln_1.\2'),
    (HF_TEXT_LAYER + r'layer_norm2\.' + PARAM, r'text_encoder.transformer.resblocks.\1.ln_2.\2'),
    (HF_TEXT_LAYER + r'mlp\.fc1\.' + PARAM, r'text_encoder.transformer.resblocks.\1.mlp.c_fc.\2'),
    (HF_TEXT_LAYER + r'mlp\.fc2\.' + PARAM, r'text_encoder.transformer.resblocks.\1.mlp.c_proj.\2'),
    (r'text_mapper\.text_projector\.layers\.(\d)\.0\.' + PARAM, r'text_projector.layers.\1.\2'),
    (r'text_mapper\.prompt_ctx\.weight', 'prompt_ctx.weight'),
    (r'criterion\.(logit_scale|empty_weight)', r'criterion.\1'),
]
HF_HEAD_RULES = RenameRules(HF_TO_OFFICIAL)


def official_head_to_mm(sd: StateDict, prefix: str = '') -> Conversion:
    """Rename the non-backbone tensors of an official checkpoint to ours.

    Args:
        sd (dict): Official state dict without the ``backbone.*`` entries.
        prefix (str): Prepended to the source keys named in the report.

    Returns:
        Conversion: Our tensors, the source keys no rule knows, and notes on the keys dropped on purpose.
    """
    return OFFICIAL_HEAD_RULES.apply(sd, prefix)


def hf_head_to_official(sd: StateDict, prefix: str = 'model.') -> Conversion:
    """Rename the non-backbone tensors of an HF ``OneFormerModel`` (``model.`` prefix removed) to official names.

    The masked decoder's self-attention q/k/v projections are concatenated into the ``in_proj`` tensors of
    ``nn.MultiheadAttention`` first (HF splits them at rows 0:C, C:2C, 2C:3C).

    Args:
        sd (dict): HF state dict without the backbone entries.
        prefix (str): Prepended to the HF keys named in the report (``criterion.*`` keys live outside ``model.``
            and are reported as they are).

    Returns:
        Conversion: Tensors under official names plus the HF keys no rule knows.
    """
    sd = fuse_qkv(OrderedDict(sd), HF_SPLIT_SELF_ATTN, ('q_proj', 'k_proj', 'v_proj'), '{prefix}.in_proj_{param}')
    out = HF_HEAD_RULES.apply(sd)
    out.unconsumed = [k if k.startswith('criterion.') else prefix + k for k in out.unconsumed]
    return out


def hf_head_to_mm(sd: StateDict) -> Conversion:
    """HF -> official -> ours for the non-backbone tensors (see :func:`hf_head_to_official`)."""
    official = hf_head_to_official(sd)
    out = official_head_to_mm(official.state_dict)
    if out.unconsumed:  # every name HF_TO_OFFICIAL writes must be one OFFICIAL_TO_OURS reads
        raise KeyError(f'internal error: official names produced from HF keys but unknown to the official table: '
                       f'{out.unconsumed[:5]}')
    out.unconsumed = official.unconsumed
    out.notes = official.notes + out.notes
    return out
