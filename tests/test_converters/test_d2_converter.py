"""detectron2 OneFormer checkpoints -> our layout, on synthetic checkpoints with the official names (tiny sizes).

Every source tensor is filled with its own constant, so we can see where each one lands; the converted state dict
must load into our model (built with the same sizes) with strict=True.
"""
import importlib.util
import json
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope

from oneformer.model_converters import convert_d2_checkpoint
from oneformer.testing import tiny_model_cfg

from ..conftest import REPO
from .official_names import (
    convnext_pairs,
    dinat_pairs,
    head_pairs,
    official_swin_relative_position_index,
    resnet18_pairs,
    swin_pairs,
)

SWIN_DEPTHS, CONVNEXT_DEPTHS, DINAT_DEPTHS = (1, 1, 2, 1), (1, 1, 2, 1), (1, 1, 2, 1)
BACKBONES = {
    'resnet': (None, resnet18_pairs),
    'swin': (dict(type='SwinTransformer', embed_dims=16, depths=SWIN_DEPTHS, num_heads=(1, 2, 2, 4), window_size=3,
                  out_indices=(0, 1, 2, 3), convert_weights=False), lambda: swin_pairs(SWIN_DEPTHS)),
    'convnext': (dict(type='mmpretrain.ConvNeXt', arch=dict(depths=CONVNEXT_DEPTHS, channels=[16, 32, 64, 128]),
                      out_indices=(0, 1, 2, 3), gap_before_final_norm=False), lambda: convnext_pairs(CONVNEXT_DEPTHS)),
    'dinat': (dict(type='DiNAT', embed_dim=16, depths=DINAT_DEPTHS, num_heads=(1, 2, 2, 4), kernel_size=3,
                   dilations=((1, ), (2, ), (1, 2), (1, )), mlp_ratio=2.0, layer_scale=False),
              lambda: dinat_pairs(DINAT_DEPTHS)),
}


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, 'tools', 'model_converters', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _model(backbone):
    init_default_scope('mmdet')
    cfg = tiny_model_cfg()  # ResNet-18/16, hidden 32, 12 queries, 5 classes, 1 encoder / 2 decoder layers
    if backbone is not None:
        cfg.backbone = backbone
        cfg.panoptic_head.in_channels = [16, 32, 64, 128]
    return MODELS.build(cfg)


def _official(kind):
    """(checkpoint, [(source key, target key, fill value)]) with shapes taken from our model's target tensors."""
    backbone, bb_pairs = BACKBONES[kind]
    model = _model(backbone)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    pairs = bb_pairs() + head_pairs(enc_layers=1, dec_layers=2, qt_layers=2, text_layers=1)
    sd, table = {}, []
    for i, (src, dst) in enumerate(pairs):
        assert src not in sd, f'duplicate source key {src} in the test table'
        sd[src] = torch.full(shapes[dst], float(i + 1))
        table.append((src, dst, float(i + 1)))
    if kind == 'swin':
        for k in [s for s, _ in pairs if s.endswith('relative_position_bias_table')]:
            sd[k.replace('bias_table', 'index')] = official_swin_relative_position_index(3)
    sd['criterion.empty_weight'] = torch.ones(6)
    return dict(model=sd, iteration=10), table, model


@pytest.mark.parametrize('kind', ['resnet', 'swin', 'convnext', 'dinat'])
def test_every_official_tensor_lands_on_its_key_and_loads_strictly(kind):
    if kind == 'dinat' and 'DiNAT' not in MODELS.module_dict:
        pytest.skip('DiNAT is not registered by `import oneformer` (oneformer.models does not import backbones)')
    ckpt, table, model = _official(kind)
    conv, detected = convert_d2_checkpoint(ckpt)
    assert detected == kind
    assert conv.unconsumed == []
    assert [n.split(':')[0] for n in conv.notes] == ['criterion.empty_weight']
    sd = conv.state_dict
    for src, dst, value in table:
        assert dst in sd, f'{src} should reach {dst}'
        # constants survive any reordering (Swin PatchMerging channels), so this checks the placement only
        assert torch.all(sd[dst] == value), f'{dst} does not hold {src}'
    # nothing else was invented, except the derived buffers
    derived = set(sd) - {dst for _, dst, _ in table}
    expected_derived = {k for k in model.state_dict() if k.endswith(('relative_position_index', 'num_batches_tracked'))}
    assert derived == expected_derived
    result = model.load_state_dict(sd, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_swin_relative_position_index_is_checked_against_the_source():
    ckpt, _, _ = _official('swin')
    key = 'backbone.layers.0.blocks.0.attn.relative_position_index'
    ckpt['model'][key] = ckpt['model'][key].flip(0)
    with pytest.raises(ValueError, match='relative_position_index'):
        convert_d2_checkpoint(ckpt)


def test_cli_reports_unknown_keys_and_strict_fails(tmp_path, capsys):
    ckpt, _, model = _official('resnet')
    ckpt['model']['sem_seg_head.predictor.static_query.weight'] = torch.zeros(12, 32)
    src = tmp_path / 'official.pth'
    torch.save(ckpt, src)
    tool = _tool('oneformer_d2_to_mm')
    assert tool.main([str(src), str(tmp_path / 'strict.pth'), '--strict']) == 1
    assert not (tmp_path / 'strict.pth').exists()
    assert 'sem_seg_head.predictor.static_query.weight' in capsys.readouterr().out

    assert tool.main([str(src), str(tmp_path / 'out.pth')]) == 0
    out = capsys.readouterr().out
    assert 'NOT converted' in out and 'sem_seg_head.predictor.static_query.weight' in out
    saved = torch.load(tmp_path / 'out.pth', weights_only=True)
    model.load_state_dict(saved['state_dict'], strict=True)


def test_class_info_moves_thing_classes_first(tmp_path):
    ckpt, table, model = _official('resnet')
    # source order: stuff, thing, stuff, thing, thing (as in Cityscapes / ADE20K, things are not first)
    info = {str(i): dict(name=n, isthing=t) for i, (n, t) in
            enumerate([('road', 0), ('person', 1), ('sky', 0), ('car', 1), ('bus', 1)])}
    w = torch.arange(6, dtype=torch.float)[:, None].expand(6, 32).clone()
    ckpt['model']['sem_seg_head.predictor.class_embed.weight'] = w
    ckpt['model']['sem_seg_head.predictor.class_embed.bias'] = torch.arange(6, dtype=torch.float)
    src, dst, info_file = tmp_path / 'official.pth', tmp_path / 'out.pth', tmp_path / 'classes.json'
    torch.save(ckpt, src)
    info_file.write_text(json.dumps(info))
    assert _tool('oneformer_d2_to_mm').main([str(src), str(dst), '--class-info', str(info_file)]) == 0
    saved = torch.load(dst, weights_only=True)
    meta = saved['meta']['dataset_meta']
    assert meta['classes'] == ('person', 'car', 'bus', 'road', 'sky')
    assert meta['thing_classes'] == ('person', 'car', 'bus') and meta['stuff_classes'] == ('road', 'sky')
    assert meta['source_class_ids'] == [1, 3, 4, 0, 2]
    order = [1, 3, 4, 0, 2, 5]  # "no object" stays last
    assert saved['state_dict']['panoptic_head.cls_embed.bias'].tolist() == order
    assert saved['state_dict']['panoptic_head.cls_embed.weight'][:, 0].tolist() == order


def test_numpy_arrays_and_legacy_head_names_are_read():
    """detectron2 model-zoo pickles hold numpy arrays; pre-v2 heads keep the pixel decoder under sem_seg_head."""
    ckpt, _, _ = _official('resnet')
    ref = convert_d2_checkpoint(ckpt)[0].state_dict
    legacy = {k.replace('sem_seg_head.pixel_decoder.', 'sem_seg_head.'): v.numpy() for k, v in ckpt['model'].items()}
    conv, _ = convert_d2_checkpoint(dict(model=legacy))
    assert conv.unconsumed == [] and any('legacy name' in n for n in conv.notes)
    assert conv.state_dict.keys() == ref.keys() and all(torch.equal(conv.state_dict[k], ref[k]) for k in ref)


def test_bad_input_is_named():
    # DiNAT is supported now (test_d2_config.py converts whole DiNAT checkpoints): a key it lacks is reported
    conv, kind = convert_d2_checkpoint(dict(model={'backbone.levels.0.blocks.0.attn.qkv.weight': torch.zeros(1),
                                                   'backbone.levels.0.blocks.0.attn.relative_bias': torch.zeros(1)}))
    assert kind == 'dinat' and conv.unconsumed == ['backbone.levels.0.blocks.0.attn.relative_bias']
    with pytest.raises(ValueError, match="model\\['x'\\]"):
        convert_d2_checkpoint(dict(model={'backbone.stem.conv1.weight': torch.zeros(1), 'x': 'text'}))
    with pytest.raises(ValueError, match='unknown backbone'):
        convert_d2_checkpoint(dict(model={'backbone.foo.weight': torch.zeros(1)}))
