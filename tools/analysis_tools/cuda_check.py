"""CUDA correctness and speed check of oneformer-mm (issue 14): one command, one markdown table, one JSON report.

    # on a GPU machine (see docs/cuda_check.md: cuda_check.sh build, then run), about 5 minutes on one H200
    python tools/analysis_tools/cuda_check.py --out work_dirs/cuda_check/cuda_check.json
    # anywhere: every code path with tiny sizes on CPU, GPU-only rows marked "skipped (no CUDA)"; under a minute
    python tools/analysis_tools/cuda_check.py --device cpu --dry-run
    python tools/analysis_tools/cuda_check.py --only deform_attn,model_forward   # rows, groups or globs (fps_*)

Rows (``--list`` prints them):

* correctness, float32 with TF32 off. The device side runs what the model runs on that device (mmcv's CUDA
  kernel, PyTorch's fused attention), the reference runs our CPU path; on a CPU-only machine (``--device cpu``) the
  device side is mmcv's stock CPU fallback, so the rows still compare two implementations:
  ``deform_attn`` (values and gradients), ``query_attn_eval``, ``query_attn_train`` (dropout 0; plus the lean CPU
  autograd function), ``model_forward`` (demo model, three task tokens, logits), ``hf_parity`` (converted tiny
  random HF OneFormers give HF's logits on the device);
* amp: ``--amp-iters`` training iterations of the demo config (the same batches and initial weights every run)
  with ``AmpOptimWrapper`` (what ``tools/train.py --amp`` uses) in float16 / bfloat16 against float32: finite
  losses throughout and a smoothed loss curve within ``--amp-tol`` (max relative deviation) of float32's; a second
  float32 run gives the noise floor;
* speed (never FAIL for being slow): ``bench_peers`` (``benchmark_peers.py`` on the device, full preset),
  ``fps_{r50,swinl}_{fp32,float16,bfloat16}`` (``test_step`` of the COCO configs at 800x1333, batch 1, random
  weights, ``torch.cuda.synchronize`` timing), ``train_swinl`` (training step time and peak allocated memory of
  the Swin-L COCO model at 1024x1024, batch 2, against mmdet's Mask2Former with the same backbone).

Each row records ``status`` (ok / FAIL / skipped), the values compared or measured and the thresholds. The exit code
is 1 when a correctness or amp row fails, 2 when only other rows failed (errors), 0 otherwise.
"""
import argparse
import contextlib
import copy
import dataclasses
import fnmatch
import gc
import importlib.util
import json
import math
import os
import os.path as osp
import platform
import statistics
import sys
import tempfile
import time
import traceback
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

TOOLS = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(TOOLS))
sys.path.insert(0, TOOLS)  # oneformer_bench (benchmark helpers), benchmark_peers

SCHEMA_VERSION = 1
DEMO_CONFIG = 'configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py'
BASE_MODEL_CONFIG = 'configs/_base_/models/oneformer_r50.py'
COCO_CONFIGS = {
    'r50': 'configs/oneformer/oneformer_r50_8xb2-50e_coco-panoptic.py',
    'swinl': 'configs/oneformer/oneformer_swin-l-p4-w12-384-in21k_16xb1-100e_coco-panoptic.py',
}
AMP_DTYPES = ('float16', 'bfloat16')
CORRECTNESS_GROUPS = ('correctness', 'amp')

# thresholds: rel = max|a - b| / max|b| (b the reference); logits: max|a - b| / max(1, max|b|)
TOL_KERNEL = 1e-4  # deformable attention, query-transformer attention
TOL_LOGITS = 1e-3  # a whole model, CUDA vs CPU (the bound)
TOL_HF = 1e-4  # converted model vs HF transformers on the same device (tests/test_converters: 1e-4 on CPU)


class Skip(Exception):
    """Raised by a row that cannot run here (the reason goes to the table)."""


@dataclasses.dataclass
class Row:
    """One line of the report: ``fn(ctx)`` returns ``(ok, values, summary)``."""
    name: str
    group: str
    title: str
    fn: Callable[['Context'], Tuple[bool, Dict, str]]
    needs_cuda: bool = False


# ------------------------------------------------------------------------------------------------------ helpers
def _stack():
    """Import the stack in the order that keeps mmcv's own non-CUDA deformable-attention function reachable
    (``oneformer`` installs a dispatcher under that name on first use). Returns mmcv's function."""
    try:
        import mmcv.ops.multi_scale_deform_attn as msda
    except ImportError as e:  # mmcv without compiled ops, or no mmcv
        raise SystemExit(f'cuda_check: cannot import mmcv.ops ({e}); on the GPU machine run '
                         '`bash tools/analysis_tools/cuda_check.sh build` first (docs/cuda_check.md)') from e
    fn = msda.multi_scale_deformable_attn_pytorch
    if fn.__module__ != msda.__name__:  # already routed by an earlier import: the router keeps the original
        fn = getattr(sys.modules[fn.__module__], 'STOCK', None) or getattr(sys.modules[fn.__module__], '_STOCK')
    from oneformer_bench.builders import init_scope

    import oneformer  # noqa: F401  (registers the models)
    init_scope()  # mmdet's registries as default scope, quiet model-building logs
    return fn


def _first_attr(candidates: Sequence[str], name: str):
    """``name`` from the first importable module of ``candidates`` that has it (module paths are being moved)."""
    errors = []
    for module in candidates:
        try:
            mod = importlib.import_module(module)
        except ImportError as e:
            errors.append(f'{module}: {e}')
            continue
        if hasattr(mod, name):
            return getattr(mod, name)
        errors.append(f'{module}: no {name}')
    raise ImportError(f'cannot find {name}: ' + '; '.join(errors))


def _deform_fns() -> Tuple[Callable, Callable]:
    mods = ('oneformer.models.layers', 'oneformer.models.layers.gather_deform_attn',
            'oneformer.models.layers.cpu_deform_attn', 'oneformer.models.cpu_deform_attn')
    return _first_attr(mods, 'deform_attn_gather'), _first_attr(mods, 'deform_attn_per_level')


def _task_api():
    mods = ('oneformer.tasks', 'oneformer.utils')
    return _first_attr(mods, 'TASKS'), _first_attr(mods, 'task_tokens')


def _config_path(relative: str) -> str:
    path = osp.join(REPO, relative)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{relative} not found under {REPO}')
    return path


def _load_cfg(relative: str):
    from mmengine.config import Config
    return Config.fromfile(_config_path(relative))


def compare(a: torch.Tensor, b: torch.Tensor, logits: bool = False) -> Dict[str, float]:
    """Largest absolute difference of ``a`` to the reference ``b`` and the same relative to ``b``'s largest value
    (``logits``: relative to ``max(1, max|b|)``, i.e. absolute for logits of at most unit size)."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    if a.shape != b.shape:
        raise ValueError(f'shape {tuple(a.shape)} vs reference {tuple(b.shape)}')
    if not torch.isfinite(a).all() or not torch.isfinite(b).all():
        return dict(max_abs_diff=math.inf, ref_max_abs=math.nan, rel_diff=math.inf)
    diff = (a - b).abs().max().item() if a.numel() else 0.0
    scale = b.abs().max().item() if b.numel() else 0.0
    denom = max(1.0, scale) if logits else scale
    return dict(max_abs_diff=diff, ref_max_abs=scale, rel_diff=diff / denom if denom > 0 else math.inf)


def worst(entries: Dict[str, Dict[str, float]]) -> Tuple[str, float]:
    """(name, rel_diff) of the worst comparison."""
    name = max(entries, key=lambda k: entries[k]['rel_diff'])
    return name, entries[name]['rel_diff']


@contextlib.contextmanager
def strict_fp32() -> Iterator[None]:
    """float32 matmuls and convolutions without TF32 (cuDNN allows TF32 convolutions by default)."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def tf32_flags() -> Dict[str, bool]:
    return dict(matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32,
                cudnn_allow_tf32=torch.backends.cudnn.allow_tf32, cudnn_benchmark=torch.backends.cudnn.benchmark)


def _fmt(x: float) -> str:
    return f'{x:.1e}' if isinstance(x, float) and (x == 0 or abs(x) < 1e-2 or abs(x) >= 1e4) else f'{x:.3g}'


# ------------------------------------------------------------------------------------------------------ context
class Context:
    """Arguments, device, work dir and what several rows share (the AMP batches and float32 curve, models)."""

    def __init__(self, args, mmcv_fallback: Callable) -> None:
        self.args = args
        self.device = torch.device(args.device)
        self.cuda = self.device.type == 'cuda'
        self.dry = args.dry_run
        self.work_dir = args.work_dir
        self.mmcv_fallback = mmcv_fallback
        self.cache: Dict[str, object] = {}

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def seed(self, offset: int = 0) -> None:
        import random

        import numpy as np
        s = self.args.seed + offset
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)

    def free(self, *keys: str, everything: bool = False) -> None:
        """Drop cached objects (``keys``, or all with ``everything``), then release unreferenced GPU memory."""
        for key in list(self.cache) if everything else keys:
            self.cache.pop(key, None)
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()


def build_model(model_cfg, device: torch.device, init: bool = True) -> nn.Module:
    """Build a detector from a model config (init_cfg removed: random weights, no download)."""
    from mmdet.registry import MODELS
    from mmengine.config import ConfigDict
    cfg = ConfigDict(copy.deepcopy(model_cfg))
    strip_pretrained(cfg)
    model = MODELS.build(cfg).to(device)
    if init:
        model.init_weights()  # on the device: fast for Swin-L
    return model


def strip_pretrained(model_cfg) -> None:
    """Drop the pretrained-checkpoint init of the model and its backbone (random weights, nothing downloaded)."""
    model_cfg.pop('init_cfg', None)
    if 'backbone' in model_cfg:
        model_cfg.backbone.init_cfg = None


def shrink_for_dry_run(model_cfg, image_size: int) -> None:
    """Tiny widths and depths of the same architecture (same backbone type, head, losses) for ``--dry-run``."""
    from mmengine.config import ConfigDict

    from oneformer.testing import shrink_head
    bb = model_cfg.backbone
    kind = str(bb.type)
    if 'Swin' in kind:
        bb.update(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4, pretrain_img_size=64,
                  drop_path_rate=0.0, init_cfg=None)  # channels 16..128 as shrink_head expects
    elif 'ResNet' in kind:
        model_cfg.backbone = ConfigDict(type='ResNet', depth=18, base_channels=16, num_stages=4,
                                        out_indices=(0, 1, 2, 3), norm_cfg=dict(type='BN', requires_grad=True),
                                        norm_eval=False, style='pytorch', init_cfg=None)
    else:
        raise ValueError(f'--dry-run knows how to shrink Swin and ResNet backbones, not {kind}')
    shrink_head(model_cfg.panoptic_head)
    model_cfg.test_cfg.max_per_image = model_cfg.panoptic_head.num_queries
    model_cfg.train_cfg.num_points = 64
    for aug in model_cfg.data_preprocessor.get('batch_augments', None) or []:
        if 'size' in aug:
            aug.size = (image_size, image_size)


# ------------------------------------------------------------------------------------------------------ correctness
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
    gather, per_level = _deform_fns()
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
    return rel <= TOL_KERNEL, values, f'worst rel diff {_fmt(rel)} ({name}) vs {ref_name.split(" (")[0]}'


def _query_transformer(ctx: Context) -> nn.Module:
    """The model's task-guided query transformer (base config) at the paper's width (dry run: 64-d), dropout 0."""
    from mmdet.registry import MODELS
    cfg = copy.deepcopy(_load_cfg(BASE_MODEL_CONFIG).model.panoptic_head.query_transformer)
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
    """A copy whose attention modules (subclasses of ``nn.MultiheadAttention`` with the same parameters) are stock
    ``nn.MultiheadAttention``: mmcv asks for the attention weights, so PyTorch runs its unfused path."""
    stock = copy.deepcopy(module)
    count = 0
    for m in stock.modules():
        if isinstance(m, nn.MultiheadAttention) and type(m) is not nn.MultiheadAttention:
            m.__class__ = nn.MultiheadAttention
            count += 1
    if not count:
        raise RuntimeError('the query transformer has no custom attention module: nothing to compare')
    return stock, count


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
    return rel <= TOL_KERNEL, values, f'worst rel diff {_fmt(rel)} ({name})'


def _lean_attention_check(ctx: Context) -> Dict[str, Dict]:
    """The CPU training path's autograd function (recomputing backward, boolean dropout mask) at p=0 vs autograd
    through softmax(q k^T) v."""
    mods = ('oneformer.models.layers', 'oneformer.models.layers.memory_efficient_attention',
            'oneformer.models.layers.query_attention', 'oneformer.models.query_attention')
    fn = _first_attr(mods, 'DropoutAttention')
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
    return rel <= TOL_KERNEL, values, f'worst rel diff {_fmt(rel)} ({name})'


def _demo_model_cfg(ctx: Context):
    """The demo config (already small: R18 with 32 base channels, 64-d head) and its model; dry run: tinier."""
    cfg = _load_cfg(DEMO_CONFIG)
    if ctx.dry:
        shrink_for_dry_run(cfg.model, 64)
    return cfg


def _demo_model(ctx: Context) -> nn.Module:
    cfg = _demo_model_cfg(ctx)
    ctx.seed()
    return build_model(cfg.model, torch.device('cpu')).eval()


def _head_logits(model: nn.Module, x: torch.Tensor, task: str):
    from mmdet.structures import DetDataSample
    h, w = x.shape[-2:]
    meta = dict(task=task, img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), batch_input_shape=(h, w))
    with torch.no_grad():
        cls, masks = model.panoptic_head(model.extract_feat(x), [DetDataSample(metainfo=meta) for _ in x])
    return [c.cpu() for c in cls], [m.cpu() for m in masks]


def _test_data(images: torch.Tensor, device) -> Dict:
    from mmdet.structures import DetDataSample
    h, w = images.shape[-2:]
    meta = dict(img_id=0, img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0))
    return dict(inputs=[im.to(device) for im in images], data_samples=[DetDataSample(metainfo=meta) for _ in images])


def row_model_forward(ctx: Context):
    """The demo model on the device vs the same weights on CPU: class and mask logits of every decoder layer for
    the three task tokens, and agreement of the post-processed outputs (``test_step``)."""
    tasks, _ = _task_api()
    cpu_model = _demo_model(ctx)
    dev_model = copy.deepcopy(cpu_model).to(ctx.device)
    if ctx.cuda:
        device_side = 'mmcv CUDA kernel, fused attention (cuda)'
    elif hasattr(dev_model.panoptic_head, 'fast_cpu_deform_attn'):
        dev_model.panoptic_head.fast_cpu_deform_attn = False
        device_side = 'mmcv CPU fallback for deformable attention (fast_cpu_deform_attn=False)'
    else:
        device_side = 'same CPU path (the head has no fast_cpu_deform_attn switch): identical by construction'
    b, h, w = (1, 64, 96) if ctx.dry else (2, 128, 192)
    g = torch.Generator().manual_seed(ctx.args.seed)
    x = torch.randn(b, 3, h, w, generator=g)
    results = {}
    with strict_fp32():
        for task in tasks:
            ref_cls, ref_masks = _head_logits(cpu_model, x, task)
            cls, masks = _head_logits(dev_model, x.to(ctx.device), task)
            for i in range(len(ref_cls)):
                results[f'{task} layer {i}: class logits'] = compare(cls[i], ref_cls[i], logits=True)
                results[f'{task} layer {i}: mask logits'] = compare(masks[i], ref_masks[i], logits=True)
        images = torch.randint(0, 256, (b, 3, h, w), generator=g, dtype=torch.uint8)
        with torch.no_grad():
            ref_out = cpu_model.test_step(_test_data(images, 'cpu'))
            out = dev_model.test_step(_test_data(images, ctx.device))
    agreement = {}
    for field, attr in (('pred_sem_seg', 'sem_seg'), ('pred_panoptic_seg', 'sem_seg')):
        if all(field in s for s in ref_out):
            same = [(getattr(getattr(a, field), attr).cpu() == getattr(getattr(r, field), attr)).float().mean()
                    for a, r in zip(out, ref_out)]
            agreement[f'{field} pixel agreement'] = float(torch.stack(same).mean())
    if all('pred_instances' in s for s in ref_out):
        agreement['pred_instances count (device, cpu)'] = [[len(a.pred_instances), len(r.pred_instances)]
                                                           for a, r in zip(out, ref_out)]
    name, rel = worst(results)
    values = dict(config=DEMO_CONFIG, input_shape=[b, 3, h, w], device_side=device_side,
                  reference='cpu, our deformable-attention path, float32 (TF32 off)', tolerance_logits=TOL_LOGITS,
                  comparisons=results, worst=name, worst_diff=rel, test_step_agreement=agreement)
    return rel <= TOL_LOGITS, values, f'worst logit diff {_fmt(rel)} ({name}); {len(tasks)} tasks'


def _hf_model(kind: str, seed: int):
    """A random ``OneFormerForUniversalSegmentation`` as in tests/test_converters/hf_models.py (hidden 32,
    12 queries, 5 classes, noise on every parameter so that a wrong mapping cannot hide behind zeros)."""
    from transformers import (
        ConvNextConfig,
        OneFormerConfig,
        OneFormerForUniversalSegmentation,
        ResNetConfig,
        SwinConfig,
    )
    stages = ['stage1', 'stage2', 'stage3', 'stage4']
    backbones = dict(
        swin=lambda: SwinConfig(embed_dim=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4], window_size=3,
                                image_size=128, drop_path_rate=0.0, out_features=stages),
        convnext=lambda: ConvNextConfig(hidden_sizes=[16, 32, 32, 64], depths=[1, 1, 2, 1],
                                        layer_scale_init_value=1.0, out_features=stages),
        resnet=lambda: ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 32, 64], depths=[2, 2, 2, 2],
                                    layer_type='basic', out_features=stages))
    if kind not in backbones:
        raise ValueError(f'--hf-backbones: unknown {kind!r}; choose from {sorted(backbones)}')
    torch.manual_seed(seed)
    model = OneFormerForUniversalSegmentation(OneFormerConfig(
        backbone_config=backbones[kind](), hidden_dim=32, conv_dim=32, mask_dim=32, num_queries=12, decoder_layers=4,
        encoder_layers=2, num_attention_heads=4, dim_feedforward=64, encoder_feedforward_dim=48,
        text_encoder_n_ctx=4, num_labels=5))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        for name, buf in model.named_buffers():
            if name.endswith('running_var'):
                buf.uniform_(0.5, 1.5)
            elif name.endswith('running_mean'):
                buf.normal_(0, 0.1)
    return model.eval()


def row_hf_parity(ctx: Context):
    """Tiny random HF OneFormers converted by ``convert_hf_dir``: our logits = HF's, both on the device."""
    import transformers
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmengine.config import Config

    from oneformer.model_converters import convert_hf_dir
    tasks, task_tokens = _task_api()
    kinds = [k for k in ctx.args.hf_backbones.split(',') if k] or (['resnet'] if ctx.dry else
                                                                     ['swin', 'convnext', 'resnet'])
    results = {}
    for kind in kinds:
        hf = _hf_model(kind, ctx.args.seed)
        folder = tempfile.mkdtemp(prefix=f'hf_{kind}_', dir=ctx.work_dir)
        hf.save_pretrained(osp.join(folder, 'hf'))
        convert_hf_dir(osp.join(folder, 'hf'), osp.join(folder, 'mm'), strict=True)
        cfg = Config.fromfile(osp.join(folder, 'mm', 'config.py'))
        model = MODELS.build(cfg.model)
        state = torch.load(osp.join(folder, 'mm', 'model.pth'), map_location='cpu', weights_only=True)['state_dict']
        model.load_state_dict(state, strict=True)
        model.eval().to(ctx.device)
        hf.to(ctx.device)
        g = torch.Generator().manual_seed(ctx.args.seed + 1)
        # 128x160: every Swin stage is larger than its window (HF shrinks windows on smaller maps)
        shape = (1, 3, 64, 96) if ctx.dry and kind != 'swin' else (1, 3, 128, 160)
        x = torch.randn(shape, generator=g).to(ctx.device)
        with strict_fp32(), torch.no_grad():
            for task in tasks:
                ref = hf(pixel_values=x, task_inputs=task_tokens(task)[None].to(ctx.device))
                cls, masks = model.panoptic_head(model.extract_feat(x), [DetDataSample(metainfo=dict(task=task))])
                results[f'{kind} {task}: class logits'] = compare(cls[-1], ref.class_queries_logits, logits=True)
                results[f'{kind} {task}: mask logits'] = compare(masks[-1], ref.masks_queries_logits, logits=True)
        del hf, model
        ctx.free()
    name, rel = worst(results)
    values = dict(transformers=transformers.__version__, backbones=kinds, device=str(ctx.device),
                  tolerance_logits=TOL_HF, comparisons=results, worst=name, worst_diff=rel)
    return rel <= TOL_HF, values, f'worst logit diff {_fmt(rel)} ({name}); transformers {transformers.__version__}'


# ------------------------------------------------------------------------------------------------------ AMP
def _resize_pipeline(pipeline, size: int) -> None:
    for t in pipeline:
        if t.type == 'RandomResize':
            t.scale = (size, size)
        elif t.type == 'RandomCrop':
            t.crop_size = (size, size)


def _amp_batches(ctx: Context) -> List[Dict]:
    """``--amp-iters`` batches of the demo config's task-aware training pipeline over a fresh synthetic dataset,
    made once: every precision trains on exactly the same data."""
    if 'amp_batches' in ctx.cache:
        return ctx.cache['amp_batches']
    from mmdet.registry import DATASETS
    from mmengine.dataset import pseudo_collate

    from oneformer.dataset_converters import generate_synthetic_panoptic
    cfg = _load_cfg(DEMO_CONFIG)
    size = 64 if ctx.dry else 128
    root = osp.join(ctx.work_dir, 'synthetic_amp')
    generate_synthetic_panoptic(root, num_train=4 if ctx.dry else 32, num_val=1, img_size=size, seed=ctx.args.seed)
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.data_root = root + '/'
    _resize_pipeline(ds_cfg.pipeline, size)
    dataset = DATASETS.build(ds_cfg)
    batch_size = 2 if ctx.dry else cfg.train_dataloader.batch_size
    ctx.seed(1)  # the pipeline's random flips, resizes, crops and task draws
    order = [i % len(dataset) for i in range(ctx.args.amp_iters * batch_size)]
    batches = [pseudo_collate([dataset[i] for i in order[k:k + batch_size]]) for k in range(0, len(order), batch_size)]
    ctx.cache['amp_batches'] = batches
    return batches


def _amp_train(ctx: Context, dtype: Optional[str]) -> Dict:
    """Train the demo model (same seed, same batches) for ``--amp-iters`` iterations; ``dtype`` None is float32
    with the config's wrapper, else its AMP counterpart (``tools/train.py --amp``) with that ``dtype``."""
    from mmengine.optim import build_optim_wrapper
    batches = _amp_batches(ctx)
    cfg = _demo_model_cfg(ctx)
    ctx.seed()
    model = build_model(cfg.model, torch.device('cpu')).to(ctx.device).train()
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    if dtype is not None:
        try:
            from oneformer.engine import AMP_WRAPPERS
        except ImportError:
            AMP_WRAPPERS = {'OptimWrapper': 'AmpOptimWrapper'}
        kind = str(wrapper_cfg.get('type', 'OptimWrapper')).rsplit('.', 1)[-1]
        wrapper_cfg.update(type=AMP_WRAPPERS.get(kind, 'AmpOptimWrapper'), dtype=dtype, loss_scale='dynamic')
    wrapper = build_optim_wrapper(model, wrapper_cfg)
    ctx.seed(2)  # the loss's random point sampling draws the same numbers in every run
    losses, scales = [], []
    ctx.sync()
    start = time.perf_counter()
    for batch in batches:
        log_vars = model.train_step(batch, wrapper)
        losses.append(float(torch.as_tensor(log_vars['loss']).detach()))
        if hasattr(wrapper, 'loss_scaler'):
            scales.append(float(wrapper.loss_scaler.get_scale()))
    ctx.sync()
    elapsed = time.perf_counter() - start
    result = dict(losses=losses, wrapper=wrapper_cfg.type, dtype=dtype or 'float32', iters=len(batches),
                  s_per_iter=elapsed / max(1, len(batches)), tf32=tf32_flags())
    if scales:
        result.update(loss_scale_final=scales[-1], loss_scale_min=min(scales))
    del model, wrapper
    ctx.free()
    return result


def smooth(values: Sequence[float], window: int) -> List[float]:
    """Trailing moving average (the first points average what there is so far)."""
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def curve_deviation(curve: Sequence[float], ref: Sequence[float], window: int) -> float:
    """Largest relative deviation of the smoothed ``curve`` from the smoothed reference."""
    a, b = smooth(curve, window), smooth(ref, window)
    return max(abs(x - y) / max(abs(y), 1e-12) for x, y in zip(a, b))


def _amp_reference(ctx: Context) -> Dict:
    if 'amp_fp32' not in ctx.cache:
        ctx.cache['amp_fp32'] = _amp_train(ctx, None)
    return ctx.cache['amp_fp32']


def _amp_row(ctx: Context, dtype: Optional[str]):
    ref = _amp_reference(ctx)
    run = _amp_train(ctx, dtype)
    window = max(1, min(10, len(ref['losses']) // 5))
    dev = curve_deviation(run['losses'], ref['losses'], window)
    finite = all(math.isfinite(v) for v in run['losses'])
    ok = finite and all(math.isfinite(v) for v in ref['losses']) and dev <= ctx.args.amp_tol
    name = run['dtype'] + (' rerun' if dtype is None else '')
    values = dict(config=DEMO_CONFIG, run=run, reference=ref, smoothing_window=window, max_rel_deviation=dev,
                  tolerance=ctx.args.amp_tol, all_finite=finite,
                  note='constant lr (no param scheduler); same initial weights, batches and point-sampling seed')
    losses = run['losses']
    return ok, values, (f'{name}: {len(losses)} its, finite {finite}, loss {_fmt(losses[0])} -> {_fmt(losses[-1])}, '
                        f'smoothed max rel dev {_fmt(dev)} vs fp32')


def row_amp_fp32_rerun(ctx: Context):
    """A second float32 run: the deviation that nondeterministic kernels (atomics) alone cause."""
    return _amp_row(ctx, None)


def row_amp_float16(ctx: Context):
    return _amp_row(ctx, 'float16')


def row_amp_bfloat16(ctx: Context):
    return _amp_row(ctx, 'bfloat16')


# ------------------------------------------------------------------------------------------------------ speed
def _load_script(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row_bench_peers(ctx: Context):
    """``benchmark_peers.py --device DEVICE`` (full preset, every measure; dry run: quick preset at 64 px, end2end, one
    repeat)."""
    bench = _load_script(osp.join(TOOLS, 'benchmark_peers.py'), 'benchmark_peers')
    out = osp.join(ctx.work_dir, 'benchmark_peers.json')
    argv = ['--device', str(ctx.device), '--out', out, '--work-dir', osp.join(ctx.work_dir, 'benchmark_peers')]
    if ctx.dry:
        # end2end only (it drives the most of the model's and HF's API; forward-pipeline have their own tests)
        argv += ['--quick', '--image-size', '64', '--repeats', '1', '--warmup', '0', '--measures', 'end2end']
    else:
        argv += ['--preset', 'full']
    threads = torch.get_num_threads()
    try:
        report = bench.main(argv)
    finally:
        torch.set_num_threads(threads)
    summary, parts = {}, []
    for key, res in report['results'].items():
        entries = res.items() if key == 'train' and 'time' in res else [(None, res)]
        for sub, e in entries:
            if not isinstance(e, dict) or 'ratio' not in e:
                continue
            label = key + (f' {sub}' if sub else '')
            summary[label] = dict(ratio=e['ratio'], goal=e['goal'], met=e['met'], ours=e['ours']['median'],
                                  peer=e['peer']['median'], unit=e.get('unit', 's'))
            parts.append(f'{label} {e["ratio"]:.2f}x ({e["goal"]}{"" if e["met"] else " missed"})')
    if 'complexity' in report['results']:
        c = report['results']['complexity']
        summary['complexity'] = dict(flops_ratio=c['flops_ratio'], params_ratio=c['params_ratio'])
        parts.append(f'FLOPs {c["flops_ratio"]:.2f}x')
    values = dict(command=report['command'], sizes=report['sizes'], device=report['device'], summary=summary,
                  report=out)
    return True, values, '; '.join(parts)


def _fps_model(ctx: Context, key: str) -> Tuple[nn.Module, str]:
    """The COCO config's model (random weights) on the device, kept for the precision rows of the same model."""
    cache_key = f'fps_{key}'
    if cache_key not in ctx.cache:
        ctx.free(*[k for k in ctx.cache if k.startswith('fps_')])
        cfg = _load_cfg(COCO_CONFIGS[key])
        if ctx.dry:
            shrink_for_dry_run(cfg.model, 64)
        ctx.seed()
        ctx.cache[cache_key] = (build_model(cfg.model, ctx.device).eval(), COCO_CONFIGS[key])
    return ctx.cache[cache_key]


def _fps_row(ctx: Context, key: str, dtype: Optional[str]):
    model, config = _fps_model(ctx, key)
    h, w = (64, 96) if ctx.dry else (800, 1333)  # COCO's test size: short side 800, long side at most 1333
    warmup, iters = (0, 1) if ctx.dry else (ctx.args.fps_warmup, ctx.args.fps_iters)
    g = torch.Generator().manual_seed(ctx.args.seed)
    data = _test_data(torch.randint(0, 256, (1, 3, h, w), generator=g, dtype=torch.uint8), ctx.device)
    amp = (torch.autocast(device_type=ctx.device.type, dtype=getattr(torch, dtype)) if dtype is not None
           else contextlib.nullcontext())
    times = []
    with torch.no_grad(), amp:
        for _ in range(warmup):
            model.test_step(data)
        if ctx.cuda:
            torch.cuda.reset_peak_memory_stats(ctx.device)
        for _ in range(iters):
            ctx.sync()
            start = time.perf_counter()
            model.test_step(data)
            ctx.sync()
            times.append(time.perf_counter() - start)
    med = statistics.median(times)
    tasks = next((getattr(model, a) for a in ('test_tasks', 'eval_tasks') if getattr(model, a, None)), None)
    tasks = tasks or model.test_cfg.get('tasks', None)
    values = dict(config=config, input=[h, w], batch=1, precision=dtype or 'float32', fps=1.0 / med,
                  median_ms=1e3 * med, min_ms=1e3 * min(times), max_ms=1e3 * max(times), iters=iters, warmup=warmup,
                  tasks=list(tasks) if tasks else None, params_m=sum(p.numel() for p in model.parameters()) / 1e6,
                  measured='test_step: data preprocessor + backbone + head + post-processing of the test tasks; '
                           'input already on the device; random weights', tf32=tf32_flags())
    if ctx.cuda:
        values['max_memory_allocated_mb'] = torch.cuda.max_memory_allocated(ctx.device) / 2**20
    mem = f', peak {values["max_memory_allocated_mb"]:.0f} MB' if ctx.cuda else ''
    return True, values, f'{values["fps"]:.2f} img/s ({values["median_ms"]:.1f} ms){mem}'


def _fps_fn(key: str, dtype: Optional[str]) -> Callable[[Context], Tuple[bool, Dict, str]]:
    def fn(ctx: Context):
        return _fps_row(ctx, key, dtype)
    fn.__doc__ = f'Inference speed of the {key} COCO model, {dtype or "float32"}.'
    return fn


def row_train_swinl(ctx: Context):
    """Training step (data preprocessor + losses + backward + AdamW step with clipping) and peak allocated memory
    of the Swin-L COCO model (text mapper and contrastive loss included) vs mmdet's Mask2Former with the same
    backbone, pixel decoder, decoder, queries and losses; one side after the other in this process."""
    from oneformer_bench import builders as B
    from oneformer_bench import train_worker
    from oneformer_bench.presets import PRESETS
    ctx.free(everything=True)  # the inference models of the fps rows
    cfg = _load_cfg(COCO_CONFIGS['swinl'])
    m = cfg.model
    strip_pretrained(m)
    size = 64 if ctx.dry else 1024
    if ctx.dry:
        shrink_for_dry_run(m, size)
    h = m.panoptic_head
    p = dataclasses.replace(PRESETS['full'], image_size=size, batch=1 if ctx.dry else 2, num_queries=h.num_queries,
                            num_things=h.num_things_classes, num_stuff=h.num_stuff_classes,
                            num_points=m.train_cfg.num_points, text_ctx=h.text_mapper.num_ctx)
    root = osp.join(ctx.work_dir, f'synthetic_{size}')
    B.make_synthetic(p, root, num_train=max(2, p.batch))
    batch_path = osp.join(ctx.work_dir, 'train_swinl_batch.pth')
    ctx.seed(1)
    torch.save(B.train_batch(p, root), batch_path)
    warmup, repeats = (0, 1) if ctx.dry else (ctx.args.train_warmup, ctx.args.train_iters)
    sides = {'ours': m, 'peer': B.mask2former_cfg(m, p)}
    results = {}
    for side, model_cfg in sides.items():
        spec = osp.join(ctx.work_dir, f'train_swinl_{side}.pth')
        torch.save(dict(model=model_cfg.to_dict(), batch=batch_path, optim_wrapper=cfg.optim_wrapper.to_dict(),
                        warmup=warmup, repeats=repeats, threads=torch.get_num_threads(), device=str(ctx.device)),
                   spec)
        # what earlier rows left allocated (should be ~0): it would count towards both sides' peak
        before = torch.cuda.memory_allocated(ctx.device) / 2**20 if ctx.cuda else None
        results[side] = dict(train_worker.main(spec), allocated_before_mb=before)
        ctx.free()
    t = {side: r['time']['median'] for side, r in results.items()}
    mem = {side: r['training_memory_mb'] for side, r in results.items()}
    values = dict(config=COCO_CONFIGS['swinl'], image_size=size, batch=p.batch, num_points=p.num_points,
                  warmup=warmup, repeats=repeats, time_s=t, time_ratio=t['ours'] / t['peer'], memory_mb=mem,
                  memory_ratio=mem['ours'] / mem['peer'], memory_method=results['ours']['peak_method'],
                  allocated_before_mb={s: r['allocated_before_mb'] for s, r in results.items()},
                  params_m={s: r['params'] / 1e6 for s, r in results.items()},
                  loss={s: r['loss'] for s, r in results.items()}, peer='mmdet Mask2Former (same backbone)',
                  tf32=tf32_flags())
    summary = f'step {t["ours"]:.3f} s vs M2F {t["peer"]:.3f} s ({values["time_ratio"]:.2f}x); '
    if ctx.cuda:
        summary += f'peak allocated {mem["ours"]:.0f} vs {mem["peer"]:.0f} MB ({values["memory_ratio"]:.2f}x)'
    else:  # both sides in one process: the resident-set growth of the second side says little
        summary += 'memory: CUDA only (in-process RSS on CPU)'
    return True, values, summary


# ------------------------------------------------------------------------------------------------------ rows
ROWS: List[Row] = [
    Row('deform_attn', 'correctness', 'MS deformable attention: mmcv kernel vs our CPU paths (value + grads)',
        row_deform_attn),
    Row('query_attn_eval', 'correctness', 'query transformer attention, eval: device vs stock CPU',
        row_query_attn_eval),
    Row('query_attn_train', 'correctness', 'query transformer attention, training (dropout 0), + grads',
        row_query_attn_train),
    Row('model_forward', 'correctness', 'demo model logits, 3 tasks: device vs CPU', row_model_forward),
    Row('hf_parity', 'correctness', 'converted HF OneFormer = HF logits, on the device', row_hf_parity),
    Row('amp_fp32_rerun', 'amp', 'demo training: float32 rerun vs float32 (noise floor)', row_amp_fp32_rerun),
    Row('amp_float16', 'amp', 'demo training: AMP float16 vs float32', row_amp_float16, needs_cuda=True),
    Row('amp_bfloat16', 'amp', 'demo training: AMP bfloat16 vs float32', row_amp_bfloat16, needs_cuda=True),
    Row('bench_peers', 'speed', 'benchmark_peers.py on the device', row_bench_peers),
]
for _key, _label in (('r50', 'R50'), ('swinl', 'Swin-L')):
    for _dtype in (None, ) + AMP_DTYPES:
        ROWS.append(Row(f'fps_{_key}_{_dtype or "fp32"}', 'speed',
                        f'{_label} COCO inference 800x1333, {"AMP " + _dtype if _dtype else "float32"}',
                        _fps_fn(_key, _dtype), needs_cuda=_dtype is not None))
ROWS.append(Row('train_swinl', 'speed', 'Swin-L train step 1024x1024 b2: time + memory vs Mask2Former',
                row_train_swinl))


def select_rows(only: Optional[str], skip: Optional[str]) -> List[str]:
    """Row names picked by ``--only`` / ``--skip``: names, groups (correctness, amp, speed) or globs (fps_*)."""
    def expand(text: str) -> List[str]:
        names = []
        for pat in (t.strip() for t in text.split(',') if t.strip()):
            hit = [r.name for r in ROWS if fnmatch.fnmatchcase(r.name, pat) or r.group == pat]
            if not hit:
                raise SystemExit(f'cuda_check: {pat!r} matches no row; rows: {", ".join(r.name for r in ROWS)}; '
                                 f'groups: correctness, amp, speed')
            names += hit
        return names
    chosen = expand(only) if only else [r.name for r in ROWS]
    dropped = set(expand(skip)) if skip else set()
    return [r.name for r in ROWS if r.name in chosen and r.name not in dropped]


def machine_info(device: torch.device) -> Dict:
    import mmcv
    import mmdet
    import mmengine
    import numpy
    info = dict(python=platform.python_version(), platform=platform.platform(), cpus=os.cpu_count(),
                torch=torch.__version__, torch_cuda=torch.version.cuda, numpy=numpy.__version__,
                mmcv=mmcv.__version__, mmengine=mmengine.__version__, mmdet=mmdet.__version__, device=str(device))
    for name in ('mmseg', 'mmpretrain', 'transformers'):
        try:
            info[name] = importlib.import_module(name).__version__
        except ImportError as e:
            info[name] = f'not importable: {e}'
    try:
        from mmcv.ops import get_compiling_cuda_version
        info['mmcv_ops_cuda'] = get_compiling_cuda_version()
    except ImportError:
        info['mmcv_ops_cuda'] = 'mmcv ops not compiled'
    if device.type == 'cuda':
        prop = torch.cuda.get_device_properties(device)
        info.update(gpu=prop.name, capability=f'{prop.major}.{prop.minor}', gpu_memory_gb=prop.total_memory / 1e9,
                    cudnn=torch.backends.cudnn.version(), bf16_supported=torch.cuda.is_bf16_supported())
    return info


def markdown(report: Dict) -> str:
    lines = ['| row | check | status | result | time |', '| --- | --- | --- | --- | --- |']
    for r in report['rows']:
        status = r['status'] + (f' ({r["reason"]})' if r.get('reason') else '')
        result = r.get('summary') or (r.get('error') or '').split('\n')[0]
        secs = f'{r["seconds"]:.1f} s' if r.get('seconds') is not None else ''
        lines.append(f'| {r["name"]} | {r["title"]} | {status} | {result.replace("|", "/")} | {secs} |')
    return '\n'.join(lines)


def write_report(report: Dict, out: str, t0: float, complete: bool) -> Dict[str, int]:
    """Write the JSON report and the markdown table beside it (``.md``); returns the status counts."""
    report.update(complete=complete, wall_time_s=time.perf_counter() - t0, cpu_time_s=time.process_time(),
                  load_average=list(os.getloadavg()) if hasattr(os, 'getloadavg') else None)
    counts = {s: sum(r['status'] == s for r in report['rows']) for s in ('ok', 'FAIL', 'skipped')}
    report.update(summary=counts, table=markdown(report))
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w', encoding='utf-8') as f:
        json.dump(report, f, indent=1, default=str)
    with open(osp.splitext(out)[0] + '.md', 'w', encoding='utf-8') as f:
        f.write(report['table'] + '\n')
    return counts


def run_row(ctx: Context, row: Row) -> Dict:
    entry = dict(name=row.name, group=row.group, title=row.title, correctness=row.group in CORRECTNESS_GROUPS)
    if row.needs_cuda and not ctx.cuda:
        return dict(entry, status='skipped', reason='no CUDA')
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        ok, values, summary = row.fn(ctx)
        entry.update(status='ok' if ok else 'FAIL', values=values, summary=summary)
    except Skip as e:
        entry.update(status='skipped', reason=str(e))
    except Exception as e:  # one broken row must not hide the others
        entry.update(status='FAIL', error=f'{type(e).__name__}: {e}', traceback=traceback.format_exc()[-6000:])
    entry.update(seconds=time.perf_counter() - start, cpu_seconds=time.process_time() - cpu_start)
    return entry


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                        help='device of the checks (default: cuda when available, else cpu)')
    parser.add_argument('--dry-run', action='store_true',
                        help='tiny sizes and iterations: every code path in well under a minute on CPU')
    parser.add_argument('--only', help='comma-separated rows, groups (correctness, amp, speed) or globs')
    parser.add_argument('--skip', help='rows, groups or globs to leave out')
    parser.add_argument('--list', action='store_true', help='print the rows and exit')
    parser.add_argument('--out', default=osp.join('work_dirs', 'cuda_check', 'cuda_check.json'),
                        help='JSON report (the markdown table goes next to it as .md)')
    parser.add_argument('--work-dir', help='synthetic data, converted models (default: a temporary directory)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--amp-iters', type=int, help='training iterations per precision (default 50; dry run 2)')
    parser.add_argument('--amp-tol', type=float, default=0.1,
                        help='largest relative deviation of the smoothed AMP loss curve from float32 (default 0.1)')
    parser.add_argument('--hf-backbones', default='',
                        help='HF parity backbones, comma-separated from swin,convnext,resnet (default: all three; '
                        'dry run: resnet)')
    parser.add_argument('--fps-warmup', type=int, default=5, help='untimed inference runs first')
    parser.add_argument('--fps-iters', type=int, default=20, help='timed inference runs (median reported)')
    parser.add_argument('--train-warmup', type=int, default=2, help='untimed training steps first (train_swinl)')
    parser.add_argument('--train-iters', type=int, default=5, help='timed training steps (train_swinl)')
    args = parser.parse_args(argv)
    if args.amp_iters is None:
        args.amp_iters = 2 if args.dry_run else 50
    if args.amp_iters < 1:
        parser.error('--amp-iters must be >= 1')
    if args.fps_iters < 1 or args.train_iters < 1 or args.fps_warmup < 0 or args.train_warmup < 0:
        parser.error('--fps-iters / --train-iters must be >= 1, the warm-ups >= 0')
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        parser.error(f'--device {args.device}: this torch ({torch.__version__}) sees no CUDA device; '
                     'use --device cpu (with --dry-run for tiny sizes)')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        for r in ROWS:
            print(f'{r.name:22s} {r.group:12s} {r.title}{" [CUDA only]" if r.needs_cuda else ""}')
        return 0
    selected = select_rows(args.only, args.skip)
    command = ' '.join(['python tools/analysis_tools/cuda_check.py'] + (sys.argv[1:] if argv is None else argv))
    t0 = time.perf_counter()
    mmcv_fallback = _stack()
    with contextlib.ExitStack() as stack:
        if args.work_dir is None:
            args.work_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix='cuda_check_'))
        os.makedirs(args.work_dir, exist_ok=True)
        ctx = Context(args, mmcv_fallback)
        report = dict(schema_version=SCHEMA_VERSION, command=command, device=str(ctx.device), dry_run=args.dry_run,
                      machine=machine_info(ctx.device), rows=[])
        m = report['machine']
        print(f'[cuda_check] {m.get("gpu", "no GPU")} | torch {m["torch"]} (CUDA {m["torch_cuda"]}) | mmcv '
              f'{m["mmcv"]} (ops CUDA {m["mmcv_ops_cuda"]}) | transformers {m["transformers"]} | device '
              f'{ctx.device}{" | dry run" if args.dry_run else ""}', flush=True)
        for i, row in enumerate(ROWS, 1):
            if row.name not in selected:
                report['rows'].append(dict(name=row.name, group=row.group, title=row.title,
                                           correctness=row.group in CORRECTNESS_GROUPS, status='skipped',
                                           reason='not selected'))
                continue
            print(f'[cuda_check] ({i}/{len(ROWS)}) {row.name}: {row.title} ...', flush=True)
            entry = run_row(ctx, row)
            report['rows'].append(entry)
            detail = entry.get('summary') or entry.get('reason') or entry.get('error', '')
            secs = f' in {entry["seconds"]:.1f} s' if 'seconds' in entry else ''
            print(f'[cuda_check] ({i}/{len(ROWS)}) {row.name}: {entry["status"]}{secs}: {detail}', flush=True)
            if entry['status'] == 'FAIL' and 'traceback' in entry:
                print(entry['traceback'], file=sys.stderr, flush=True)
            write_report(report, args.out, t0, complete=False)  # what is done survives a killed run
        ctx.free(everything=True)
    counts = write_report(report, args.out, t0, complete=True)
    table = report['table']
    out = args.out
    print(f'\n{table}\n\n[cuda_check] {counts["ok"]} ok, {counts["FAIL"]} FAIL, {counts["skipped"]} skipped in '
          f'{report["wall_time_s"]:.0f} s; wrote {out}', flush=True)
    failed = [r for r in report['rows'] if r['status'] == 'FAIL']
    if any(r['correctness'] for r in failed):
        return 1
    return 2 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
