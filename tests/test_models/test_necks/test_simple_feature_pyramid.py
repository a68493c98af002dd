"""ViTDet's simple feature pyramid: levels at exactly 1/4..1/32 of the input for patch 16 and patch 14."""
import mmpretrain.models  # noqa: F401  (registers the mmpretrain.* backbones)
import pytest
import torch
from mmdet.registry import MODELS

import oneformer  # noqa: F401
from oneformer.models.necks import SimpleFeaturePyramid


def _vit(patch, **kw):
    return MODELS.build(dict(type='mmpretrain.VisionTransformer', arch=dict(embed_dims=32, num_layers=1, num_heads=2,
                                                                           feedforward_channels=64),
                             img_size=224, patch_size=patch, out_type='featmap', **kw))


@pytest.mark.parametrize('patch', [16, 14])
@pytest.mark.parametrize('size', [(64, 64), (128, 96), (224, 224), (320, 160)])
def test_levels_are_at_strides_4_to_32_for_any_multiple_of_32(patch, size):
    vit = _vit(patch)
    vit.eval()  # (mmpretrain's train() returns None)
    neck = SimpleFeaturePyramid(32, out_channels=8, backbone_stride=patch).eval()
    with torch.no_grad():
        outs = neck(vit(torch.randn(1, 3, *size)))
    h, w = size
    assert [tuple(o.shape) for o in outs] == [(1, 8, h // s, w // s) for s in (4, 8, 16, 32)]


def test_patch14_grid_is_resampled_with_the_exact_pixel_geometry():
    """Token i of a patch-14 ViT covers pixels [14i, 14i + 14), centre 14i + 7. Resampled to the stride-16 grid,
    cell j (centre 16j + 8) must hold the value of the image point 16j + 8: for a map linear in x that is the
    point's own coordinate (bilinear interpolation is exact on a linear function, away from the clamped border)."""
    neck = SimpleFeaturePyramid(1, out_channels=1, backbone_stride=14)
    tokens = 46  # a 640 px image: ceil(640 / 14) tokens, 644 px with the corner padding
    centres = 14 * torch.arange(tokens, dtype=torch.float64) + 7
    grid = centres.view(1, 1, 1, tokens).expand(1, 1, tokens, tokens)
    out = neck.to_stride16(grid)
    assert out.shape[-2:] == (40, 40)  # 640 / 16
    expected = 16 * torch.arange(40, dtype=torch.float64) + 8
    inner = slice(1, 39)
    assert torch.allclose(out[0, 0, 0, inner], expected[inner])
    # the naive resize to 40 cells (scale recomputed from the sizes) would be off by up to a few pixels
    naive = torch.nn.functional.interpolate(grid, size=(40, 40), mode='bilinear', align_corners=False)
    assert (naive[0, 0, 0, inner] - expected[inner]).abs().max() > 2


def test_stride16_backbones_are_not_resampled():
    neck = SimpleFeaturePyramid(4, out_channels=4, backbone_stride=16)
    x = torch.randn(1, 4, 5, 7)
    assert neck.to_stride16(x) is x


def test_structure_is_vitdet_and_everything_gets_gradient():
    neck = SimpleFeaturePyramid([16, 32], out_channels=8)  # several maps: the last one is used
    convt = [m for m in neck.stages[0] if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels, m.stride) for m in convt] == [(32, 16, (2, 2)), (16, 8, (2, 2))]
    assert isinstance(neck.stages[3][0], torch.nn.MaxPool2d) and neck.stages[2][0].in_channels == 32
    assert neck.strides == [4, 8, 16, 32]
    x = torch.randn(2, 32, 4, 4, requires_grad=True)
    outs = neck([torch.randn(2, 16, 4, 4), x])
    sum(o.square().mean() for o in outs).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in neck.parameters())
    assert x.grad.abs().sum() > 0


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match='in_channels is None'):
        SimpleFeaturePyramid()
    with pytest.raises(ValueError, match='only 4, 2, 1 and 0.5'):
        SimpleFeaturePyramid(8, scale_factors=(8.0, 1.0))
    with pytest.raises(ValueError, match="out_type='featmap'"):
        SimpleFeaturePyramid(8)(torch.randn(1, 5, 8))
