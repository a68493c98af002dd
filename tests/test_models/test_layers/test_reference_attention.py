"""The supported switch to the plain formulation: ``MemoryEfficientMultiheadAttention(reference=True)``,
:func:`use_reference_attention` and the model-wide :func:`reference_formulation` run stock
``nn.MultiheadAttention`` / mmcv's deformable-attention fallback, give the same outputs, restore the settings, and
are what FlopAnalyzer counts."""
import copy

import pytest
import torch
import torch.nn as nn
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.analysis import FlopAnalyzer

import oneformer  # noqa: F401
from oneformer.models import reference_formulation
from oneformer.models.layers import MemoryEfficientMultiheadAttention, use_reference_attention
from oneformer.testing import tiny_model_cfg

from .test_memory_efficient_attention import _qt_inputs, _query_transformer, _stock_copy, spy_need_weights

pytestmark = pytest.mark.usefixtures('one_thread')


def _pair(dropout=0.1, batch_first=False, reference=False):
    torch.manual_seed(0)
    ours = MemoryEfficientMultiheadAttention(32, 4, dropout=dropout, batch_first=batch_first, reference=reference)
    stock = nn.MultiheadAttention(32, 4, dropout=dropout, batch_first=batch_first)
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_(0, 0.2)
    stock.load_state_dict(ours.state_dict())
    return ours, stock


def _qkv(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(7, 2, 32, generator=g), torch.randn(20, 2, 32, generator=g), torch.randn(20, 2, 32, generator=g)


@pytest.mark.parametrize('train', [False, True])
def test_reference_flag_runs_the_stock_forward(train, monkeypatch):
    """reference=True: the stock call with the caller's need_weights (weights returned), bit-identical to
    nn.MultiheadAttention, dropout draws included; the flag is a plain attribute that can be flipped back."""
    ours, stock = _pair(reference=True)
    ours.train(train)
    stock.train(train)
    q, k, v = _qkv()
    seen = spy_need_weights(monkeypatch)
    torch.manual_seed(3)
    out, weights = ours(q, k, v)
    torch.manual_seed(3)
    ref, ref_weights = stock(q, k, v)
    assert seen == [True, True]
    assert torch.equal(out, ref) and torch.equal(weights, ref_weights)
    assert weights.shape == (2, 7, 20)
    ours.reference = False  # the memory-efficient path again: no weights in eval, none from the lean path
    torch.manual_seed(3)
    out_fast, weights_fast = ours(q, k, v)
    assert weights_fast is None
    if not train:
        torch.testing.assert_close(out_fast, ref, atol=1e-6, rtol=0)


def test_use_reference_attention_switches_every_module_and_restores():
    qt = _query_transformer().eval()
    attns = [m for m in qt.modules() if isinstance(m, MemoryEfficientMultiheadAttention)]
    attns[0].reference = True  # a module's own setting survives the block
    inputs = _qt_inputs(1)
    with torch.no_grad():
        fast = qt(*inputs)
        with use_reference_attention(qt) as count:
            assert count == len(attns) == 4  # 2 layers x (self, cross)
            assert all(m.reference for m in attns)
            ref = qt(*inputs)
    assert [m.reference for m in attns] == [True, False, False, False]
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=0)
    assert not torch.equal(fast, ref)  # two formulations: float rounding shows
    with pytest.raises(RuntimeError, match='inside'):
        with use_reference_attention(qt):
            raise RuntimeError('inside')
    assert [m.reference for m in attns] == [True, False, False, False]
    with use_reference_attention(nn.Linear(2, 2)) as count:
        assert count == 0


def _flops(module, inputs):
    analyzer = FlopAnalyzer(module, inputs)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer.total()


def test_flop_analyzer_counts_the_reference_attention():
    """Under the switch FlopAnalyzer counts exactly what it counts for mmdet's stock decoder; without it the
    attention product (SDPA, no handle) goes uncounted."""
    qt = _query_transformer().eval()
    stock = _stock_copy(qt).eval()

    class Forward(nn.Module):  # FlopAnalyzer traces forward(*inputs)

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *args):
            return self.inner.decoder(query=args[0], key=args[1], value=args[1], query_pos=args[2],
                                      key_pos=args[1], key_padding_mask=None)[-1]

    g = torch.Generator().manual_seed(0)
    b, nq, nk, c = 2, 11, 96, 64
    inputs = tuple(torch.randn(b, n, c, generator=g) for n in (nq, nk, nq))
    with torch.no_grad():
        fast = _flops(Forward(qt), inputs)
        with use_reference_attention(qt):
            reference = _flops(Forward(qt), inputs)
        stock_flops = _flops(Forward(stock), inputs)
    assert reference == stock_flops
    # per layer: self (nq x nq) and cross (nq x nk) attention, q k^T and probs v: 2 bmm each
    attention_products = 2 * 2 * b * c * nq * (nq + nk)
    assert reference - fast == attention_products


class _ModelForward(nn.Module):
    """``model._forward(x, samples)`` as a module of one input, for FlopAnalyzer."""

    def __init__(self, model, samples):
        super().__init__()
        self.inner = model
        self.samples = samples

    def forward(self, x):
        return self.inner._forward(x, self.samples)


def test_reference_formulation_of_a_whole_model():
    """The model-wide switch flips the query attention and the head's CPU deformable attention, restores both,
    keeps the outputs, and gives FlopAnalyzer the attention products to count."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg())
    model.init_weights()
    model.eval()
    head = model.panoptic_head
    assert head.fast_cpu_deform_attn
    x = torch.randn(1, 3, 64, 64)
    samples = [DetDataSample(metainfo=dict(task='panoptic', img_shape=(64, 64), batch_input_shape=(64, 64)))]

    with torch.no_grad():
        fast_out = model._forward(x, samples)
        fast = _flops(_ModelForward(model, samples), (x, ))
        with reference_formulation(model) as switched:
            assert switched == dict(attention=4, deform_attn_heads=1)
            assert not head.fast_cpu_deform_attn
            assert all(m.reference for m in model.modules() if isinstance(m, MemoryEfficientMultiheadAttention))
            ref_out = model._forward(x, samples)
            reference = _flops(_ModelForward(model, samples), (x, ))
    assert head.fast_cpu_deform_attn
    assert not any(m.reference for m in model.modules() if isinstance(m, MemoryEfficientMultiheadAttention))
    for a, b in zip(fast_out, ref_out):
        for t, r in zip(a, b):
            torch.testing.assert_close(t, r, atol=1e-4, rtol=1e-4)
    assert reference > fast
    stock = copy.deepcopy(model)
    for layer in stock.panoptic_head.query_transformer.decoder.layers:  # the same model with mmcv's attention
        for block in (layer.self_attn, layer.cross_attn):
            plain = nn.MultiheadAttention(block.attn.embed_dim, block.attn.num_heads, dropout=block.attn.dropout)
            plain.load_state_dict(block.attn.state_dict())
            block.attn = plain
    stock.panoptic_head.fast_cpu_deform_attn = False
    with torch.no_grad():
        assert _flops(_ModelForward(stock, samples), (x, )) == reference
