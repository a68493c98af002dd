"""The HF -> official stage of the HF converter, held to the independent official name tables of
``official_names.py``; and HF DiNAT checkpoints (transformers ``DinatBackbone`` names), which transformers cannot
instantiate without NATTEN, so their HF-named tensors are written here from our DiNAT's."""
import json
from collections import OrderedDict

import pytest
import torch
from mmdet.registry import MODELS

from oneformer.model_converters import convert_hf_dir, convert_hf_state_dict, hf_head_to_official
from oneformer.testing.hf_models import HF_STAGES, build_converted, make_hf_model

from .official_names import dinat_hf_pairs, head_pairs

DEPTHS = (1, 1, 2, 1)
CHANNELS = [16, 32, 64, 128]


def _head(sd):
    """HF state dict without the task prefix and the backbone."""
    sd = OrderedDict((k[len('model.'):] if k.startswith('model.') else k, v) for k, v in sd.items())
    return OrderedDict((k, v) for k, v in sd.items() if not k.startswith('pixel_level_module.encoder.'))


def test_hf_head_names_reach_exactly_the_official_names():
    """Every non-backbone tensor of an HF training model gets the official name of the same tensor (the official
    table of the spec, written independently of the converter); q/k/v of the masked decoder's self-attention are
    fused in that order."""
    hf = make_hf_model('resnet', hidden_dim=64, conv_dim=64, mask_dim=64, text_encoder_width=64,
                       text_encoder_num_layers=2, is_training=True)
    head = _head(hf.state_dict())
    official = hf_head_to_official(head)
    assert official.unconsumed == []
    expected = {src for src, _ in head_pairs(enc_layers=2, dec_layers=3, qt_layers=2, text_layers=2)}
    assert set(official.state_dict) == expected | {'criterion.empty_weight'}
    for layer in range(3):
        hf_attn = f'transformer_module.decoder.layers.{layer}.self_attn.self_attn'
        fused = official.state_dict[f'sem_seg_head.predictor.transformer_self_attention_layers.{layer}.self_attn.'
                                    'in_proj_weight']
        assert torch.equal(fused, torch.cat([head[f'{hf_attn}.{n}_proj.weight'] for n in 'qkv']))
    assert torch.equal(official.state_dict['sem_seg_head.pixel_decoder.mask_features.weight'],
                       head['pixel_level_module.decoder.mask_projection.weight'])


def test_unknown_hf_head_key_is_reported_with_its_hf_name():
    sd = make_hf_model('resnet').state_dict()
    sd['model.transformer_module.decoder.extra_norm.weight'] = torch.zeros(1)
    conv = convert_hf_state_dict(sd, 'resnet', with_text=False)
    assert conv.unconsumed == ['model.transformer_module.decoder.extra_norm.weight']


# ------------------------------------------------------------------------------------------------------------ DiNAT
def _require_dinat():
    import oneformer  # noqa: F401
    if 'DiNAT' not in MODELS.module_dict:
        pytest.skip('DiNAT is not registered by `import oneformer` (oneformer.models does not import backbones)')


def _our_dinat(layer_scale):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='DiNAT', embed_dim=16, depths=DEPTHS, num_heads=(1, 2, 2, 4), kernel_size=3,
                              dilations=((1, ), (2, ), (1, 2), (1, )), mlp_ratio=2.0, layer_scale=layer_scale))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    return model


def _hf_dinat_state_dict(dinat):
    """Our DiNAT's tensors under transformers' ``DinatBackbone`` names (q/k/v split, layer scale stacked)."""
    ours = dinat.state_dict()
    pairs, qkv = dinat_hf_pairs(DEPTHS)
    sd = OrderedDict((hf, ours[official].clone()) for hf, official in pairs)
    for hf, official in qkv:
        for param in ('weight', 'bias'):
            for name, rows in zip(('query', 'key', 'value'), ours[f'{official}.{param}'].chunk(3)):
                sd[f'{hf}.{name}.{param}'] = rows.clone()
    for key in [k for k in ours if k.endswith('.gamma1')]:
        block = key[:-len('.gamma1')]
        s, b = block.split('.')[1], block.split('.')[3]
        sd[f'encoder.levels.{s}.layers.{b}.layer_scale_parameters'] = torch.stack([ours[key],
                                                                                   ours[f'{block}.gamma2']])
    return sd


@pytest.mark.parametrize('layer_scale', [False, 1e-5], ids=['no-layer-scale', 'layer-scale'])
def test_hf_dinat_backbone_tensors_reach_our_dinat(layer_scale):
    _require_dinat()
    dinat = _our_dinat(layer_scale)
    hf_backbone = _hf_dinat_state_dict(dinat)
    assert len(hf_backbone) > len(dinat.state_dict())  # q/k/v really are separate tensors
    head = make_hf_model('resnet').state_dict()
    sd = OrderedDict((k, v) for k, v in head.items() if not k.startswith('model.pixel_level_module.encoder.'))
    sd.update(('model.pixel_level_module.encoder.' + k, v) for k, v in hf_backbone.items())
    conv = convert_hf_state_dict(sd, 'dinat', with_text=False)
    assert conv.unconsumed == []
    backbone = {k[len('backbone.'):]: v for k, v in conv.state_dict.items() if k.startswith('backbone.')}
    ours = dinat.state_dict()
    assert backbone.keys() == ours.keys()
    assert all(torch.equal(backbone[k], ours[k]) for k in ours)


def test_hf_dinat_checkpoint_converts_to_a_config_that_loads_it(tmp_path):
    """A saved HF OneFormer with a DiNAT backbone (config.json + safetensors, written without NATTEN): the written
    config builds our DiNAT with the HF sizes and loads everything strictly."""
    _require_dinat()
    from safetensors.torch import save_file
    from transformers import DinatConfig, ResNetConfig
    # an HF model whose pixel decoder takes the DiNAT's channels (a ResNet of the same widths stands in for it)
    stand_in = ResNetConfig(embedding_size=8, hidden_sizes=CHANNELS, depths=[1, 1, 1, 1], layer_type='basic',
                            out_features=HF_STAGES)
    hf = make_hf_model('resnet', backbone_config=stand_in)
    sd = OrderedDict((k, v.contiguous()) for k, v in hf.state_dict().items()
                     if not k.startswith('model.pixel_level_module.encoder.'))
    dinat = _our_dinat(False)
    sd.update(('model.pixel_level_module.encoder.' + k, v.contiguous())
              for k, v in _hf_dinat_state_dict(dinat).items())
    config = hf.config.to_dict()
    config['backbone_config'] = DinatConfig(embed_dim=16, depths=list(DEPTHS), num_heads=[1, 2, 2, 4], kernel_size=3,
                                            dilations=[[1], [2], [1, 2], [1]], mlp_ratio=2.0, drop_path_rate=0.3,
                                            out_features=HF_STAGES).to_dict()
    hf_dir = tmp_path / 'hf'
    hf_dir.mkdir()
    (hf_dir / 'config.json').write_text(json.dumps(config))
    save_file(sd, str(hf_dir / 'model.safetensors'))

    conv = convert_hf_dir(str(hf_dir), str(tmp_path / 'mm'), strict=True)
    assert conv.unconsumed == []
    model, cfg, _ = build_converted(str(tmp_path / 'mm'))  # strict load
    bb = cfg.model.backbone
    assert bb.type == 'DiNAT' and bb.embed_dim == 16 and bb.kernel_size == 3 and bb.mlp_ratio == 2.0
    assert bb.dilations == [[1], [2], [1, 2], [1]] and bb.layer_scale is False and bb.drop_path_rate == 0.3
    assert cfg.model.panoptic_head.in_channels == CHANNELS
    ours = dinat.state_dict()
    assert all(torch.equal(model.backbone.state_dict()[k], ours[k]) for k in ours)
    with torch.no_grad():
        feats = model.backbone(torch.zeros(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == CHANNELS
