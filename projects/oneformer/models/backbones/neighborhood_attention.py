"""Dilated neighbourhood attention (2-D) in pure PyTorch, with NATTEN 0.14-0.17.4 semantics.

Neighbourhood attention (NAT, Hassani et al. 2022, arXiv 2204.07143) lets every query attend to a K×K window of
keys around itself; dilated neighbourhood attention (DiNAT, Hassani & Shi 2022, arXiv 2209.15001) spreads that
window over every d-th pixel. The released OneFormer DiNAT-L models were trained with NATTEN 0.14, whose rules
this module reproduces (SHI-Labs/NATTEN v0.14.4 ``natten/src/cpp/natten_cpu_commons.h``):

* Per axis (length n, kernel K, dilation d), the positions congruent to ``i mod d`` form the *dilation group* of
  query ``i``; it holds ``n_r`` members. The query at group index ``g = i // d`` attends to the K consecutive group
  members starting at ``s = clamp(g - K // 2, 0, n_r - K)``: windows are *shifted* at the borders, never shrunk,
  so there is no mask and every query sees exactly K² keys. NATTEN needs ``n >= K·d`` (hence ``n_r >= K``).
* The relative positional bias is a table of shape (heads, 2K-1, 2K-1) indexed per axis by
  ``K - 1 + (key - query) / d`` (group-index difference); it is added to the scaled logits.
* The K² neighbours are ordered row-major (``ki · K + kj``) in the attention tensor.

The 2-D neighbourhood is separable (window rows × window columns), so everything is driven by per-axis index
tables. Queries are grouped into small tiles inside their dilation group; one batched GEMM per tile multiplies the
tile's queries with the (T+K-1)² keys its windows can reach, and each query's K² entries are gathered from that
product (scattered into it for the weighted sum of values and for the gradients). Time O(H·W·(T+K-1)²·C),
memory O(H·W·K²) for the attention maps — the (H·W)² dense attention is never formed. Backward passes are written
out (custom autograd functions), so autograd keeps only q, k, v and the K² attention maps, like NATTEN.

CUDA: the same code runs on CUDA tensors (plain indexing, GEMM, gather/scatter ops). A
``torch.nn.attention.flex_attention`` fast path was deliberately not added: it could not be tested against this
reference on a GPU.
"""
import functools
from typing import NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

IntPair = Union[int, Sequence[int]]


def _pair(value: IntPair, name: str) -> Tuple[int, int]:
    if isinstance(value, int):
        return value, value
    value = tuple(value)
    if len(value) != 2 or not all(isinstance(v, int) for v in value):
        raise TypeError(f'{name} must be an int or a pair of ints, got {value!r}')
    return value


def check_kernel_dilation(kernel_size: int, dilation: int) -> None:
    """Raise ``ValueError`` for a kernel size or dilation NATTEN rejects.

    Args:
        kernel_size (int): Window size per axis; odd and > 1 (NATTEN 0.14 asserts both).
        dilation (int): Dilation per axis, >= 1.
    """
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int):
        raise TypeError(f'kernel_size must be an int, got {kernel_size!r}')
    if isinstance(dilation, bool) or not isinstance(dilation, int):
        raise TypeError(f'dilation must be an int, got {dilation!r}')
    if kernel_size <= 1 or kernel_size % 2 == 0:
        raise ValueError(f'kernel_size must be an odd number greater than 1, got {kernel_size}')
    if dilation < 1:
        raise ValueError(f'dilation must be >= 1, got {dilation}')


@functools.lru_cache(maxsize=128)
def _axis_tables_cpu(length: int, kernel_size: int, dilation: int) -> Tuple[Tensor, Tensor]:
    check_kernel_dilation(kernel_size, dilation)
    if length < kernel_size * dilation:
        raise ValueError(f'neighbourhood attention needs every axis >= kernel_size * dilation '
                         f'({kernel_size} * {dilation} = {kernel_size * dilation}), got an axis of length {length}; '
                         f'zero-pad the input first (NeighborhoodAttention2D does, like NATTEN 0.14)')
    pos = torch.arange(length)
    group = pos % dilation  # dilation group (residue class) of each query
    group_index = pos // dilation  # index of the query inside its group
    group_size = (length - group + dilation - 1) // dilation  # n_r: members of that group
    half = kernel_size // 2
    # shifted (not shrunk) window inside the group; group_size >= kernel_size because length >= K * d
    start = torch.minimum((group_index - half).clamp(min=0), group_size - kernel_size)
    members = start[:, None] + torch.arange(kernel_size)  # group indices of the K keys
    neighbors = group[:, None] + members * dilation
    rel = members - group_index[:, None] + kernel_size - 1  # row/column of the bias table
    return neighbors, rel


def neighborhood_indices(length: int, kernel_size: int, dilation: int = 1,
                         device: Optional[torch.device] = None) -> Tuple[Tensor, Tensor]:
    """Per-axis neighbour and relative-bias index tables of dilated neighbourhood attention.

    Args:
        length (int): Length of the axis; must be >= ``kernel_size * dilation``.
        kernel_size (int): Odd window size K > 1.
        dilation (int): Dilation d >= 1.
        device (torch.device, optional): Device of the returned tables. Defaults to CPU.

    Returns:
        tuple[Tensor, Tensor]: ``neighbors`` (length, K), int64: the axis position of key t of query i;
        ``rel`` (length, K), int64: its index into the (2K-1)-long axis of the positional-bias table.
    """
    neighbors, rel = _axis_tables_cpu(int(length), kernel_size, dilation)
    return neighbors.to(device, copy=True), rel.to(device, copy=True)  # copies: the cached tables stay intact


class _AxisTiles(NamedTuple):
    """Tiling of the queries along one axis (tiles never straddle dilation groups)."""
    slots: Tensor  # (num_tiles, T): axis position of each query slot (padding slots repeat a real position)
    valid: Tensor  # (num_tiles, T): 1 for real slots, 0 for padding
    regions: Tensor  # (num_tiles, R): axis positions of the keys any query of the tile can see
    loc: Tensor  # (num_tiles, T, K): index into ``regions`` of each of the K window positions
    inverse: Tensor  # (length, ): flat slot (tile * T + m) of each axis position
    rel: Tensor  # (length, K): relative positional bias index (see neighborhood_indices)


@functools.lru_cache(maxsize=128)
def _axis_tiles_cpu(length: int, kernel_size: int, dilation: int, tile: int) -> _AxisTiles:
    neighbors, rel = _axis_tables_cpu(length, kernel_size, dilation)
    largest_group = -(-length // dilation)
    tile = max(1, min(tile, largest_group))
    region = min(tile + kernel_size - 1, largest_group)
    slots, valid, regions, locs = [], [], [], []
    inverse = torch.empty(length, dtype=torch.long)
    # Tiles never straddle dilation groups: inside a group, dilated attention is plain neighbourhood attention,
    # and the windows of T consecutive group members lie within T + K - 1 consecutive members.
    for group in range(dilation):
        members = torch.arange(group, length, dilation)
        for first in range(0, len(members), tile):
            queries = members[first:first + tile]
            window_starts = neighbors[queries, 0] // dilation  # group indices
            start = max(0, min(int(window_starts[0]), len(members) - region))
            keys = members[start:start + region]
            loc = window_starts[:, None] + torch.arange(kernel_size) - start
            assert int(loc.max()) < len(keys), 'tile region does not cover its windows'
            inverse[queries] = len(slots) * tile + torch.arange(len(queries))
            pad = tile - len(queries)
            slots.append(torch.cat([queries, queries[:1].expand(pad)]))
            valid.append(torch.arange(tile) < len(queries))
            regions.append(torch.cat([keys, keys[:1].expand(region - len(keys))]))  # short group: unused padding
            locs.append(torch.cat([loc, loc[:1].expand(pad, -1)]))
    return _AxisTiles(torch.stack(slots), torch.stack(valid), torch.stack(regions), torch.stack(locs), inverse, rel)


class _Tiling(NamedTuple):
    """2-D tiling: flat (row-major H·W) indices combining the two axes' tiles (tile rows outermost)."""
    rows: _AxisTiles
    cols: _AxisTiles
    slots: Tensor  # (nTh, nTw·Th·Tw): position of each query slot
    valid: Tensor  # (nTh, nTw·Th·Tw): real (not padding) slots
    regions: Tensor  # (nTh, nTw·Rh·Rw): positions of each tile's key region
    inverse: Tensor  # (H·W, ): slot of each position in the (nTh, nTw, Th·Tw) layout


@functools.lru_cache(maxsize=32)
def _tiling(height: int, width: int, kernel_size: Tuple[int, int], dilation: Tuple[int, int], tile: Tuple[int, int],
            device: str) -> _Tiling:
    ht = _axis_tiles_cpu(height, kernel_size[0], dilation[0], tile[0])
    wt = _axis_tiles_cpu(width, kernel_size[1], dilation[1], tile[1])
    (nth, th), (ntw, tw) = ht.slots.shape, wt.slots.shape
    slots = (ht.slots[:, None, :, None] * width + wt.slots[None, :, None, :]).reshape(nth, -1)
    valid = (ht.valid[:, None, :, None] & wt.valid[None, :, None, :]).reshape(nth, -1)
    regions = (ht.regions[:, None, :, None] * width + wt.regions[None, :, None, :]).reshape(nth, -1)
    tile_h, slot_h = ht.inverse // th, ht.inverse % th
    tile_w, slot_w = wt.inverse // tw, wt.inverse % tw
    inverse = ((tile_h[:, None] * ntw + tile_w[None, :]) * th + slot_h[:, None]) * tw + slot_w[None, :]
    tensors = (ht, wt, slots, valid, regions, inverse.reshape(-1))
    return _Tiling(*(_AxisTiles(*(t.to(device) for t in x)) if isinstance(x, _AxisTiles) else x.to(device)
                     for x in tensors))


def _default_tile(kernel_size: int) -> int:
    # Tile T trades GEMM work per query ((T+K-1)²·C instead of K²·C) for fewer copied keys (C·(T+K-1)²/T² per
    # query instead of C·K²). On a 2-core CPU, T = 6..10 were equally fast for K = 11 and T = 1 was 4-5x slower.
    return max(4, kernel_size - 3)


# ---------------------------------------------------------------------------------------------------------------
# Tiled kernels on (B, heads, H, W, D) tensors. Queries are grouped into Th×Tw tiles (per dilation group); one
# GEMM per tile computes q·k against the tile's (Th+Kh-1)×(Tw+Kw-1) key region, and the K² window entries of
# each query are then gathered from it (or scattered into it, for the weighted sums and the gradients).
# Time O(H·W·(T+K-1)²·C); memory O(H·W·(T+K-1)²) per chunk of tile rows; no (H·W)² tensor exists.
# ---------------------------------------------------------------------------------------------------------------

_CHUNK_ELEMENTS = 1 << 25  # bound on the per-chunk (…, Th·Tw, Rh·Rw) tile logits (128 MiB in float32)


def _chunks(batch_heads: int, tiling: _Tiling):
    ht, wt = tiling.rows, tiling.cols
    per_tile_row = batch_heads * wt.slots.numel() * ht.slots.shape[1] * ht.regions.shape[1] * wt.regions.shape[1]
    step = max(1, _CHUNK_ELEMENTS // per_tile_row)
    num = ht.slots.shape[0]
    return [(t0, min(t0 + step, num)) for t0 in range(0, num, step)]


def _tap_index(tiling: _Tiling, t0: int, t1: int) -> Tensor:
    """(t1-t0, nTw, Th·Tw, Kh·Kw): index of each window entry in the tile's flattened (Rh·Rw) key region."""
    ht, wt = tiling.rows, tiling.cols
    loc_h, loc_w = ht.loc[t0:t1], wt.loc
    index = loc_h[:, None, :, None, :, None] * wt.regions.shape[1] + loc_w[None, :, None, :, None, :]
    return index.reshape(t1 - t0, wt.slots.shape[0], ht.slots.shape[1] * wt.slots.shape[1], -1)


def _select(x: Tensor, index: Tensor, t0: int, t1: int, ntw: int) -> Tensor:
    """Rows ``index[t0:t1]`` of (B, N, H·W, D) ``x`` as (B, N, t1-t0, nTw, rows per tile, D)."""
    b, n, _, depth = x.shape
    return x.index_select(2, index[t0:t1].reshape(-1)).view(b, n, t1 - t0, ntw, -1, depth)


def _untile(y: Tensor, tiling: _Tiling, height: int, width: int) -> Tensor:
    """(B, N, nTh, nTw, Th·Tw, D) -> (B, N, H, W, D)."""
    b, n = y.shape[:2]
    return y.view(b, n, -1, y.shape[-1]).index_select(2, tiling.inverse).view(b, n, height, width, -1)


def _qk_kernel(q: Tensor, k: Tensor, tiling: _Tiling) -> Tensor:
    """logits[b, n, i, j, a·Kw + c] = <q[b, n, i, j], k[b, n, (window row a of i), (window column c of j)]>."""
    b, n, height, width, channels = q.shape
    ntw = tiling.cols.slots.shape[0]
    # explicit common dtype: under autocast the forward and the (autocast-free) backward mix half and float
    q, k = q.reshape(b, n, -1, channels), k.to(q.dtype).reshape(b, n, -1, channels)
    out = None
    for t0, t1 in _chunks(b * n, tiling):
        full = torch.matmul(_select(q, tiling.slots, t0, t1, ntw),
                            _select(k, tiling.regions, t0, t1, ntw).transpose(-1, -2))
        index = _tap_index(tiling, t0, t1)
        taps = full.gather(-1, index.expand(b, n, *index.shape))
        if out is None:
            out = taps.new_empty((b, n, tiling.slots.shape[0]) + taps.shape[3:])
        out[:, :, t0:t1] = taps
    return _untile(out, tiling, height, width)


def _av_kernel(attn: Tensor, v: Tensor, tiling: _Tiling) -> Tensor:
    """out[b, n, i, j] = sum over the window of attn[b, n, i, j, a·Kw + c] · v[b, n, (row a), (column c)]."""
    b, n, height, width, channels = v.shape
    ntw = tiling.cols.slots.shape[0]
    region = tiling.rows.regions.shape[1] * tiling.cols.regions.shape[1]
    attn, v = attn.to(v.dtype).reshape(b, n, height * width, -1), v.reshape(b, n, -1, channels)
    out = v.new_empty(b, n, tiling.slots.shape[0], ntw, tiling.slots.shape[1] // ntw, channels)
    for t0, t1 in _chunks(b * n, tiling):
        taps = _select(attn, tiling.slots, t0, t1, ntw)
        index = _tap_index(tiling, t0, t1).expand(b, n, -1, -1, -1, -1)
        full = taps.new_zeros(taps.shape[:-1] + (region, )).scatter_(-1, index, taps)  # window entries distinct
        out[:, :, t0:t1] = torch.matmul(full, _select(v, tiling.regions, t0, t1, ntw))
    return _untile(out, tiling, height, width)


def _scatter_kernel(weights: Tensor, x: Tensor, tiling: _Tiling) -> Tensor:
    """Transpose of the gathers: out[b, n, key] += weights[b, n, i, j, tap] · x[b, n, i, j] over all windows.

    Key regions of neighbouring tiles overlap, so the per-tile results are accumulated with ``index_add_``.
    """
    b, n, height, width, depth = x.shape
    ntw = tiling.cols.slots.shape[0]
    region = tiling.rows.regions.shape[1] * tiling.cols.regions.shape[1]
    weights, x = weights.to(x.dtype).reshape(b, n, height * width, -1), x.reshape(b, n, -1, depth)
    out = x.new_zeros(b, n, height * width, depth)
    for t0, t1 in _chunks(b * n, tiling):
        valid = tiling.valid[t0:t1].view(t1 - t0, ntw, -1, 1)
        taps = _select(weights, tiling.slots, t0, t1, ntw) * valid  # padding slots must not contribute
        index = _tap_index(tiling, t0, t1).expand(b, n, -1, -1, -1, -1)
        full = taps.new_zeros(taps.shape[:-1] + (region, )).scatter_(-1, index, taps)
        keys = torch.matmul(full.transpose(-1, -2), _select(x, tiling.slots, t0, t1, ntw))  # (…, Rh·Rw, D)
        out.index_add_(2, tiling.regions[t0:t1].reshape(-1), keys.reshape(b, n, -1, depth).to(out.dtype))
    return out.view(b, n, height, width, depth)


def _bias(rpb: Tensor, tiling: _Tiling) -> Tensor:
    """bias[n, i, j, a, c] = rpb[n, rel_h[i, a], rel_w[j, c]] as a (heads, H, W, Kh, Kw) view."""
    rel_h, rel_w = tiling.rows.rel, tiling.cols.rel
    # two index_selects (one per axis) are much cheaper on CPU than one broadcast advanced index
    bias = rpb.index_select(1, rel_h.reshape(-1)).index_select(2, rel_w.reshape(-1))
    return bias.view(rpb.shape[0], rel_h.shape[0], rel_h.shape[1], rel_w.shape[0], rel_w.shape[1]).transpose(2, 3)


def _bias_grad(grad: Tensor, tiling: _Tiling, table_shape: torch.Size) -> Tensor:
    """Gradient of :func:`_bias` for the logits gradient ``grad`` (B, heads, H, W, Kh·Kw)."""
    rel_h, rel_w = tiling.rows.rel, tiling.cols.rel
    heads, height, width = grad.shape[1:4]
    kh, kw = rel_h.shape[1], rel_w.shape[1]
    g = grad.sum(0).view(heads, height, width, kh, kw)
    # sum over (j, c) into bias columns, then over (i, a) into bias rows
    g = g.permute(0, 1, 3, 2, 4).reshape(heads, height, kh, width * kw)
    by_col = g.new_zeros(heads, height, kh, table_shape[2]).index_add_(3, rel_w.reshape(-1), g)
    by_col = by_col.reshape(heads, height * kh, table_shape[2])
    return by_col.new_zeros(table_shape).index_add_(1, rel_h.reshape(-1), by_col)


class _NeighborhoodQK(torch.autograd.Function):

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, rpb: Optional[Tensor], tiling: _Tiling) -> Tensor:
        logits = _qk_kernel(q, k, tiling)
        if rpb is not None:
            logits.view(logits.shape[:4] + tiling.rows.rel.shape[1:] + tiling.cols.rel.shape[1:]).add_(
                _bias(rpb, tiling).to(logits.dtype))
            ctx.rpb_meta = (rpb.shape, rpb.dtype)
        else:
            ctx.rpb_meta = None
        ctx.tiling = tiling
        ctx.save_for_backward(q, k)
        return logits

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        q, k = ctx.saved_tensors
        tiling = ctx.tiling
        grad = grad.contiguous()
        d_q = d_k = d_rpb = None
        if ctx.needs_input_grad[0]:
            d_q = _av_kernel(grad, k, tiling)
        if ctx.needs_input_grad[1]:
            d_k = _scatter_kernel(grad, q, tiling)
        if ctx.rpb_meta is not None and ctx.needs_input_grad[2]:
            shape, dtype = ctx.rpb_meta
            d_rpb = _bias_grad(grad.to(dtype), tiling, shape)
        return d_q, d_k, d_rpb, None


class _NeighborhoodAV(torch.autograd.Function):

    @staticmethod
    def forward(ctx, attn: Tensor, v: Tensor, tiling: _Tiling) -> Tensor:
        ctx.tiling = tiling
        ctx.save_for_backward(attn, v)
        return _av_kernel(attn, v, tiling)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        attn, v = ctx.saved_tensors
        tiling = ctx.tiling
        grad = grad.contiguous()
        d_attn = d_v = None
        if ctx.needs_input_grad[0]:
            d_attn = _qk_kernel(grad, v, tiling)
        if ctx.needs_input_grad[1]:
            d_v = _scatter_kernel(attn, grad, tiling)
        return d_attn, d_v, None


def _tiles(height: int, width: int, kernel_size: IntPair, dilation: IntPair, device: torch.device,
           tile_size: Optional[IntPair]) -> _Tiling:
    kernel_size, dilation = _pair(kernel_size, 'kernel_size'), _pair(dilation, 'dilation')
    tile = tuple(_default_tile(k) for k in kernel_size) if tile_size is None else _pair(tile_size, 'tile_size')
    if min(tile) < 1:
        raise ValueError(f'tile_size must be >= 1, got {tile_size}')
    for length, k, d in ((height, kernel_size[0], dilation[0]), (width, kernel_size[1], dilation[1])):
        _axis_tables_cpu(int(length), k, d)  # validates the arguments with a clear message
    return _tiling(int(height), int(width), kernel_size, dilation, tile, str(device))


def _check_5d(name: str, x: Tensor) -> None:
    if x.dim() != 5:
        raise ValueError(f'{name} must be (batch, heads, height, width, channels), got shape {tuple(x.shape)}')


def na2d_qk(q: Tensor,
            k: Tensor,
            kernel_size: IntPair,
            dilation: IntPair = 1,
            rpb: Optional[Tensor] = None,
            tile_size: Optional[IntPair] = None) -> Tensor:
    """Neighbourhood attention logits ``q·k`` (+ relative positional bias), like NATTEN's ``natten2dqkrpb``.

    Args:
        q (Tensor): Queries (B, heads, H, W, C), already scaled.
        k (Tensor): Keys, same shape as ``q``.
        kernel_size (int | tuple[int, int]): Odd window size K (> 1) per axis.
        dilation (int | tuple[int, int]): Dilation per axis. Defaults to 1.
        rpb (Tensor, optional): Bias table (heads, 2Kh-1, 2Kw-1). Defaults to None (no bias).
        tile_size (int | tuple[int, int], optional): Queries per tile and axis (speed only; results equal up to
            float rounding). Defaults to max(4, K - 3).

    Returns:
        Tensor: Logits (B, heads, H, W, Kh·Kw), neighbours in row-major window order.
    """
    _check_5d('q', q)
    if k.shape != q.shape:
        raise ValueError(f'q and k shapes differ: {tuple(q.shape)} vs {tuple(k.shape)}')
    tiling = _tiles(q.shape[2], q.shape[3], kernel_size, dilation, q.device, tile_size)
    if rpb is not None:
        expected = (q.shape[1], 2 * tiling.rows.rel.shape[1] - 1, 2 * tiling.cols.rel.shape[1] - 1)
        if tuple(rpb.shape) != expected:
            raise ValueError(f'rpb must have shape {expected}, got {tuple(rpb.shape)}')
    return _NeighborhoodQK.apply(q, k, rpb, tiling)


def na2d_av(attn: Tensor,
            v: Tensor,
            kernel_size: IntPair,
            dilation: IntPair = 1,
            tile_size: Optional[IntPair] = None) -> Tensor:
    """Weighted sum of neighbouring values, like NATTEN's ``natten2dav``.

    Args:
        attn (Tensor): Attention weights (B, heads, H, W, Kh·Kw), row-major window order.
        v (Tensor): Values (B, heads, H, W, C).
        kernel_size (int | tuple[int, int]): Odd window size K (> 1) per axis.
        dilation (int | tuple[int, int]): Dilation per axis. Defaults to 1.
        tile_size (int | tuple[int, int], optional): See :func:`na2d_qk`.

    Returns:
        Tensor: (B, heads, H, W, C).
    """
    _check_5d('v', v)
    tiling = _tiles(v.shape[2], v.shape[3], kernel_size, dilation, v.device, tile_size)
    expected = tuple(v.shape[:4]) + (tiling.rows.rel.shape[1] * tiling.cols.rel.shape[1], )
    if tuple(attn.shape) != expected:
        raise ValueError(f'attn must have shape {expected}, got {tuple(attn.shape)}')
    return _NeighborhoodAV.apply(attn, v, tiling)


def neighborhood_attention_2d(q: Tensor,
                              k: Tensor,
                              v: Tensor,
                              kernel_size: IntPair,
                              dilation: IntPair = 1,
                              rpb: Optional[Tensor] = None,
                              scale: Optional[float] = None,
                              tile_size: Optional[IntPair] = None) -> Tensor:
    """Dilated neighbourhood attention: ``softmax(scale·q·kᵀ + bias) · v`` over each query's K×K neighbours.

    Args:
        q (Tensor): Queries (B, heads, H, W, C); H, W >= kernel_size · dilation.
        k (Tensor): Keys, same shape.
        v (Tensor): Values, same shape.
        kernel_size (int | tuple[int, int]): Odd window size K (> 1) per axis.
        dilation (int | tuple[int, int]): Dilation per axis. Defaults to 1.
        rpb (Tensor, optional): Relative positional bias (heads, 2Kh-1, 2Kw-1), added unscaled. Defaults to None.
        scale (float, optional): Query scale. Defaults to C ** -0.5.
        tile_size (int | tuple[int, int], optional): See :func:`na2d_qk`.

    Returns:
        Tensor: (B, heads, H, W, C).
    """
    scale = q.shape[-1]**-0.5 if scale is None else scale
    attn = na2d_qk(q * scale, k, kernel_size, dilation, rpb, tile_size).softmax(dim=-1)
    return na2d_av(attn, v, kernel_size, dilation, tile_size)


class NeighborhoodAttention2D(nn.Module):
    """Dilated neighbourhood attention layer on channels-last maps, as NATTEN 0.14's ``NeighborhoodAttention2D``.

    ``qkv`` projection, per-head attention over the K×K dilated neighbourhood with a relative positional bias,
    then ``proj``. Maps smaller than ``kernel_size * dilation`` are zero-padded at the bottom/right *before* the
    ``qkv`` projection (so padded tokens carry the qkv bias and act as real keys/values) and cropped before
    ``proj`` — NATTEN 0.14's behaviour, which the released DiNAT OneFormer models rely on.

    Args:
        embed_dims (int): Channels C; divisible by ``num_heads``.
        num_heads (int): Number of heads.
        kernel_size (int): Odd window size K > 1.
        dilation (int): Dilation d >= 1. Defaults to 1.
        qkv_bias (bool): Bias in the qkv projection. Defaults to True.
        qk_scale (float, optional): Query scale; defaults to head_dim ** -0.5.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
        proj_drop (float): Dropout after ``proj``. Defaults to 0.
        rel_pos_bias (bool): Learn the (heads, 2K-1, 2K-1) bias table ``rpb``. Defaults to True (NATTEN 0.14).
    """

    def __init__(self,
                 embed_dims: int,
                 num_heads: int,
                 kernel_size: int,
                 dilation: int = 1,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 rel_pos_bias: bool = True):
        super().__init__()
        check_kernel_dilation(kernel_size, dilation)
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims ({embed_dims}) must be divisible by num_heads ({num_heads})')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.head_dim = embed_dims // num_heads
        self.scale = qk_scale or self.head_dim**-0.5
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        if rel_pos_bias:
            self.rpb = nn.Parameter(torch.zeros(num_heads, 2 * kernel_size - 1, 2 * kernel_size - 1))
            nn.init.trunc_normal_(self.rpb, std=.02, mean=0., a=-2., b=2.)
        else:
            self.register_parameter('rpb', None)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: Tensor) -> Tensor:
        """Attend.

        Args:
            x (Tensor): (B, H, W, C), channels last.

        Returns:
            Tensor: (B, H, W, C).
        """
        if x.dim() != 4 or x.shape[-1] != self.embed_dims:
            raise ValueError(f'expected (B, H, W, {self.embed_dims}), got {tuple(x.shape)}')
        batch, height, width, channels = x.shape
        window = self.kernel_size * self.dilation
        pad_h, pad_w = max(0, window - height), max(0, window - width)
        if pad_h or pad_w:
            x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))  # before qkv: padded tokens get the qkv bias (NATTEN 0.14)
        hp, wp = x.shape[1:3]
        qkv = self.qkv(x).reshape(batch, hp, wp, 3, self.num_heads, self.head_dim).permute(3, 0, 4, 1, 2, 5)
        q, k, v = qkv.unbind(0)
        attn = na2d_qk(q * self.scale, k, self.kernel_size, self.dilation, self.rpb).softmax(dim=-1)
        attn = self.attn_drop(attn)
        x = na2d_av(attn, v, self.kernel_size, self.dilation)
        x = x.permute(0, 2, 3, 1, 4).reshape(batch, hp, wp, channels)
        if pad_h or pad_w:
            x = x[:, :height, :width]
        return self.proj_drop(self.proj(x))

    def extra_repr(self) -> str:
        return (f'kernel_size={self.kernel_size}, dilation={self.dilation}, head_dim={self.head_dim}, '
                f'num_heads={self.num_heads}, rel_pos_bias={self.rpb is not None}')
