"""Speed of the pure-PyTorch dilated neighbourhood attention against dense masked attention; DiNAT-L size.

    python tools/analysis_tools/benchmark_dinat.py                       # CPU, 56x56 / 96x96 / 160x160, d 1 and 8
    python tools/analysis_tools/benchmark_dinat.py --device cuda
    python tools/analysis_tools/benchmark_dinat.py --sizes 56x56 --dilations 1,4 --repeats 5

For each map size and dilation (kernel 11, 192 channels, 6 heads by default: DiNAT-L's first stage on a 640x640
image is 160x160) it times, in the same process and with the same inputs:

* ``fast``: :func:`oneformer.models.backbones.neighborhood_attention.neighborhood_attention_2d` (gathers over the
  K×K neighbours, O(H·W·K²·C));
* ``dense``: the same attention as masked full attention over all H·W keys (``F.scaled_dot_product_attention``
  with an additive mask holding the relative positional bias on the K² neighbours and -inf elsewhere). To bound
  memory it runs in chunks of ``--chunk`` queries, the chunk's (heads, chunk, H·W) mask is built inside the timed
  region (a dense formulation has to materialise it), and for backward each chunk is recomputed
  (``torch.utils.checkpoint``) instead of keeping (H·W)² attention maps.

Before timing, both are checked to agree on three query chunks (first, middle, last; max abs difference printed).
``fwd`` runs under ``torch.no_grad``; ``fwd+bwd`` backpropagates a random gradient to q, k, v and the bias table.
``fast`` cells are the median of ``--repeats`` runs after ``--warmup``; ``dense`` cells the median of
``--dense-repeats`` runs (default 1: at 160x160 one dense forward takes minutes on 2 CPU cores). Dense forward is
skipped above ``--dense-max-tokens`` tokens, dense backward above ``--dense-backward-max-tokens``.

It also prints the parameter count of DiNAT-L (built on the meta device, no memory).
"""
import argparse
import statistics
import time
from typing import Callable, List, Optional

import oneformer  # noqa: F401  registers the project modules; first, before torch: idle OpenMP threads sleep

# isort: split
import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp

from oneformer.models.backbones import DiNAT
from oneformer.models.backbones.neighborhood_attention import neighborhood_attention_2d, neighborhood_indices
from oneformer.utils import collect_env, format_env


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--sizes', default='56x56,96x96,160x160', help='comma-separated HxW maps')
    parser.add_argument('--dilations', default='1,8', help='comma-separated dilations')
    parser.add_argument('--kernel', type=int, default=11)
    parser.add_argument('--channels', type=int, default=192)
    parser.add_argument('--heads', type=int, default=6)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--chunk', type=int, default=1024, help='queries per dense chunk')
    parser.add_argument('--dense-repeats', type=int, default=1)
    parser.add_argument('--dense-max-tokens', type=int, default=160 * 160, help='skip dense above H*W tokens')
    parser.add_argument('--dense-backward-max-tokens', type=int, default=96 * 96,
                        help='skip dense fwd+bwd above H*W tokens')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads(), help='intra-op threads (CPU)')
    return parser.parse_args(argv)


def dense_bias(rpb: torch.Tensor, height: int, width: int, kernel: int, dilation: int, start: int,
               stop: int) -> torch.Tensor:
    """Additive (heads, stop-start, H*W) mask for queries start..stop-1: bias on neighbours, -inf elsewhere."""
    nbr_h, rel_h = neighborhood_indices(height, kernel, dilation, rpb.device)
    nbr_w, rel_w = neighborhood_indices(width, kernel, dilation, rpb.device)
    query = torch.arange(start, stop, device=rpb.device)
    qi, qj = query // width, query % width
    keys = (nbr_h[qi][:, :, None] * width + nbr_w[qj][:, None, :]).flatten(1)  # (chunk, K²)
    values = rpb[:, rel_h[qi][:, :, None], rel_w[qj][:, None, :]].flatten(2)  # (heads, chunk, K²)
    mask = rpb.new_full((rpb.shape[0], stop - start, height * width), float('-inf'))
    # scatter is differentiable w.r.t. ``values``, so the bias table gets its gradient through the mask
    return mask.scatter(2, keys.expand(rpb.shape[0], -1, -1), values)


def dense_attention(q, k, v, rpb, kernel, dilation, scale, chunk, starts=None):
    """Masked full attention on (B, heads, H, W, C) tensors, ``chunk`` queries at a time.

    With ``starts``, only the chunks beginning at those query indices are computed and returned, concatenated
    as (B, heads, queries, C).
    """
    b, heads, height, width, channels = q.shape
    qf, kf, vf = (t.reshape(b, heads, height * width, channels) for t in (q, k, v))

    def run(q_chunk, k_all, v_all, table, start, stop):
        mask = dense_bias(table, height, width, kernel, dilation, start, stop)
        return F.scaled_dot_product_attention(q_chunk, k_all, v_all, attn_mask=mask.to(q_chunk.dtype), scale=scale)

    outs = []
    for start in (range(0, height * width, chunk) if starts is None else starts):
        stop = min(start + chunk, height * width)
        args = (qf[:, :, start:stop], kf, vf, rpb, start, stop)
        if torch.is_grad_enabled():
            outs.append(cp.checkpoint(run, *args, use_reentrant=False))
        else:
            outs.append(run(*args))
    out = torch.cat(outs, 2)
    return out if starts is not None else out.reshape(b, heads, height, width, channels)


def sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], None], device: torch.device, repeats: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_case(args, device, height, width, dilation):
    g = torch.Generator(device='cpu').manual_seed(0)
    head_dim = args.channels // args.heads
    shape = (args.batch, args.heads, height, width, head_dim)
    q, k, v, grad = (torch.randn(shape, generator=g).to(device) for _ in range(4))
    rpb = (0.1 * torch.randn(args.heads, 2 * args.kernel - 1, 2 * args.kernel - 1, generator=g)).to(device)
    scale = head_dim**-0.5
    leaves = [t.clone().requires_grad_() for t in (q, k, v, rpb)]
    fast = lambda a, b, c, r: neighborhood_attention_2d(a, b, c, args.kernel, dilation, r, scale)
    dense = lambda a, b, c, r: dense_attention(a, b, c, r, args.kernel, dilation, scale, args.chunk)

    def fwd(fn):
        with torch.no_grad():
            fn(q, k, v, rpb)

    def fwd_bwd(fn):
        for t in leaves:
            t.grad = None
        fn(*leaves).backward(grad)

    row = dict(size=f'{height}x{width}', dilation=dilation)
    tokens = height * width
    with torch.no_grad():  # agreement on the first, middle and last chunk of queries
        starts = sorted({0, (tokens // 2) // args.chunk * args.chunk, (tokens - 1) // args.chunk * args.chunk})
        ref = dense_attention(q, k, v, rpb, args.kernel, dilation, scale, args.chunk, starts)
        out = fast(q, k, v, rpb).flatten(2, 3)
        out = torch.cat([out[:, :, s:s + args.chunk] for s in starts], 2)
        row['max_diff'] = (out - ref).abs().max().item()
    for name, runner in (('fwd', fwd), ('fwd+bwd', fwd_bwd)):
        row[f'fast {name}'] = timed(lambda: runner(fast), device, args.repeats, args.warmup)
        limit = args.dense_max_tokens if name == 'fwd' else args.dense_backward_max_tokens
        if tokens <= limit:
            row[f'dense {name}'] = timed(lambda: runner(dense), device, args.dense_repeats, 0)
    return row


def fmt(seconds: Optional[float]) -> str:
    return '-' if seconds is None else f'{seconds * 1e3:.1f}'


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == 'cpu':
        torch.set_num_threads(args.threads)
    sizes = [tuple(int(x) for x in s.split('x')) for s in args.sizes.split(',')]
    dilations = [int(d) for d in args.dilations.split(',')]
    print(format_env(collect_env(str(device))))
    print(f'batch {args.batch}, kernel {args.kernel}, channels {args.channels}, '
          f'heads {args.heads}, fast: median of {args.repeats} after {args.warmup} warmup, dense: median of '
          f'{args.dense_repeats}, dense chunk {args.chunk}')
    print()
    print('| map | dilation | fast fwd (ms) | dense fwd (ms) | dense/fast fwd | fast fwd+bwd (ms) '
          '| dense fwd+bwd (ms) | dense/fast fwd+bwd | max abs diff |')
    print('|---|---|---|---|---|---|---|---|---|')
    for height, width in sizes:
        for dilation in dilations:
            if min(height, width) < args.kernel * dilation:
                print(f'| {height}x{width} | {dilation} | skipped: map < kernel x dilation | | | | | | |')
                continue
            r = bench_case(args, device, height, width, dilation)
            ratio = lambda n: (f'{r[f"dense {n}"] / r[f"fast {n}"]:.1f}x'
                               if f'dense {n}' in r else '-')
            diff = f'{r["max_diff"]:.1e}' if 'max_diff' in r else '-'
            print(f'| {r["size"]} | {dilation} | {fmt(r["fast fwd"])} | {fmt(r.get("dense fwd"))} | {ratio("fwd")} '
                  f'| {fmt(r["fast fwd+bwd"])} | {fmt(r.get("dense fwd+bwd"))} | {ratio("fwd+bwd")} | {diff} |',
                  flush=True)
    with torch.device('meta'):
        model = DiNAT(arch='large')
    params = sum(p.numel() for p in model.parameters())
    print()
    print(f'DiNAT-L backbone (OneFormer config, out_indices 0-3): {params:,} parameters ({params / 1e6:.1f} M)')


if __name__ == '__main__':
    main()
