"""Official (detectron2 OneFormer) key names, written out from the spec (§6.1), each with the key it must reach in our
model. Independent of the converter's rules on purpose: these tables are what the tests hold it to."""
from typing import Dict, List, Tuple

import torch

Pairs = List[Tuple[str, str]]
WB = ('weight', 'bias')


def _wb(src: str, dst: str, params=WB) -> Pairs:
    return [(f'{src}.{p}', f'{dst}.{p}') for p in params]


def _mha(src: str, dst: str) -> Pairs:
    return [(f'{src}.in_proj_weight', f'{dst}.in_proj_weight'), (f'{src}.in_proj_bias', f'{dst}.in_proj_bias')] + \
        _wb(f'{src}.out_proj', f'{dst}.out_proj')


def head_pairs(enc_layers: int, dec_layers: int, qt_layers: int, text_layers: int = 0) -> Pairs:
    """sem_seg_head.* / task_mlp / text branch / criterion -> panoptic_head.*"""
    pd, pr, h = 'sem_seg_head.pixel_decoder', 'sem_seg_head.predictor', 'panoptic_head'
    hp = f'{h}.pixel_decoder'
    pairs = []
    for i in range(3):
        pairs += _wb(f'{pd}.input_proj.{i}.0', f'{hp}.input_convs.{i}.conv')
        pairs += _wb(f'{pd}.input_proj.{i}.1', f'{hp}.input_convs.{i}.gn')
    pairs.append((f'{pd}.transformer.level_embed', f'{hp}.level_encoding.weight'))
    for i in range(enc_layers):
        s, d = f'{pd}.transformer.encoder.layers.{i}', f'{hp}.encoder.layers.{i}'
        for name in ('sampling_offsets', 'attention_weights', 'value_proj', 'output_proj'):
            pairs += _wb(f'{s}.self_attn.{name}', f'{d}.self_attn.{name}')
        pairs += _wb(f'{s}.norm1', f'{d}.norms.0') + _wb(f'{s}.norm2', f'{d}.norms.1')
        pairs += _wb(f'{s}.linear1', f'{d}.ffn.layers.0.0') + _wb(f'{s}.linear2', f'{d}.ffn.layers.1')
    pairs += _wb(f'{pd}.mask_features', f'{hp}.mask_feature')
    pairs += [(f'{pd}.adapter_1.weight', f'{hp}.lateral_convs.0.conv.weight')]
    pairs += _wb(f'{pd}.adapter_1.norm', f'{hp}.lateral_convs.0.gn')
    pairs += [(f'{pd}.layer_1.weight', f'{hp}.output_convs.0.conv.weight')]
    pairs += _wb(f'{pd}.layer_1.norm', f'{hp}.output_convs.0.gn')

    pairs += [(f'{pr}.query_embed.weight', f'{h}.query_embed.weight'),
              (f'{pr}.level_embed.weight', f'{h}.level_embed.weight')]
    pairs += _wb(f'{pr}.class_input_proj', f'{h}.query_transformer.input_proj')
    pairs += _wb(f'{pr}.class_embed', f'{h}.cls_embed')
    for i, j in enumerate((0, 2, 4)):
        pairs += _wb(f'{pr}.mask_embed.layers.{i}', f'{h}.mask_embed.{j}')
    pairs += _wb(f'{pr}.decoder_norm', f'{h}.transformer_decoder.post_norm')
    for i in range(qt_layers):
        s, d = f'{pr}.class_transformer.decoder.layers.{i}', f'{h}.query_transformer.decoder.layers.{i}'
        pairs += _mha(f'{s}.self_attn', f'{d}.self_attn.attn') + _mha(f'{s}.multihead_attn', f'{d}.cross_attn.attn')
        pairs += _wb(f'{s}.linear1', f'{d}.ffn.layers.0.0') + _wb(f'{s}.linear2', f'{d}.ffn.layers.1')
        pairs += _wb(f'{s}.norm1', f'{d}.norms.0') + _wb(f'{s}.norm2', f'{d}.norms.1') + \
            _wb(f'{s}.norm3', f'{d}.norms.2')
    pairs += _wb(f'{pr}.class_transformer.decoder.norm', f'{h}.query_transformer.decoder.post_norm')
    for i in range(dec_layers):
        d = f'{h}.transformer_decoder.layers.{i}'
        pairs += _mha(f'{pr}.transformer_self_attention_layers.{i}.self_attn', f'{d}.self_attn.attn')
        pairs += _wb(f'{pr}.transformer_self_attention_layers.{i}.norm', f'{d}.norms.1')
        pairs += _mha(f'{pr}.transformer_cross_attention_layers.{i}.multihead_attn', f'{d}.cross_attn.attn')
        pairs += _wb(f'{pr}.transformer_cross_attention_layers.{i}.norm', f'{d}.norms.0')
        pairs += _wb(f'{pr}.transformer_ffn_layers.{i}.linear1', f'{d}.ffn.layers.0.0')
        pairs += _wb(f'{pr}.transformer_ffn_layers.{i}.linear2', f'{d}.ffn.layers.1')
        pairs += _wb(f'{pr}.transformer_ffn_layers.{i}.norm', f'{d}.norms.2')
    pairs += _wb('task_mlp.layers.0', f'{h}.task_encoder.task_mlp.layers.0')
    pairs += _wb('task_mlp.layers.1', f'{h}.task_encoder.task_mlp.layers.1')
    if text_layers:
        t = f'{h}.text_mapper'
        pairs += [('text_encoder.positional_embedding', f'{t}.text_encoder.positional_embedding'),
                  ('text_encoder.token_embedding.weight', f'{t}.text_encoder.token_embedding.weight')]
        pairs += _wb('text_encoder.ln_final', f'{t}.text_encoder.ln_final')
        for i in range(text_layers):
            s = f'text_encoder.transformer.resblocks.{i}'
            pairs += _mha(f'{s}.attn', f'{t}.{s}.attn')
            for name in ('ln_1', 'ln_2', 'mlp.c_fc', 'mlp.c_proj'):
                pairs += _wb(f'{s}.{name}', f'{t}.{s}.{name}')
        pairs += _wb('text_projector.layers.0', f'{t}.text_projector.layers.0')
        pairs += _wb('text_projector.layers.1', f'{t}.text_projector.layers.1')
        pairs += [('prompt_ctx.weight', f'{t}.prompt_ctx.weight'),
                  ('criterion.logit_scale', f'{h}.loss_contrastive.logit_scale')]
    return pairs


def swin_pairs(depths) -> Pairs:
    """Official Swin (D2SwinTransformer) -> mmdet SwinTransformer (``relative_position_index`` handled apart)."""
    pairs = _wb('backbone.patch_embed.proj', 'backbone.patch_embed.projection')
    pairs += _wb('backbone.patch_embed.norm', 'backbone.patch_embed.norm')
    for s, depth in enumerate(depths):
        for b in range(depth):
            src, dst = f'backbone.layers.{s}.blocks.{b}', f'backbone.stages.{s}.blocks.{b}'
            pairs += _wb(f'{src}.norm1', f'{dst}.norm1') + _wb(f'{src}.norm2', f'{dst}.norm2')
            pairs += _wb(f'{src}.attn.qkv', f'{dst}.attn.w_msa.qkv') + _wb(f'{src}.attn.proj', f'{dst}.attn.w_msa.proj')
            pairs += [(f'{src}.attn.relative_position_bias_table', f'{dst}.attn.w_msa.relative_position_bias_table')]
            pairs += _wb(f'{src}.mlp.fc1', f'{dst}.ffn.layers.0.0') + _wb(f'{src}.mlp.fc2', f'{dst}.ffn.layers.1')
        if s < len(depths) - 1:
            pairs += [(f'backbone.layers.{s}.downsample.reduction.weight',
                       f'backbone.stages.{s}.downsample.reduction.weight')]
            pairs += _wb(f'backbone.layers.{s}.downsample.norm', f'backbone.stages.{s}.downsample.norm')
    for i in range(4):
        pairs += _wb(f'backbone.norm{i}', f'backbone.norm{i}')
    return pairs


def official_swin_relative_position_index(window: int) -> torch.Tensor:
    """The index as the Swin paper code builds it (pairwise coordinate differences, shifted and flattened)."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing='ij')).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return rel[:, :, 0] * (2 * window - 1) + rel[:, :, 1]


def convnext_pairs(depths) -> Pairs:
    """OneFormer's D2ConvNeXt -> mmpretrain ConvNeXt."""
    pairs = []
    for i in range(4):
        pairs += _wb(f'backbone.downsample_layers.{i}.0', f'backbone.downsample_layers.{i}.0')
        pairs += _wb(f'backbone.downsample_layers.{i}.1', f'backbone.downsample_layers.{i}.1')
        pairs += _wb(f'backbone.norm{i}', f'backbone.norm{i}')
        for b in range(depths[i]):
            s, d = f'backbone.stages.{i}.{b}', f'backbone.stages.{i}.{b}'
            pairs += _wb(f'{s}.dwconv', f'{d}.depthwise_conv') + _wb(f'{s}.norm', f'{d}.norm')
            pairs += _wb(f'{s}.pwconv1', f'{d}.pointwise_conv1') + _wb(f'{s}.pwconv2', f'{d}.pointwise_conv2')
            pairs += [(f'{s}.gamma', f'{d}.gamma')]
    return pairs


def resnet18_pairs() -> Pairs:
    """detectron2 ResNet-18 (BasicBlock, FrozenBN: no num_batches_tracked) -> mmdet ResNet-18."""
    bn = ('weight', 'bias', 'running_mean', 'running_var')
    pairs = [('backbone.stem.conv1.weight', 'backbone.conv1.weight')]
    pairs += _wb('backbone.stem.conv1.norm', 'backbone.bn1', bn)
    for k in range(2, 6):
        for b in range(2):
            s, d = f'backbone.res{k}.{b}', f'backbone.layer{k - 1}.{b}'
            for j in (1, 2):
                pairs += [(f'{s}.conv{j}.weight', f'{d}.conv{j}.weight')]
                pairs += _wb(f'{s}.conv{j}.norm', f'{d}.bn{j}', bn)
            if b == 0 and k > 2:
                pairs += [(f'{s}.shortcut.weight', f'{d}.downsample.0.weight')]
                pairs += _wb(f'{s}.shortcut.norm', f'{d}.downsample.1', bn)
    return pairs


def dinat_pairs(depths) -> Pairs:
    """OneFormer's D2DiNAT (SHI-Labs/OneFormer ``oneformer/modeling/backbone/dinat.py``) -> our DiNAT: same tree."""
    names = _wb('patch_embed.proj.0', 'patch_embed.proj.0') + _wb('patch_embed.proj.1', 'patch_embed.proj.1')
    names += _wb('patch_embed.norm', 'patch_embed.norm')
    for s, depth in enumerate(depths):
        for b in range(depth):
            p = f'levels.{s}.blocks.{b}'
            for name in ('norm1', 'attn.qkv', 'attn.proj', 'norm2', 'mlp.fc1', 'mlp.fc2'):
                names += _wb(f'{p}.{name}', f'{p}.{name}')
            names.append((f'{p}.attn.rpb', f'{p}.attn.rpb'))
        if s < len(depths) - 1:
            names += [(f'levels.{s}.downsample.reduction.weight', f'levels.{s}.downsample.reduction.weight')]
            names += _wb(f'levels.{s}.downsample.norm', f'levels.{s}.downsample.norm')
    for i in range(4):
        names += _wb(f'norm{i}', f'norm{i}')
    return [(f'backbone.{src}', f'backbone.{dst}') for src, dst in names]


def dinat_hf_pairs(depths) -> Tuple[Pairs, List[Tuple[str, str]]]:
    """transformers ``DinatBackbone`` names (``models/dinat/modeling_dinat.py``) -> official D2DiNAT names.

    Returns:
        tuple: 1:1 pairs (HF key, official key), and (HF attention prefix, official qkv prefix) pairs of the
        attention layers, whose ``self.{query,key,value}`` are the row thirds of the official ``qkv``.
    """
    pairs = _wb('embeddings.patch_embeddings.projection.0', 'patch_embed.proj.0')
    pairs += _wb('embeddings.patch_embeddings.projection.1', 'patch_embed.proj.1')
    pairs += _wb('embeddings.norm', 'patch_embed.norm')
    qkv = []
    for s, depth in enumerate(depths):
        for b in range(depth):
            hf, off = f'encoder.levels.{s}.layers.{b}', f'levels.{s}.blocks.{b}'
            pairs += _wb(f'{hf}.layernorm_before', f'{off}.norm1') + _wb(f'{hf}.layernorm_after', f'{off}.norm2')
            pairs += _wb(f'{hf}.attention.output.dense', f'{off}.attn.proj')
            pairs += _wb(f'{hf}.intermediate.dense', f'{off}.mlp.fc1') + _wb(f'{hf}.output.dense', f'{off}.mlp.fc2')
            pairs.append((f'{hf}.attention.self.rpb', f'{off}.attn.rpb'))
            qkv.append((f'{hf}.attention.self', f'{off}.attn.qkv'))
        if s < len(depths) - 1:
            pairs += [(f'encoder.levels.{s}.downsample.reduction.weight', f'levels.{s}.downsample.reduction.weight')]
            pairs += _wb(f'encoder.levels.{s}.downsample.norm', f'levels.{s}.downsample.norm')
    for i in range(4):
        pairs += _wb(f'hidden_states_norms.stage{i + 1}', f'norm{i}')
    return pairs, qkv


def d2_resnet_shapes(depth: int, stem: int, res2: int, groups: int = 1, width: int = 64) -> Dict[str, tuple]:
    """Shapes of the detectron2 ResNet tensors (``backbone.*``, FrozenBN) for these ``MODEL.RESNETS`` values, by
    detectron2's ``build_resnet_backbone`` rules: stage i (res2..res5) outputs ``RES2_OUT_CHANNELS * 2**i``, a
    bottleneck's 1x1 / 3x3 convs are ``NUM_GROUPS * WIDTH_PER_GROUP * 2**i`` wide, the stem outputs
    ``STEM_OUT_CHANNELS``; a block has a projection shortcut where its input and output widths differ."""
    blocks = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}[depth]
    bottleneck = depth >= 50
    shapes = {'backbone.stem.conv1.weight': (stem, 3, 7, 7)}

    def conv(name: str, out: int, cin: int, k: int, g: int = 1) -> None:
        shapes[f'{name}.weight'] = (out, cin // g, k, k)
        for p in ('weight', 'bias', 'running_mean', 'running_var'):
            shapes[f'{name}.norm.{p}'] = (out, )

    for p in ('weight', 'bias', 'running_mean', 'running_var'):
        shapes[f'backbone.stem.conv1.norm.{p}'] = (stem, )
    cin = stem
    for i, n in enumerate(blocks):
        out, mid = res2 * 2**i, groups * width * 2**i
        for b in range(n):
            s = f'backbone.res{i + 2}.{b}'
            if bottleneck:
                conv(f'{s}.conv1', mid, cin, 1)
                conv(f'{s}.conv2', mid, mid, 3, groups)
                conv(f'{s}.conv3', out, mid, 1)
            else:
                conv(f'{s}.conv1', out, cin, 3)
                conv(f'{s}.conv2', out, out, 3)
            if cin != out:
                conv(f'{s}.shortcut', out, cin, 1)
            cin = out
    return shapes
