"""The CPU deformable-attention gather equals mmcv's fallback (values and gradients) and stays scoped."""
import mmcv.ops.multi_scale_deform_attn as mmcv_msda
import pytest
import torch
from mmcv.ops import MultiScaleDeformableAttention

from oneformer.compat import mmcv_deform_attn as routing
from oneformer.models.layers import gather_deform_attn as cda

STOCK = routing.STOCK


def _inputs(seed, bs=2, heads=4, channels=8, shapes=((12, 10), (6, 5), (3, 3)), points=3, spread=0.3):
    g = torch.Generator().manual_seed(seed)
    shapes = torch.tensor(shapes)
    num_value = int((shapes[:, 0] * shapes[:, 1]).sum())
    num_query = 17
    value = torch.randn(bs, num_value, heads, channels, generator=g)
    # locations partly outside [0, 1] so that zero padding of out-of-range corners is exercised
    loc = torch.rand(bs, num_query, heads, len(shapes), points, 2, generator=g) * (1 + 2 * spread) - spread
    weights = torch.rand(bs, num_query, heads, len(shapes), points, generator=g)
    weights = weights.flatten(-2).softmax(-1).view_as(weights)
    return value, shapes, loc, weights


def _run(fn, value, shapes, loc, weights, grad_out):
    leaves = [t.clone().requires_grad_() for t in (value, loc, weights)]
    out = fn(leaves[0], shapes, leaves[1], leaves[2])
    out.backward(grad_out)
    return [out] + [t.grad for t in leaves]


@pytest.mark.parametrize('seed', [0, 1, 2])
@pytest.mark.parametrize('fn', ['deform_attn_gather', 'deform_attn_per_level'])
def test_matches_mmcv_values_and_gradients(seed, fn):
    value, shapes, loc, weights = _inputs(seed)
    grad_out = torch.randn(value.shape[0], loc.shape[1], value.shape[2] * value.shape[3])
    ours = _run(getattr(cda, fn), value, shapes, loc, weights, grad_out)
    ref = _run(STOCK, value, shapes, loc, weights, grad_out)
    for name, a, b in zip(('output', 'd value', 'd locations', 'd weights'), ours, ref):
        assert a.shape == b.shape, name
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=name)
    assert ref[2].abs().sum() > 0 and ref[0].abs().sum() > 0  # the comparison is not between zeros


def test_gather_exact_pixel_centres_and_far_outside():
    """Locations on pixel centres read one value row; locations far outside read zeros."""
    value, shapes, loc, weights = _inputs(3, bs=1, heads=1, channels=4, shapes=((4, 5), ), points=2)
    h, w = 4, 5
    loc[..., 0, 0] = (2 + 0.5) / w  # x = column 2
    loc[..., 0, 1] = (1 + 0.5) / h  # y = row 1
    loc[..., 1, :] = 3.0  # entirely outside
    weights[..., 0] = 0.75
    weights[..., 1] = 0.25
    out = cda.deform_attn_gather(value, shapes, loc, weights)
    expected = 0.75 * value[0, 1 * w + 2, 0]
    torch.testing.assert_close(out[0], expected.expand(out.shape[1], -1), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(out, STOCK(value, shapes, loc, weights), rtol=1e-6, atol=1e-6)


def test_dispatch_is_scoped_to_the_context(monkeypatch):
    calls = []
    monkeypatch.setattr(cda, 'deform_attn_gather', lambda *a: calls.append('gather') or STOCK(*a))
    monkeypatch.setattr(cda, 'deform_attn_per_level', lambda *a: calls.append('per_level') or STOCK(*a))
    monkeypatch.setattr(routing, 'STOCK', lambda *a: calls.append('stock') or STOCK(*a))
    attn = MultiScaleDeformableAttention(embed_dims=16, num_heads=2, num_levels=2, num_points=2,
                                         batch_first=True).eval()
    shapes = torch.tensor([[4, 4], [2, 2]])
    query = torch.randn(1, 20, 16)
    kwargs = dict(query=query, value=query, reference_points=torch.rand(1, 20, 2, 2), spatial_shapes=shapes,
                  level_start_index=torch.tensor([0, 16]))
    with routing.route_deform_attn(cda.deform_attn):
        with torch.no_grad():
            inside = attn(**kwargs)
        attn(**kwargs)  # parameters need gradients: the per-level path
        with routing.route_deform_attn(None):
            attn(**kwargs)
    outside = attn(**kwargs)
    assert calls == ['gather', 'per_level', 'stock', 'stock']
    assert mmcv_msda.multi_scale_deformable_attn_pytorch is routing._dispatch
    torch.testing.assert_close(inside, outside, rtol=1e-5, atol=1e-5)


def test_head_flag_selects_the_path_and_gives_the_same_pixel_features(monkeypatch):
    from mmdet.registry import MODELS

    from oneformer.testing import tiny_model_cfg
    cfg = tiny_model_cfg()
    head_cfg = cfg.panoptic_head
    head_cfg.update(in_channels=[16, 32, 64, 128], strides=[4, 8, 16, 32])  # a head built on its own
    torch.manual_seed(0)
    head = MODELS.build(head_cfg).eval()
    calls = []
    real = cda.deform_attn_gather
    monkeypatch.setattr(cda, 'deform_attn_gather', lambda *a: calls.append(1) or real(*a))
    feats = [torch.randn(1, c, 64 // s, 64 // s) for c, s in zip(head_cfg.in_channels, (4, 8, 16, 32))]
    with torch.no_grad():
        fast = head.forward_pixel(feats)
        n_fast = len(calls)
        head.fast_cpu_deform_attn = False
        stock = head.forward_pixel(feats)
    head.fast_cpu_deform_attn = True
    train = head.forward_pixel(feats)  # with gradients
    train[0].sum().backward()
    assert head.pixel_decoder.encoder.layers[0].self_attn.sampling_offsets.weight.grad.abs().sum() > 0
    torch.testing.assert_close(train[0].detach(), stock[0], rtol=1e-4, atol=1e-5)
    assert n_fast == len(head.pixel_decoder.encoder.layers) and len(calls) == n_fast
    torch.testing.assert_close(fast[0], stock[0], rtol=1e-4, atol=1e-5)
    for a, b in zip(fast[1], stock[1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
