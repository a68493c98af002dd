"""Channels and strides of the head found from the built backbone (+ neck): values, checks, error messages."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config

from oneformer.models.utils import dry_forward, feature_spec
from oneformer.testing import config_path, tiny_model_cfg

VIT = dict(type='mmpretrain.VisionTransformer', arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                                                          feedforward_channels=64),
           img_size=64, patch_size=16, out_type='featmap')


def _demo_model_cfg():
    import oneformer  # noqa: F401
    return copy.deepcopy(Config.fromfile(config_path(
        'configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py')).model)


def test_demo_config_without_in_channels_finds_them_from_the_backbone():
    cfg = _demo_model_cfg()
    assert cfg.panoptic_head.get('in_channels') is None and cfg.panoptic_head.get('strides') is None
    model = MODELS.build(cfg)
    head = model.panoptic_head
    assert head.in_channels == [32, 64, 128, 256] and head.strides == [4, 8, 16, 32]
    # the pixel decoder is built from them: its 1x1 projections read those channels (res5 first, then res2)
    assert head.pixel_decoder.input_convs[0].conv.in_channels == 256
    assert head.pixel_decoder.lateral_convs[0].conv.in_channels == 32
    # and a forward runs at another size than the probe's
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 96, 64))
    assert [f.shape[1] for f in feats] == head.in_channels
    assert [96 // f.shape[-2] for f in feats] == head.strides


@pytest.mark.parametrize('key, value, found', [('in_channels', [16, 32, 64, 256], [32, 64, 128, 256]),
                                               ('strides', [4, 8, 16, 64], [4, 8, 16, 32])])
def test_given_values_are_checked_and_a_mismatch_names_both_and_the_key(key, value, found):
    cfg = _demo_model_cfg()
    cfg.panoptic_head[key] = value
    with pytest.raises(ValueError) as err:
        MODELS.build(cfg)
    msg = str(err.value)
    assert f'model.panoptic_head.{key}={value}' in msg and str(found) in msg


def test_correct_given_values_build():
    cfg = _demo_model_cfg()
    cfg.panoptic_head.update(in_channels=[32, 64, 128, 256], strides=[4, 8, 16, 32])
    assert MODELS.build(cfg).panoptic_head.in_channels == [32, 64, 128, 256]


def test_issue_example_error_names_the_backbone_channels():
    """The new user's case: a backbone swapped under a config that still says the old channels."""
    cfg = _demo_model_cfg()
    cfg.panoptic_head.in_channels = [32, 64, 128, 256]
    cfg.backbone.base_channels = 40  # ResNet-18 of width 40: 40, 80, 160, 320
    with pytest.raises(ValueError, match=r'\[40, 80, 160, 320\]'):
        MODELS.build(cfg)


def _with_backbone(backbone, neck=None):
    cfg = tiny_model_cfg()
    cfg.backbone = backbone
    if neck is not None:
        cfg.neck = neck
    return cfg


def test_vit_tokens_fail_at_build_saying_what_is_needed():
    with pytest.raises(ValueError) as err:
        MODELS.build(_with_backbone(dict(VIT, out_type='raw')))
    msg = str(err.value)
    assert '3-D token tensors' in msg and '(1, 197, 32)' in msg  # 14x14 patches + class token at 224
    assert "out_type='featmap'" in msg and "neck=dict(type='SimpleFeaturePyramid')" in msg


def test_a_single_map_fails_at_build_and_suggests_the_pyramid():
    with pytest.raises(ValueError) as err:
        MODELS.build(_with_backbone(VIT))
    msg = str(err.value)
    assert '1 feature map(s)' in msg and 'strides [16]' in msg
    assert "add neck=dict(type='SimpleFeaturePyramid')" in msg


def test_maps_of_equal_stride_fail_at_build():
    vit = dict(VIT, arch=dict(VIT['arch'], num_layers=3), out_indices=(0, 1, 2))
    with pytest.raises(ValueError, match=r'strides \[16, 16, 16\].*strictly increasing'):
        MODELS.build(_with_backbone(vit))


def test_too_few_maps_fail_at_build():
    cfg = tiny_model_cfg()
    cfg.backbone.out_indices = (2, 3)
    with pytest.raises(ValueError, match=r'returned 2 feature map\(s\).*at least 3 maps.*out_indices'):
        MODELS.build(cfg)


def test_the_plain_vit_builds_with_the_pyramid_and_the_neck_needs_no_channels():
    model = MODELS.build(_with_backbone(VIT, dict(type='SimpleFeaturePyramid', out_channels=24)))
    assert model.neck.stages[2][0].in_channels == 32  # the identity level's 1x1 conv reads the ViT width
    assert model.neck.backbone_stride == 16
    assert model.panoptic_head.in_channels == [24] * 4 and model.panoptic_head.strides == [4, 8, 16, 32]


def test_dry_forward_changes_nothing():
    """No RNG draws, no BN statistics update, train/eval flags restored, no graph."""
    cfg = tiny_model_cfg()
    backbone = MODELS.build(cfg.backbone)
    backbone.train()
    backbone.layer1.eval()  # a mixed state (e.g. frozen stages) must come back as it was
    bn = backbone.bn1
    stats = (bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone())
    flags = {n: m.training for n, m in backbone.named_modules()}
    rng = torch.get_rng_state()
    _, outs = dry_forward([backbone], size=64)
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(a, b) for a, b in zip(stats, (bn.running_mean, bn.running_var, bn.num_batches_tracked)))
    assert {n: m.training for n, m in backbone.named_modules()} == flags
    assert not any(o.requires_grad for o in outs)
    assert feature_spec(outs, 64) == ([16, 32, 64, 128], [4, 8, 16, 32])


def test_non_integer_stride_is_an_error():
    outs = [torch.zeros(1, 8, 10, 10)] * 3
    with pytest.raises(ValueError, match='not an integer stride'):
        feature_spec(outs, 128)


def test_a_backbone_that_cannot_run_the_probe():
    """Left-out values cannot be found: error naming the failure; given values are used with a warning."""

    @MODELS.register_module(force=True)
    class _NeedsBigInput(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 1)

        def forward(self, x):
            if x.shape[-1] < 512:
                raise RuntimeError('input too small')
            return tuple(self.conv(x)[..., ::s, ::s] for s in (4, 8, 16, 32))

    cfg = _with_backbone(dict(type='_NeedsBigInput'))
    with pytest.raises(RuntimeError, match=r'dry forward .* failed .*input too small.*give both'):
        MODELS.build(cfg)
    cfg.panoptic_head.update(in_channels=[8] * 4, strides=[4, 8, 16, 32])
    with pytest.warns(UserWarning, match='could not be checked'):
        assert MODELS.build(cfg).panoptic_head.in_channels == [8] * 4


def test_a_head_built_on_its_own_needs_its_inputs():
    head = tiny_model_cfg().panoptic_head
    with pytest.raises(ValueError, match='a head built on its own needs both'):
        MODELS.build(head)


def test_declared_output_spec_is_used_without_a_forward_and_is_exact():
    """DiNAT declares its outputs (a dry forward of large dilations pads every map to kernel x dilation)."""
    cfg = tiny_model_cfg()
    cfg.backbone = dict(type='DiNAT', embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4], kernel_size=3,
                        dilations=[[1]] * 4, mlp_ratio=2.0)
    backbone = MODELS.build(cfg.backbone)
    backbone.eval()
    with torch.no_grad():
        outs = backbone(torch.zeros(1, 3, 64, 64))
    assert backbone.output_spec() == tuple(feature_spec(outs, 64))
    from oneformer.models.backbones import DiNAT
    forward = DiNAT.forward
    try:
        DiNAT.forward = lambda *a: pytest.fail('no dry forward expected')
        model = MODELS.build(cfg)
    finally:
        DiNAT.forward = forward
    assert model.panoptic_head.in_channels == [16, 32, 64, 128]
