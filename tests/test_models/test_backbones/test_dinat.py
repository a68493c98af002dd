"""Pure-PyTorch DiNAT: neighbourhood attention against an independent dense reference, and the backbone.

The dense reference attends over all H·W keys with a boolean neighbourhood mask built pixel by pixel with Python
lists (NATTEN 0.14 rules: a K-long window of the query's dilation group, shifted - not shrunk - at the borders)
and a bias looked up in the rpb table by relative offset. It is written for clarity, not speed.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from oneformer.models.backbones import DiNAT
from oneformer.models.backbones import neighborhood_attention as na

pytestmark = pytest.mark.usefixtures('one_thread')

# ----------------------------------------------------------------------------------------------------------------
# Independent reference
# ----------------------------------------------------------------------------------------------------------------


def ref_window(i, length, kernel, dilation):
    """Positions (along one axis) that query ``i`` attends to."""
    group = [p for p in range(length) if p % dilation == i % dilation]  # the query's dilation group
    assert len(group) >= kernel, 'reference needs length >= kernel * dilation'
    pos = group.index(i)
    start = pos - kernel // 2  # centred window ...
    if start < 0:  # ... moved inside the group at the borders (same size, not cropped)
        start = 0
    if start + kernel > len(group):
        start = len(group) - kernel
    return group[start:start + kernel]


def ref_tables(height, width, kernel, dilation):
    """Dense (HW, HW) neighbourhood mask and flat rpb index of each (query, key) pair."""
    (kh, kw), (dh, dw) = na._pair(kernel, 'k'), na._pair(dilation, 'd')
    n = height * width
    mask = np.zeros((n, n), dtype=bool)
    bias_index = np.zeros((n, n), dtype=np.int64)
    for i in range(height):
        rows = ref_window(i, height, kh, dh)
        for j in range(width):
            cols = ref_window(j, width, kw, dw)
            for r in rows:
                for c in cols:
                    assert (r - i) % dh == 0 and (c - j) % dw == 0
                    mask[i * width + j, r * width + c] = True
                    bias_row = kh - 1 + (r - i) // dh
                    bias_col = kw - 1 + (c - j) // dw
                    bias_index[i * width + j, r * width + c] = bias_row * (2 * kw - 1) + bias_col
    assert (mask.sum(1) == kh * kw).all()  # every query sees exactly K² distinct keys
    return torch.from_numpy(mask), torch.from_numpy(bias_index)


def ref_attention(q, k, v, rpb, kernel, dilation, scale):
    """Masked full attention: (B, N, H, W, C) inputs, (N, 2Kh-1, 2Kw-1) bias table (or None)."""
    b, heads, height, width, channels = q.shape
    mask, bias_index = ref_tables(height, width, kernel, dilation)
    logits = (q * scale).reshape(b, heads, -1, channels) @ k.reshape(b, heads, -1, channels).transpose(-1, -2)
    if rpb is not None:
        logits = logits + rpb.reshape(heads, -1)[:, bias_index]
    logits = logits.masked_fill(~mask, float('-inf'))
    out = logits.softmax(-1) @ v.reshape(b, heads, -1, channels)
    return out.reshape(b, heads, height, width, channels)


def ref_na_layer(attn, x):
    """NATTEN 0.14 NeighborhoodAttention2D by hand: zero-pad the *input* to K·d, qkv, attention, crop, proj."""
    b, height, width, channels = x.shape
    window = attn.kernel_size * attn.dilation
    hp, wp = max(height, window), max(width, window)
    padded = x.new_zeros(b, hp, wp, channels)
    padded[:, :height, :width] = x
    qkv = F.linear(padded, attn.qkv.weight, attn.qkv.bias)
    heads, hd = attn.num_heads, channels // attn.num_heads
    q, k, v = (qkv[..., i * channels:(i + 1) * channels].reshape(b, hp, wp, heads, hd).permute(0, 3, 1, 2, 4)
               for i in range(3))
    out = ref_attention(q, k, v, attn.rpb, attn.kernel_size, attn.dilation, hd**-0.5)
    out = out.permute(0, 2, 3, 1, 4).reshape(b, hp, wp, channels)[:, :height, :width]
    return F.linear(out, attn.proj.weight, attn.proj.bias)


def ref_layer(layer, x):
    """One DiNAT layer by hand: pre-norm attention and MLP with residuals."""
    ln = lambda m, t: F.layer_norm(t, m.normalized_shape, m.weight, m.bias, m.eps)
    x = x + ref_na_layer(layer.attn, ln(layer.norm1, x))
    h = F.gelu(F.linear(ln(layer.norm2, x), layer.mlp.fc1.weight, layer.mlp.fc1.bias))
    return x + F.linear(h, layer.mlp.fc2.weight, layer.mlp.fc2.bias)


def ref_dinat(model, img):
    """The whole backbone by hand (stem, layers, downsamplers, per-stage output norms)."""
    ln = lambda m, t: F.layer_norm(t, m.normalized_shape, m.weight, m.bias, m.eps)
    p = model.patch_embed.proj
    x = F.conv2d(F.conv2d(img, p[0].weight, p[0].bias, stride=2, padding=1), p[1].weight, p[1].bias, 2, 1)
    x = ln(model.patch_embed.norm, x.permute(0, 2, 3, 1))
    outs = []
    for i, level in enumerate(model.levels):
        for layer in level.blocks:
            x = ref_layer(layer, x)
        outs.append(ln(getattr(model, f'norm{i}'), x).permute(0, 3, 1, 2))
        if level.downsample is not None:
            y = F.conv2d(x.permute(0, 3, 1, 2), level.downsample.reduction.weight, None, stride=2, padding=1)
            x = ln(level.downsample.norm, y.permute(0, 2, 3, 1))
    return outs


# ----------------------------------------------------------------------------------------------------------------
# Neighbourhood rules
# ----------------------------------------------------------------------------------------------------------------

# Window starts and bias-table starts per query, tabulated from NATTEN 0.14.4's get_window_start / get_pb_start
# (natten/src/cpp/natten_cpu_commons.h): (length, kernel, dilation) -> (starts, pb_starts).
NATTEN_014_TABLES = {
    (13, 3, 4): ([0, 1, 2, 3, 0, 1, 2, 3, 4, 1, 2, 3, 4], [2, 2, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0]),
    (11, 5, 2): ([0, 1, 0, 1, 0, 1, 2, 1, 2, 1, 2], [4, 4, 3, 3, 2, 2, 2, 1, 1, 0, 0]),
    (9, 5, 1): ([0, 0, 0, 1, 2, 3, 4, 4, 4], [4, 3, 2, 2, 2, 2, 2, 1, 0]),
    (23, 3, 7): ([0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6, 7, 8, 2, 3, 4, 5, 6, 7, 8],
                 [2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]),
}


@pytest.mark.parametrize('key', sorted(NATTEN_014_TABLES))
def test_index_tables_match_natten_and_reference(key):
    length, kernel, dilation = key
    starts, pb_starts = NATTEN_014_TABLES[key]
    nbr, rel = na.neighborhood_indices(length, kernel, dilation)
    t = np.arange(kernel)
    np.testing.assert_array_equal(nbr.numpy(), np.array(starts)[:, None] + t * dilation)
    np.testing.assert_array_equal(rel.numpy(), np.array(pb_starts)[:, None] + t)
    for i in range(length):
        assert nbr[i].tolist() == ref_window(i, length, kernel, dilation)


# (H, W, kernel, dilation, heads, channels): borders, dilation not dividing H/W, odd and non-square maps,
# maps exactly K·d long, per-axis kernels and dilations.
CASES = [
    (9, 9, 3, 1, 2, 4),
    (13, 14, 3, 4, 2, 3),
    (11, 17, 5, 2, 1, 5),
    (15, 16, 5, 3, 2, 4),
    (7, 9, 7, 1, 1, 4),
    (12, 10, (3, 5), (4, 2), 2, 3),
]


def _inputs(h, w, kernel, heads, channels, dtype, seed, batch=2):
    g = torch.Generator().manual_seed(seed)
    kh, kw = na._pair(kernel, 'k')
    q, k, v = (torch.randn(batch, heads, h, w, channels, generator=g, dtype=dtype) for _ in range(3))
    rpb = torch.randn(heads, 2 * kh - 1, 2 * kw - 1, generator=g, dtype=dtype)
    return q, k, v, rpb


@pytest.mark.parametrize('case', CASES)
def test_attention_matches_dense_reference_float32(case):
    h, w, kernel, dilation, heads, channels = case
    q, k, v, rpb = _inputs(h, w, kernel, heads, channels, torch.float32, seed=1)
    out = na.neighborhood_attention_2d(q, k, v, kernel, dilation, rpb, scale=0.7)
    ref = ref_attention(q, k, v, rpb, kernel, dilation, 0.7)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    # without the bias table (NATTEN >= 0.17 default) and with the default scale
    out = na.neighborhood_attention_2d(q, k, v, kernel, dilation)
    torch.testing.assert_close(out, ref_attention(q, k, v, None, kernel, dilation, channels**-0.5), rtol=1e-5,
                               atol=1e-5)


# tile sizes: default, one query per tile, tiles with padding slots, anisotropic, larger than the dilation groups
TILES = [None, 1, 3, (2, 5), 64]


@pytest.mark.parametrize('tile', TILES)
@pytest.mark.parametrize('case', CASES)
def test_gradients_match_dense_reference_float64(case, tile):
    h, w, kernel, dilation, heads, channels = case
    leaves = [t.requires_grad_() for t in _inputs(h, w, kernel, heads, channels, torch.float64, seed=2)]
    ref_leaves = [t.detach().clone().requires_grad_() for t in leaves]
    grad_out = torch.randn(leaves[0].shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    out = na.neighborhood_attention_2d(*leaves[:3], kernel, dilation, leaves[3], scale=0.9, tile_size=tile)
    ref = ref_attention(*ref_leaves[:3], ref_leaves[3], kernel, dilation, 0.9)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    out.backward(grad_out)
    ref.backward(grad_out)
    for name, a, b in zip('qkv', leaves, ref_leaves):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-9, msg=f'd{name}')
    torch.testing.assert_close(leaves[3].grad, ref_leaves[3].grad, rtol=1e-9, atol=1e-9, msg='d rpb')
    assert ref_leaves[3].grad.abs().sum() > 0 and ref_leaves[1].grad.abs().sum() > 0


def test_small_chunks_give_the_same_result(monkeypatch):
    """Tile rows processed a few at a time (as on large maps) give the same values and gradients."""
    h, w, kernel, dilation, heads, channels = CASES[3]
    leaves = [t.requires_grad_() for t in _inputs(h, w, kernel, heads, channels, torch.float64, seed=9)]
    results = []
    for chunk_elements in (na._CHUNK_ELEMENTS, 1):
        monkeypatch.setattr(na, '_CHUNK_ELEMENTS', chunk_elements)
        for t in leaves:
            t.grad = None
        out = na.neighborhood_attention_2d(*leaves[:3], kernel, dilation, leaves[3], tile_size=2)
        out.square().sum().backward()
        results.append([out.detach()] + [t.grad for t in leaves])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_qk_layout_is_row_major_window_order():
    """Logit ``a·Kw + c`` of query (i, j) is <q(i, j), k(row a, column c)> + rpb[K-1 + Δrow/d, K-1 + Δcol/d]."""
    h, w, kernel, dilation = 12, 10, (3, 5), (4, 2)
    q, k, _, rpb = _inputs(h, w, kernel, 2, 3, torch.float64, seed=4, batch=1)
    logits = na.na2d_qk(q, k, kernel, dilation, rpb)
    assert logits.shape == (1, 2, h, w, 15)
    for i, j in [(0, 0), (5, 9), (11, 4), (7, 1)]:
        rows, cols = ref_window(i, h, 3, 4), ref_window(j, w, 5, 2)
        for a, r in enumerate(rows):
            for c, col in enumerate(cols):
                expected = (q[0, :, i, j] * k[0, :, r, col]).sum(-1) + rpb[:, 2 + (r - i) // 4, 4 + (col - j) // 2]
                torch.testing.assert_close(logits[0, :, i, j, a * 5 + c], expected)


def test_gradcheck_qk_and_av():
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(1, 1, 4, 6, 2, dtype=torch.float64, generator=g, requires_grad=True) for _ in range(3))
    rpb = torch.randn(1, 5, 5, dtype=torch.float64, generator=g, requires_grad=True)
    attn = torch.rand(1, 1, 4, 6, 9, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: na.na2d_qk(a, b, 3, (1, 2), c), (q, k, rpb))
    assert torch.autograd.gradcheck(lambda a, b: na.na2d_av(a, b, 3, (1, 2)), (attn, v))


def test_bad_arguments_raise():
    q = torch.zeros(1, 1, 8, 8, 2)
    with pytest.raises(ValueError, match='odd'):
        na.na2d_qk(q, q, 4)
    with pytest.raises(ValueError, match='odd'):
        na.neighborhood_indices(8, 1)
    with pytest.raises(ValueError, match='dilation'):
        na.na2d_qk(q, q, 3, 0)
    with pytest.raises(ValueError, match='kernel_size \\* dilation'):
        na.na2d_qk(q, q, 3, 3)  # 8 < 3 * 3: the caller must pad
    with pytest.raises(ValueError, match='rpb'):
        na.na2d_qk(q, q, 3, 1, torch.zeros(1, 3, 3))
    with pytest.raises(ValueError, match='attn'):
        na.na2d_av(torch.zeros(1, 1, 8, 8, 4), q, 3)


# ----------------------------------------------------------------------------------------------------------------
# Attention layer (padding of small maps) and backbone
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize('hw,kernel,dilation', [((7, 9), 3, 2), ((5, 9), 3, 2), ((4, 4), 3, 3), ((6, 11), 5, 2)])
def test_attention_layer_pads_input_before_qkv(hw, kernel, dilation):
    torch.manual_seed(6)
    layer = na.NeighborhoodAttention2D(8, 2, kernel, dilation).eval()
    with torch.no_grad():
        layer.qkv.bias.normal_()  # padded tokens carry this bias into k and v
        x = torch.randn(2, *hw, 8)
        out = layer(x)
        torch.testing.assert_close(out, ref_na_layer(layer, x), rtol=1e-5, atol=1e-5)
        if min(hw) < kernel * dilation:
            # control: zero k/v on padded tokens (padding after the projection) must give another answer
            window = kernel * dilation
            hp, wp = max(hw[0], window), max(hw[1], window)
            qkv = layer.qkv(x).reshape(2, *hw, 3, 2, 4).permute(3, 0, 4, 1, 2, 5)
            q, k, v = (F.pad(t, (0, 0, 0, wp - hw[1], 0, hp - hw[0])) for t in qkv)
            wrong = na.neighborhood_attention_2d(q, k, v, kernel, dilation, layer.rpb)
            wrong = layer.proj(wrong.permute(0, 2, 3, 1, 4).reshape(2, hp, wp, 8)[:, :hw[0], :hw[1]])
            assert (wrong - out).abs().max() > 1e-3


def test_attention_layer_under_autocast():
    """bfloat16 autocast (half-precision GEMMs, float32 softmax) runs forward and backward and stays close."""
    torch.manual_seed(10)
    layer = na.NeighborhoodAttention2D(16, 2, 3, 2)
    x = torch.randn(1, 7, 9, 16)
    ref = layer(x)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = layer(x)
    out.float().square().sum().backward()
    torch.testing.assert_close(out.float(), ref, rtol=0.05, atol=0.05)
    assert layer.rpb.grad.dtype == torch.float32 and torch.isfinite(layer.qkv.weight.grad).all()


def tiny_dinat(**kwargs):
    cfg = dict(embed_dim=16, depths=(1, 1, 2, 1), num_heads=(2, 2, 4, 4), kernel_size=3,
               dilations=((2, ), (2, ), (1, 3), (1, )), mlp_ratio=2.0, drop_path_rate=0.1)
    cfg.update(kwargs)
    return DiNAT(**cfg)


def test_dinat_forward_shapes_and_values_match_reference():
    torch.manual_seed(7)
    model = tiny_dinat()
    model.init_weights()
    model.eval()
    with torch.no_grad():
        for p in model.parameters():  # non-trivial LayerNorm / bias values so that every term counts
            p.add_(0.1 * torch.randn_like(p))
        img = torch.randn(2, 3, 67, 93)  # odd sizes: ceil at every stride
        outs = model(img)
        ref = ref_dinat(model, img)
    assert [tuple(o.shape) for o in outs] == [(2, 16, 17, 24), (2, 32, 9, 12), (2, 64, 5, 6), (2, 128, 3, 3)]
    for i, (o, r) in enumerate(zip(outs, ref)):
        assert o.is_contiguous()
        torch.testing.assert_close(o, r, rtol=1e-4, atol=1e-4, msg=f'stage {i}')


def test_dinat_out_indices_layer_scale_and_backward():
    model = tiny_dinat(out_indices=(1, 2), layer_scale=1e-5)
    assert not hasattr(model, 'norm0') and not hasattr(model, 'norm3')
    assert torch.equal(model.levels[0].blocks[0].gamma1, torch.full((16, ), 1e-5))
    outs = model(torch.randn(1, 3, 32, 48))
    assert [tuple(o.shape) for o in outs] == [(1, 32, 4, 6), (1, 64, 2, 3)]
    # random weighting: a plain sum of LayerNorm outputs (unit weights) has zero gradient
    sum((o * torch.randn_like(o)).sum() for o in outs).backward()
    assert model.levels[1].blocks[0].attn.rpb.grad.abs().sum() > 0
    assert model.levels[3].blocks[0].attn.qkv.weight.grad is None  # stage 3 is not computed


def test_dinat_with_cp_matches():
    torch.manual_seed(8)
    model = tiny_dinat(drop_path_rate=0.)
    model_cp = tiny_dinat(drop_path_rate=0., with_cp=True)
    model_cp.load_state_dict(model.state_dict())
    img = torch.randn(1, 3, 32, 32)
    for m in (model, model_cp):
        sum(o.square().sum() for o in m(img)).backward()
    assert model.levels[2].blocks[1].attn.qkv.weight.grad.abs().sum() > 0
    torch.testing.assert_close(model_cp.levels[2].blocks[1].attn.qkv.weight.grad,
                               model.levels[2].blocks[1].attn.qkv.weight.grad)


def official_keys(depths, out_indices=(0, 1, 2, 3)):
    """Backbone keys of the official OneFormer ``D2DiNAT`` (module tree of oneformer/modeling/backbone/dinat.py)."""
    keys = [f'patch_embed.proj.{i}.{p}' for i in (0, 1) for p in ('weight', 'bias')]
    keys += ['patch_embed.norm.weight', 'patch_embed.norm.bias']
    for s, depth in enumerate(depths):
        for b in range(depth):
            pre = f'levels.{s}.blocks.{b}.'
            keys += [pre + 'attn.rpb'] + [
                pre + f'{m}.{p}' for m in ('norm1', 'attn.qkv', 'attn.proj', 'norm2', 'mlp.fc1', 'mlp.fc2')
                for p in ('weight', 'bias')
            ]
        if s < len(depths) - 1:
            keys += [f'levels.{s}.downsample.reduction.weight'] + [
                f'levels.{s}.downsample.norm.{p}' for p in ('weight', 'bias')
            ]
    keys += [f'norm{i}.{p}' for i in out_indices for p in ('weight', 'bias')]
    return keys


def test_official_key_layout_loads_strictly(tmp_path):
    model = tiny_dinat()
    sd = model.state_dict()
    assert sorted(sd) == sorted(official_keys((1, 1, 2, 1)))
    assert sd['levels.2.blocks.1.attn.rpb'].shape == (4, 5, 5)
    assert sd['levels.2.blocks.1.attn.qkv.weight'].shape == (192, 64)
    assert sd['levels.1.downsample.reduction.weight'].shape == (64, 32, 3, 3)
    assert sd['patch_embed.proj.0.weight'].shape == (8, 3, 3, 3)
    # an official checkpoint's backbone weights load by stripping ``backbone.``: strictly, and via init_cfg
    official = {k: torch.randn_like(v) for k, v in sd.items()}
    model.load_state_dict(official, strict=True)
    torch.save({'state_dict': {'backbone.' + k: v for k, v in official.items()}}, tmp_path / 'ckpt.pth')
    loaded = tiny_dinat(init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'ckpt.pth'), prefix='backbone.'))
    loaded.init_weights()
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, official[k]), k


def test_dinat_large_layout_on_meta_device():
    with torch.device('meta'):
        model = DiNAT(arch='large')
    sd = model.state_dict()
    assert sorted(sd) == sorted(official_keys((3, 4, 18, 5)))
    assert model.num_features == [192, 384, 768, 1536]
    assert sd['levels.3.blocks.4.attn.rpb'].shape == (48, 21, 21)
    assert sd['levels.2.blocks.17.mlp.fc1.weight'].shape == (1536, 768)
    assert [blk.attn.dilation for blk in model.levels[1].blocks] == [1, 5, 1, 10]
    assert model.levels[2].blocks[17].attn.dilation == 5 and model.levels[0].blocks[1].attn.dilation == 20
    assert model.levels[2].blocks[17].drop_path.drop_prob == pytest.approx(0.3 * 24 / 29)


def test_bad_backbone_arguments_raise():
    with pytest.raises(ValueError, match='odd'):
        tiny_dinat(kernel_size=4)
    with pytest.raises(ValueError, match='stage 2 has 2 layers but 1 dilations'):
        tiny_dinat(dilations=((1, ), (1, ), (1, ), (1, )))
    with pytest.raises(ValueError, match='one entry per stage'):
        tiny_dinat(num_heads=(2, 2, 4))
    with pytest.raises(ValueError, match='dilation'):
        tiny_dinat(dilations=((1, ), (0, ), (1, 1), (1, )))
    with pytest.raises(ValueError, match='divisible'):
        tiny_dinat(num_heads=(3, 2, 4, 4))
    with pytest.raises(ValueError, match='out_indices'):
        tiny_dinat(out_indices=(4, ))
    with pytest.raises(KeyError, match='arch'):
        DiNAT(arch='huge')
    with pytest.raises(ValueError, match=r'\(B, C, H, W\)'):
        tiny_dinat()(torch.zeros(3, 32, 32))


def test_frozen_stages():
    model = tiny_dinat(frozen_stages=2)
    model.train()
    frozen = [model.patch_embed, model.levels[0], model.levels[1], model.norm0, model.norm1]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(not m.training for m in frozen)
    assert all(p.requires_grad for p in model.levels[2].parameters()) and model.levels[2].training


def test_build_from_registries():
    from mmdet.registry import MODELS as DET_MODELS
    from mmseg.registry import MODELS as SEG_MODELS
    cfg = dict(embed_dim=16, depths=(1, 1, 1, 1), num_heads=(2, 2, 4, 4), kernel_size=3,
               dilations=((1, ), (1, ), (1, ), (1, )))
    det = DET_MODELS.build(dict(type='DiNAT', **cfg))
    seg = SEG_MODELS.build(dict(type='mmdet.DiNAT', **cfg))
    assert type(det) is DiNAT and type(seg) is DiNAT
    assert [tuple(o.shape[1:]) for o in seg(torch.zeros(1, 3, 32, 32))] == [(16, 8, 8), (32, 4, 4), (64, 2, 2),
                                                                          (128, 1, 1)]
