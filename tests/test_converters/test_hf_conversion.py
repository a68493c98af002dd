"""HF conversion details: transformers 5.x names, the text mapper, .bin checkpoints, bad input, class-info files."""
import json
import re

import pytest
import torch

from oneformer.model_converters import (
    convert_hf_dir,
    convert_hf_state_dict,
    fuse_qkv,
    load_class_info,
    load_hf_dir,
    model_cfg,
    swin_relative_position_index,
)
from oneformer.tasks import task_tokens, tokenize
from oneformer.testing.hf_models import build_converted, make_hf_model

from .official_names import official_swin_relative_position_index

# transformers 5.x in-memory Swin names (its conversion_mapping "swin" / "SwinBackbone" entries), from 4.x names
_TO_V5 = [
    (r'pixel_level_module\.encoder\.(embeddings|encoder)\.', r'pixel_level_module.encoder.swin.\1.'),
    (r'attention\.self\.query', 'attention.q_proj'), (r'attention\.self\.key', 'attention.k_proj'),
    (r'attention\.self\.value', 'attention.v_proj'), (r'attention\.output\.dense', 'attention.o_proj'),
    (r'attention\.self\.relative_position_bias_table', 'attention.relative_position_bias.relative_position_bias_table'),
    (r'blocks\.(\d+)\.intermediate\.dense', r'blocks.\1.mlp.fc1'),
    (r'blocks\.(\d+)\.output\.dense', r'blocks.\1.mlp.fc2'),
]


def _to_v5(sd):
    out = {}
    for k, v in sd.items():
        if k.endswith('relative_position_index'):
            continue  # a non-persistent buffer in 5.x
        for pattern, repl in _TO_V5:
            k = re.sub(pattern, repl, k)
        out[k] = v
    return out


def test_transformers_5_names_convert_like_4_names():
    sd = make_hf_model('swin').state_dict()
    v4 = convert_hf_state_dict(sd, 'swin', with_text=False)
    v5_sd = _to_v5(sd)
    assert any('.swin.encoder.' in k and 'q_proj' in k for k in v5_sd)
    v5 = convert_hf_state_dict(v5_sd, 'swin', with_text=False)
    assert v4.unconsumed == v5.unconsumed == []
    assert v4.state_dict.keys() == v5.state_dict.keys()
    assert all(torch.equal(v4.state_dict[k], v5.state_dict[k]) for k in v4.state_dict)


def test_text_mapper_is_converted(tmp_path):
    """A training checkpoint: our text mapper reproduces HF's text queries once our causal mask is lifted (HF's
    text encoder builds a causal mask but never applies it; ours applies it, as the official code does)."""
    hf = make_hf_model('resnet', hidden_dim=64, conv_dim=64, mask_dim=64, text_encoder_width=64,
                       text_encoder_num_layers=2, is_training=True, dropout=0.0)
    hf.save_pretrained(tmp_path / 'hf')
    convert_hf_dir(str(tmp_path / 'hf'), str(tmp_path / 'mm'), strict=True)
    model, cfg, _ = build_converted(str(tmp_path / 'mm'))
    assert cfg.model.panoptic_head.text_mapper.num_layers == 2 and cfg.model.panoptic_head.text_mapper.num_ctx == 4
    assert torch.equal(model.panoptic_head.loss_contrastive.logit_scale, hf.criterion.logit_scale.float())
    texts = tokenize(['a photo with a cat'] * 3 + ['a panoptic photo'] * 5)[None]  # 12 queries - 4 context
    with torch.no_grad():
        ref = hf(pixel_values=torch.randn(1, 3, 64, 64), task_inputs=task_tokens('panoptic')[None],
                 text_inputs=texts).text_queries
        causal = model.panoptic_head.text_mapper(texts)
        model.panoptic_head.text_mapper.text_encoder.attn_mask.zero_()
        unmasked = model.panoptic_head.text_mapper(texts)
    assert unmasked.shape == ref.shape == (1, 12, 64)
    assert torch.allclose(unmasked, ref, atol=1e-5)
    assert not torch.allclose(causal[:, :8], ref[:, :8], atol=1e-3)  # the documented, training-only difference
    assert torch.equal(causal[:, 8:], ref[:, 8:])  # the learnable context needs no encoder


def test_bin_and_sharded_checkpoints_are_read(tmp_path):
    hf = make_hf_model('convnext')
    hf.save_pretrained(tmp_path / 'st')
    hf.save_pretrained(tmp_path / 'bin', safe_serialization=False)
    hf.save_pretrained(tmp_path / 'shards', max_shard_size='200KB')
    assert (tmp_path / 'bin' / 'pytorch_model.bin').exists()
    assert (tmp_path / 'shards' / 'model.safetensors.index.json').exists()
    ref = convert_hf_dir(str(tmp_path / 'st'), str(tmp_path / 'a'), strict=True).state_dict
    for name in ('bin', 'shards'):
        sd = convert_hf_dir(str(tmp_path / name), str(tmp_path / f'out_{name}'), strict=True).state_dict
        assert sd.keys() == ref.keys() and all(torch.equal(sd[k], ref[k]) for k in ref)


def test_num_things_splits_the_first_classes_off(tmp_path):
    hf = make_hf_model('resnet')
    hf.save_pretrained(tmp_path / 'hf')
    convert_hf_dir(str(tmp_path / 'hf'), str(tmp_path / 'mm'), num_things=2)
    ckpt = torch.load(tmp_path / 'mm' / 'model.pth', weights_only=True)
    meta = ckpt['meta']['dataset_meta']
    assert meta['thing_classes'] == meta['classes'][:2] and meta['source_class_ids'] == [0, 1, 2, 3, 4]
    assert torch.equal(ckpt['state_dict']['panoptic_head.cls_embed.weight'],
                       hf.model.transformer_module.decoder.class_embed.weight)
    text = (tmp_path / 'mm' / 'config.py').read_text()
    assert 'num_things_classes=2' in text and 'num_stuff_classes=3' in text
    with pytest.raises(ValueError, match='--num-things 6'):
        convert_hf_dir(str(tmp_path / 'hf'), str(tmp_path / 'bad'), num_things=6)


def test_missing_or_foreign_hf_dir_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='config.json'):
        load_hf_dir(str(tmp_path))
    (tmp_path / 'config.json').write_text(json.dumps(dict(model_type='mask2former')))
    with pytest.raises(ValueError, match='mask2former'):
        load_hf_dir(str(tmp_path))
    (tmp_path / 'config.json').write_text(json.dumps(dict(model_type='oneformer')))
    with pytest.raises(FileNotFoundError, match='pytorch_model.bin'):
        load_hf_dir(str(tmp_path))


@pytest.mark.parametrize('change, message', [
    (dict(pre_norm=True), 'pre_norm'),
    (dict(conv_dim=64), 'conv_dim'),
    (dict(backbone_config=dict(model_type='nat')), "'nat' is not supported"),
    (dict(backbone_config=dict(model_type='dinat')), "backbone_config \\(dinat\\) has no 'embed_dim'"),
    (dict(backbone_config=dict(model_type='swin', embed_dim=16, depths=[1] * 4, num_heads=[1] * 4, window_size=3,
                               use_absolute_embeddings=True)), 'absolute'),
    (dict(backbone_config=dict(model_type='swin', embed_dim=16, depths=[1] * 4, num_heads=[1] * 4, window_size=3,
                               mlp_ratio=2.5)), 'mlp_ratio'),
])
def test_configs_we_cannot_reproduce_are_refused(change, message):
    config = make_hf_model('resnet').config.to_dict()
    config.update(change)
    with pytest.raises(ValueError, match=message):
        model_cfg(config, 5, 0, with_text=False, object_mask_thr=0.5, iou_thr=0.8)


def test_swin_relative_position_index_matches_the_official_formula():
    for window in (3, 7, 12):
        assert torch.equal(swin_relative_position_index(window), official_swin_relative_position_index(window))


def test_fuse_qkv_concatenates_rows_and_refuses_incomplete_sets():
    sd = {f'a.attn.{n}.{p}': torch.full((2, ) if p == 'bias' else (2, 3), float(i))
          for i, n in enumerate(('q_proj', 'k_proj', 'v_proj')) for p in ('weight', 'bias')}
    sd['other'] = torch.zeros(1)
    out = fuse_qkv(sd, r'(a\.attn)', ('q_proj', 'k_proj', 'v_proj'), '{prefix}.in_proj_{param}')
    assert set(out) == {'a.attn.in_proj_weight', 'a.attn.in_proj_bias', 'other'}
    assert out['a.attn.in_proj_weight'][:, 0].tolist() == [0, 0, 1, 1, 2, 2]
    del sd['a.attn.v_proj.bias']
    with pytest.raises(KeyError, match='incomplete'):
        fuse_qkv(sd, r'(a\.attn)', ('q_proj', 'k_proj', 'v_proj'), '{prefix}.in_proj_{param}')


def test_class_info_formats(tmp_path):
    def write(obj):
        path = tmp_path / 'info.json'
        path.write_text(json.dumps(obj))
        return str(path)

    hf_style = {'1': dict(name='car', isthing=1), '0': dict(name='road', isthing=0)}
    assert load_class_info(write(hf_style)) == (['road', 'car'], [1])
    assert load_class_info(write([dict(name='road', isthing=0), dict(name='car', isthing=1)])) == (['road', 'car'], [1])
    assert load_class_info(write(dict(classes=['road', 'car'], thing_classes=['car']))) == (['road', 'car'], [1])
    with pytest.raises(ValueError, match='without gaps'):
        load_class_info(write({'0': dict(name='a', isthing=0), '2': dict(name='b', isthing=1)}))
    with pytest.raises(ValueError, match='entry 1'):
        load_class_info(write([dict(name='a', isthing=0), dict(name='b')]))
    with pytest.raises(ValueError, match="thing_classes \\['bus'\\]"):
        load_class_info(write(dict(classes=['road'], thing_classes=['bus'])))
    with pytest.raises(FileNotFoundError, match='nope.json'):
        load_class_info(str(tmp_path / 'nope.json'))
