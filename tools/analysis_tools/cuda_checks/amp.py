"""Mixed precision: short demo trainings in float16 / bfloat16 against float32 (same data, weights, seeds)."""
import copy
import math
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence

import torch

from .common import DEMO_CONFIG, Context, fmt, load_cfg, tf32_flags
from .models import build_model, demo_model_cfg


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
    cfg = load_cfg(DEMO_CONFIG)
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
    cfg = demo_model_cfg(ctx)
    ctx.seed()
    model = build_model(cfg.model, torch.device('cpu')).to(ctx.device).train()
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    if dtype is not None:
        from oneformer.engine import AMP_WRAPPERS
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
    return ok, values, (f'{name}: {len(losses)} its, finite {finite}, loss {fmt(losses[0])} -> {fmt(losses[-1])}, '
                        f'smoothed max rel dev {fmt(dev)} vs fp32')


def row_amp_fp32_rerun(ctx: Context):
    """A second float32 run: the deviation that nondeterministic kernels (atomics) alone cause."""
    return _amp_row(ctx, None)


def row_amp_float16(ctx: Context):
    return _amp_row(ctx, 'float16')


def row_amp_bfloat16(ctx: Context):
    return _amp_row(ctx, 'bfloat16')

