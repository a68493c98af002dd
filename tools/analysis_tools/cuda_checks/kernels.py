"""Correctness of the two kernels the model swaps per device: the pixel decoder's multi-scale deformable attention
and the query transformer's attention (values and gradients against a reference implementation)."""
import copy
import math
from typing import Dict, List, Tuple

import torch
import torch.nn as nn

from .common import BASE_MODEL_CONFIG, TOL_KERNEL, Context, compare, fmt, load_cfg, strict_fp32, worst


def _deform_inputs(bs, heads, channels, shapes, num_query, points, seed, spread=0.25):
    g = torch.Generator().manual_seed(seed)
    shapes = torch.tensor(shapes, dtype=torch.long)
    num_value = int((shapes[:, 0] * shapes[:, 1]).sum())
    value = torch.randn(bs, num_value, heads, channels, generator=g)
    # a quarter of the locations outside [0, 1]: zero padding of out-of-range corners is exercised
    loc = torch.rand(bs, num_query, heads, len(shapes), points, 2, generator=g) * (1 + 2 * spread) - spread
    weights = torch.rand(bs, num_query, heads, len(shapes), points, generator=g)
    weights = weights.flatten(-2).softmax(-1).view_as(weights)
    grad_out = torch.randn(bs, num_query, heads * channels, generator=g)
    return value, shapes, loc, weights, grad_out


def _value_and_grads(fn, value, shapes, loc, weights, grad_out, device) -> List[torch.Tensor]:
    leaves = [t.to(device).clone().requires_grad_() for t in (value, loc, weights)]
    out = fn(leaves[0], shapes.to(device), leaves[1], leaves[2])
    out.backward(grad_out.to(device))
    return [out.detach().cpu()] + [t.grad.cpu() for t in leaves]


def row_deform_attn(ctx: Context):
    """mmcv's MultiScaleDeformableAttention kernel on the device vs our CPU paths (values and gradients)."""
    from mmcv.ops.multi_scale_deform_attn import MultiScaleDeformableAttnFunction

    from oneformer.models.layers.gather_deform_attn import deform_attn_gather as gather
    from oneformer.models.layers.gather_deform_attn import deform_attn_per_level as per_level
    if ctx.dry:
        sizes = dict(bs=2, heads=2, channels=8, shapes=((6, 5), (3, 3), (2, 2)), num_query=17, points=2)
    else:  # Mask2Former's pixel-decoder encoder at 512x512: 1/8, 1/16, 1/32 maps, every pixel a query
        sizes = dict(bs=2, heads=8, channels=32, shapes=((64, 64), (32, 32), (16, 16)), num_query=5376, points=4)
    value, shapes, loc, weights, grad_out = _deform_inputs(**sizes, seed=ctx.args.seed)
    if ctx.cuda:
        starts = torch.cat([shapes.new_zeros(1), (shapes[:, 0] * shapes[:, 1]).cumsum(0)[:-1]]).to(ctx.device)

        def device_fn(v, s, l, w):  # noqa: E741
            return MultiScaleDeformableAttnFunction.apply(v, s, starts, l, w, 64)
        ref_name = 'mmcv CUDA kernel (MultiScaleDeformableAttnFunction)'
    else:
        device_fn, ref_name = ctx.mmcv_fallback, 'mmcv multi_scale_deformable_attn_pytorch (CPU fallback)'
    with strict_fp32():
        ref = _value_and_grads(device_fn, value, shapes, loc, weights, grad_out, ctx.device)
        candidates = {'deform_attn_gather (cpu)': gather, 'deform_attn_per_level (cpu)': per_level}
        if ctx.cuda:
            candidates['mmcv multi_scale_deformable_attn_pytorch (cpu)'] = ctx.mmcv_fallback
        results = {}
        for name, fn in candidates.items():
            got = _value_and_grads(fn, value, shapes, loc, weights, grad_out, torch.device('cpu'))
            for part, a, b in zip(('output', 'd_value', 'd_locations', 'd_weights'), got, ref):
                results[f'{name}: {part}'] = compare(a, b)
    if min(r['ref_max_abs'] for r in results.values()) <= 0:
        raise RuntimeError('a reference output or gradient is all zeros: the comparison would be vacuous')
    name, rel = worst(results)
    values = dict(reference=ref_name, sizes={k: list(v) if isinstance(v, tuple) else v for k, v in sizes.items()},
                  tolerance_rel=TOL_KERNEL, comparisons=results, worst=name, worst_rel_diff=rel)
    return rel <= TOL_KERNEL, values, f'worst rel diff {fmt(rel)} ({name}) vs {ref_name.split(" (")[0]}'


def _query_transformer(ctx: Context) -> nn.Module:
    """The model's task-guided query transformer (base config) at the paper's width (dry run: 64-d), dropout 0."""
    from mmdet.registry import MODELS
    cfg = copy.deepcopy(load_cfg(BASE_MODEL_CONFIG).model.panoptic_head.query_transformer)
    dims, ffn = (64, 128) if ctx.dry else (256, 2048)
    cfg.embed_dims = dims
    for key in ('self_attn_cfg', 'cross_attn_cfg'):
        cfg.decoder.layer_cfg[key].update(embed_dims=dims, num_heads=8, dropout=0.0)
    cfg.decoder.layer_cfg.ffn_cfg.update(embed_dims=dims, feedforward_channels=ffn, ffn_drop=0.0)
    ctx.seed()
    qt = MODELS.build(cfg)
    qt.init_weights()
    with torch.no_grad():
        for p in qt.parameters():  # non-zero biases: every parameter takes part
            if p.dim() == 1:
                p.add_(0.05 * torch.randn_like(p))
    return qt


def _stock_attention(module: nn.Module) -> Tuple[nn.Module, int]:
    """A copy whose attention modules run the stock formulation (``reference=True``: ``nn.MultiheadAttention``
    asked for the attention weights, PyTorch's unfused path)."""
    from oneformer.models.layers import MemoryEfficientMultiheadAttention
    stock = copy.deepcopy(module)
    attns = [m for m in stock.modules() if isinstance(m, MemoryEfficientMultiheadAttention)]
    if not attns:
        raise RuntimeError('the query transformer has no memory-efficient attention module: nothing to compare')
    for m in attns:
        m.reference = True
    return stock, len(attns)


def _qt_inputs(ctx: Context, dims: int):
    import torch.nn.functional as F
    b, hw, nq = (2, (8, 10), 11) if ctx.dry else (2, (128, 128), 149)  # 1/4 of 512x512, 150 queries
    g = torch.Generator().manual_seed(ctx.args.seed)
    return (F.normalize(torch.randn(b, dims, generator=g), dim=-1), torch.randn(b, dims, *hw, generator=g),
            torch.randn(nq, dims, generator=g))


def _run_qt(qt: nn.Module, inputs, device, train: bool):
    """Output, input gradients and parameter gradients (train) of the query transformer on ``device``."""
    qt = qt.to(device).train(train)
    leaves = [t.to(device).clone().requires_grad_(train) for t in inputs]
    if not train:
        with torch.no_grad():
            return dict(output=qt(*leaves).cpu())
    qt.zero_grad()
    out = qt(*leaves)
    g = torch.Generator().manual_seed(1)
    out.backward(torch.randn(out.shape, generator=g).to(device))
    res = dict(output=out.detach().cpu(), d_task_token=leaves[0].grad.cpu(), d_mask_features=leaves[1].grad.cpu(),
               d_query_pos=leaves[2].grad.cpu())
    res.update({f'd_param {n}': p.grad.cpu() for n, p in qt.named_parameters() if p.grad is not None})
    return res


def _compare_dicts(got: Dict, ref: Dict, prefix: str) -> Dict[str, Dict]:
    out = {}
    for key, b in ref.items():
        if key.startswith('d_param') and b.abs().max() == 0:
            continue  # no gradient reaches it in the reference (nothing to compare)
        out[f'{prefix}: {key}'] = compare(got[key], b)
    return out


def _query_attn(ctx: Context, train: bool):
    qt = _query_transformer(ctx)
    stock, count = _stock_attention(qt)
    inputs = _qt_inputs(ctx, qt.input_proj.in_channels)
    cpu = torch.device('cpu')
    with strict_fp32():
        ref = _run_qt(stock, inputs, cpu, train)
        results = _compare_dicts(_run_qt(copy.deepcopy(qt), inputs, ctx.device, train), ref,
                                 f'ours ({ctx.device.type})')
        if ctx.cuda:
            results.update(_compare_dicts(_run_qt(qt, inputs, cpu, train), ref, 'ours (cpu)'))
    return results, count, inputs


def row_query_attn_eval(ctx: Context):
    """Query transformer in eval: our attention (SDPA, fused kernels on CUDA) vs stock unfused attention on CPU."""
    results, count, inputs = _query_attn(ctx, train=False)
    name, rel = worst(results)
    values = dict(reference='stock nn.MultiheadAttention (need_weights, unfused) on cpu, float32',
                  custom_attention_modules=count, input_shapes=[list(t.shape) for t in inputs],
                  tolerance_rel=TOL_KERNEL, comparisons=results, worst=name, worst_rel_diff=rel)
    return rel <= TOL_KERNEL, values, f'worst rel diff {fmt(rel)} ({name})'


def _lean_attention_check(ctx: Context) -> Dict[str, Dict]:
    """The CPU training path's autograd function (recomputing backward, boolean dropout mask) at p=0 vs autograd
    through softmax(q k^T) v."""
    from oneformer.models.layers.memory_efficient_attention import DropoutAttention as fn
    g = torch.Generator().manual_seed(ctx.args.seed)
    bh, nq, nk, d = (4, 11, 80, 8) if ctx.dry else (16, 149, 4096, 32)
    q, k, v = (torch.randn(bh, n, d, generator=g) for n in (nq, nk, nk))
    q = q / math.sqrt(d)
    grad_out = torch.randn(bh, nq, d, generator=g)
    res = {}
    for name, f in (('lean', lambda a, b, c: fn.apply(a, b, c, 0.0)),
                    ('autograd', lambda a, b, c: torch.bmm(torch.bmm(a, b.transpose(1, 2)).softmax(-1), c))):
        leaves = [t.clone().requires_grad_() for t in (q, k, v)]
        out = f(*leaves)
        out.backward(grad_out)
        res[name] = [out.detach()] + [t.grad for t in leaves]
    return {f'lean CPU autograd fn (p=0): {part}': compare(a, b)
            for part, a, b in zip(('output', 'd_q', 'd_k', 'd_v'), res['lean'], res['autograd'])}


def row_query_attn_train(ctx: Context):
    """Query transformer in training with dropout 0: values, input and parameter gradients."""
    results, count, inputs = _query_attn(ctx, train=True)
    with strict_fp32():
        results.update(_lean_attention_check(ctx))
    name, rel = worst(results)
    values = dict(reference='stock nn.MultiheadAttention (need_weights, unfused) on cpu, float32, dropout 0',
                  custom_attention_modules=count, input_shapes=[list(t.shape) for t in inputs],
                  tolerance_rel=TOL_KERNEL, comparisons=results, worst=name, worst_rel_diff=rel,
                  note='dropout > 0 draws from different random streams on CPU and CUDA: not comparable')
    return rel <= TOL_KERNEL, values, f'worst rel diff {fmt(rel)} ({name})'

