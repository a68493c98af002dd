"""The query transformer's attention (fused at inference, lean dropout attention in CPU training, cached sine
encoding) equals stock ``nn.MultiheadAttention`` and the encoding recomputed on every call."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import Conv2d
from mmdet.models.layers import DetrTransformerDecoder, SinePositionalEncoding
from mmdet.registry import MODELS
from mmengine.config import Config

import oneformer  # noqa: F401
from oneformer.models.layers.memory_efficient_attention import MemoryEfficientMultiheadAttention

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
pytestmark = pytest.mark.usefixtures('one_thread')


C = 64


def _qt_cfg(dropout=0.1):
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/models/oneformer_r50.py'))
    qt = copy.deepcopy(cfg.model.panoptic_head.query_transformer)
    qt.embed_dims = C
    for k in ('self_attn_cfg', 'cross_attn_cfg'):
        qt.decoder.layer_cfg[k].update(embed_dims=C, num_heads=8, dropout=dropout)
    qt.decoder.layer_cfg.ffn_cfg.update(embed_dims=C, feedforward_channels=128, ffn_drop=dropout)
    return qt


def _query_transformer(dropout=0.1, seed=0):
    torch.manual_seed(seed)
    qt = MODELS.build(_qt_cfg(dropout))
    qt.init_weights()
    for p in qt.parameters():  # non-zero biases so every parameter takes part
        if p.dim() == 1:
            p.data.add_(0.05 * torch.randn_like(p))
    return qt


def _stock_copy(qt, dropout=0.1):
    """A deep copy whose decoder is mmdet's stock ``DetrTransformerDecoder`` (``nn.MultiheadAttention``, attention
    weights computed) with the same weights."""
    stock = copy.deepcopy(qt)
    for layer in stock.decoder.layers:
        for attn in (layer.self_attn, layer.cross_attn):
            assert type(attn.attn) is MemoryEfficientMultiheadAttention
    stock.decoder = DetrTransformerDecoder(**_qt_cfg(dropout).decoder)
    stock.decoder.load_state_dict(qt.decoder.state_dict())
    stock.train(qt.training)
    for layer in stock.decoder.layers:
        assert type(layer.self_attn.attn) is nn.MultiheadAttention
    return stock


def _old_forward(qt, task_token, mask_features, query_pos):
    """The pre-optimisation forward: sine encoding recomputed for the whole batch on every call."""
    b = mask_features.shape[0]
    pos = qt.positional_encoding(mask_features.new_zeros((b, ) + mask_features.shape[-2:]).bool())
    pos = pos.flatten(2).transpose(1, 2)
    proj = qt.input_proj(mask_features).flatten(2).transpose(1, 2)
    query = task_token[:, None].expand(-1, query_pos.shape[0], -1)
    return qt.decoder(query=query, key=pos, value=pos, query_pos=query_pos[None].expand(b, -1, -1),
                      key_pos=proj, key_padding_mask=None)[-1]


def _qt_inputs(seed, b=2, hw=(16, 16), nq=11):
    g = torch.Generator().manual_seed(seed)
    return (F.normalize(torch.randn(b, C, generator=g), dim=-1), torch.randn(b, C, *hw, generator=g),
            torch.randn(nq, C, generator=g))


def spy_need_weights(monkeypatch):
    """The ``need_weights`` of every call of torch's multi-head attention function from now on (a list that
    fills): which calls take the stock path, and whether they ask for the weights (the fused kernel is used only
    without)."""
    seen = []
    mha_forward = torch.nn.modules.activation.F.multi_head_attention_forward

    def spy(*args, **kwargs):
        seen.append(kwargs['need_weights'])
        return mha_forward(*args, **kwargs)

    monkeypatch.setattr(torch.nn.modules.activation.F, 'multi_head_attention_forward', spy)
    return seen


def test_query_transformer_eval_fused_attention_matches_stock(monkeypatch):
    qt = _query_transformer().eval()
    stock = _stock_copy(qt).eval()
    for seed, b, hw in [(0, 2, (16, 16)), (1, 1, (8, 12)), (2, 3, (5, 7))]:
        inputs = _qt_inputs(seed, b, hw)
        with torch.no_grad():
            out = qt(*inputs)
            ref = _old_forward(stock, *inputs)
        assert out.shape == (b, 11, C)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    # the fused path is really taken in eval (no attention weights asked for), and only in eval
    seen = spy_need_weights(monkeypatch)
    with torch.no_grad():
        qt(*_qt_inputs(0))
        assert seen == [False] * 4  # 2 layers x (self, cross)
        seen.clear()
        qt.train()(*_qt_inputs(0))
        assert seen == [True] * 4  # training without gradients: the stock path
    seen.clear()
    qt(*_qt_inputs(0))
    assert seen == []  # training with gradients: DropoutAttention, stock MHA not called


@pytest.mark.parametrize('dropout', [0.0, 0.1])
def test_query_transformer_train_mode_unchanged(dropout):
    """Training keeps the stock path: same seed -> same dropout draws -> same outputs and gradients."""
    qt = _query_transformer(dropout=dropout).train()
    stock = _stock_copy(qt, dropout).train()
    inputs = _qt_inputs(4)
    torch.manual_seed(123)
    out = qt(*inputs)
    torch.manual_seed(123)
    ref = _old_forward(stock, *inputs)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)
    g = torch.randn_like(out)
    grads = torch.autograd.grad(out, list(qt.parameters()), g)
    ref_grads = torch.autograd.grad(ref, list(stock.parameters()), g)
    # float rounding only: the backward recomputes softmax's gradient with public ops (another summation order);
    # some gradients are exactly 0 in theory (softmax is shift invariant: input_proj.bias), i.e. rounding noise
    scale = max(float(b.abs().max()) for b in ref_grads)
    for (name, _), a, b in zip(qt.named_parameters(), grads, ref_grads):
        torch.testing.assert_close(a, b, atol=1e-6 * scale, rtol=1e-5, msg=f'gradient of {name}')
    if dropout:  # dropout is active: another seed gives another output
        torch.manual_seed(7)
        assert (qt(*inputs) - out).abs().max() > 1e-3


def test_query_transformer_positional_cache_follows_input_size():
    qt = _query_transformer().eval()
    stock = _stock_copy(qt).eval()
    direct = SinePositionalEncoding(num_feats=C // 2, normalize=True)
    for i, (b, hw) in enumerate([(2, (16, 16)), (2, (8, 12)), (1, (16, 16)), (3, (16, 16)), (2, (12, 8))]):
        inputs = _qt_inputs(10 + i, b, hw)
        with torch.no_grad():
            out = qt(*inputs)
            torch.testing.assert_close(out, _old_forward(stock, *inputs), atol=1e-5, rtol=0)
            fresh = _query_transformer().eval()  # same seed: same weights, empty cache
            assert fresh._pos_cache is None
            assert torch.equal(out, fresh(*inputs))  # a stale cache entry would change the output
        pos = qt._sine_pos(inputs[1])
        expected = direct(torch.zeros((1, ) + hw, dtype=torch.bool)).flatten(2).transpose(1, 2)
        assert torch.equal(pos, expected)


def test_query_transformer_state_dict_names_unchanged():
    """Converters map checkpoint keys by name: same keys and shapes as a module of plain mmcv attention."""
    cfg = _qt_cfg()
    qt = _query_transformer()

    class Plain(nn.Module):  # the pre-optimisation module layout

        def __init__(self):
            super().__init__()
            self.input_proj = Conv2d(C, C, kernel_size=1)
            self.positional_encoding = SinePositionalEncoding(num_feats=C // 2, normalize=True)
            self.decoder = DetrTransformerDecoder(**cfg.decoder)

    plain = Plain()
    assert type(plain.decoder.layers[0].self_attn.attn) is nn.MultiheadAttention
    sd, plain_sd = qt.state_dict(), plain.state_dict()
    assert list(sd) == list(plain_sd)
    assert all(sd[k].shape == plain_sd[k].shape for k in sd)
    assert any(k.endswith('self_attn.attn.in_proj_weight') for k in sd)
    # and the weights load both ways (strict) with the same eval output
    plain.load_state_dict(sd)
    qt.load_state_dict(plain.state_dict())
    inputs = _qt_inputs(30)
    qt.eval()
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(qt(*inputs), _old_forward(plain, *inputs), atol=1e-5, rtol=0)


def test_query_transformer_training_under_cpu_autocast_matches_stock():
    """bf16 autocast: the lean attention (recomputed probabilities in backward) follows the stock path."""
    qt = _query_transformer().train()
    stock = _stock_copy(qt).train()
    inputs = _qt_inputs(5)
    results = []
    for module, forward in ((qt, lambda m, *a: m(*a)), (stock, _old_forward)):
        torch.manual_seed(11)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = forward(module, *inputs)
        grads = torch.autograd.grad(out.float().sum(), list(module.parameters()), allow_unused=True)
        results.append((out.float(), grads))
    (out, grads), (ref, ref_grads) = results
    torch.testing.assert_close(out, ref, atol=5e-2, rtol=5e-2)
    pairs = [(a, b) for a, b in zip(grads, ref_grads) if b is not None]
    assert all(a is not None and torch.isfinite(a).all() for a, _ in pairs)
    # bf16 rounding differs element-wise between layouts (and some gradients are mathematically ~0, e.g. the key
    # bias under softmax): the gradient as a whole must agree
    ours = torch.cat([a.float().flatten() for a, _ in pairs])
    theirs = torch.cat([b.float().flatten() for _, b in pairs])
    assert (ours - theirs).norm() <= 2e-2 * theirs.norm()
