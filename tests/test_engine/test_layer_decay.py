"""Layer-wise lr decay of ViT backbones, composed with the project's constructor (custom keys, norm decay)."""
import pytest
from mmdet.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS

from oneformer.testing import tiny_model_cfg

L = 3  # ViT blocks


def _vit_model():
    cfg = tiny_model_cfg()
    cfg.backbone = dict(type='mmpretrain.VisionTransformer', arch=dict(embed_dims=32, num_layers=L, num_heads=2,
                                                                      feedforward_channels=64),
                        img_size=64, patch_size=16, out_type='featmap')
    cfg.neck = dict(type='SimpleFeaturePyramid', out_channels=16)
    return MODELS.build(cfg)


def _groups(model, rate=0.5, **paramwise):
    ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='LayerDecayOptimWrapperConstructor',
        optim_wrapper_cfg=dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05)),
        paramwise_cfg=dict(layer_decay_rate=rate, norm_decay_mult=0.0,
                           custom_keys={'backbone': dict(lr_mult=0.1, decay_mult=1.0)}, **paramwise)))
    optimizer = ctor(model).optimizer
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(g['params'][0])]: g for g in optimizer.param_groups}


def _expected_depth(name):
    """BEiT / MAE convention, written out independently: embeddings 0, block i at i + 1, the rest L + 1."""
    if name.startswith(('patch_embed', 'pos_embed', 'cls_token')):
        return 0
    if name.startswith('layers.'):
        return int(name.split('.')[1]) + 1
    return L + 1


def test_backbone_lrs_decay_by_depth_on_top_of_lr_mult_and_head_keeps_its_lr():
    model = _vit_model()
    groups = _groups(model)
    for name, group in groups.items():
        if name.startswith('backbone.'):
            depth = _expected_depth(name[len('backbone.'):])
            assert group['lr'] == pytest.approx(1e-4 * 0.1 * 0.5**(L + 1 - depth)), name
        else:
            assert group.get('lr', 1e-4) == pytest.approx(1e-4), name
    assert groups['backbone.layers.0.ffn.layers.0.0.weight']['lr'] == pytest.approx(1e-5 * 0.5**3)
    assert groups['backbone.patch_embed.projection.weight']['lr'] == pytest.approx(1e-5 * 0.5**4)
    # the parent's rules still hold: norm layers (inside the backbone too) without weight decay
    assert groups['backbone.layers.0.ln1.weight']['weight_decay'] == 0.0
    assert groups['backbone.layers.0.attn.qkv.weight']['weight_decay'] == pytest.approx(0.05)
    assert len(groups) == sum(p.requires_grad for p in model.parameters())


def test_rate_one_is_the_parent_constructor():
    model = _vit_model()
    decayed = _groups(model, rate=1.0)
    assert all(g['lr'] == pytest.approx(1e-5) for n, g in decayed.items() if n.startswith('backbone.'))


def test_missing_rate_or_depths_are_errors():
    with pytest.raises(ValueError, match='layer_decay_rate'):
        OPTIM_WRAPPER_CONSTRUCTORS.build(dict(type='LayerDecayOptimWrapperConstructor',
                                              optim_wrapper_cfg=dict(optimizer=dict(type='SGD', lr=0.1))))
    model = MODELS.build(tiny_model_cfg())  # mmdet's ResNet has no get_layer_depth
    with pytest.raises(TypeError, match='get_layer_depth'):
        _groups(model)
