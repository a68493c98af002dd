"""Speed rows (never FAIL for being slow): the peer benchmark on the device, inference FPS of the COCO models per
precision, and a Swin-L training step against Mask2Former."""
import contextlib
import dataclasses
import importlib.util
import os.path as osp
import statistics
import time
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn as nn

from .common import COCO_CONFIGS, TOOLS, Context, load_cfg, tf32_flags
from .models import build_model, inference_data, shrink_for_dry_run, strip_pretrained


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
        cfg = load_cfg(COCO_CONFIGS[key])
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
    data = inference_data(torch.randint(0, 256, (1, 3, h, w), generator=g, dtype=torch.uint8), ctx.device)
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
    tasks = model.test_cfg.get('tasks', None)
    values = dict(config=config, input=[h, w], batch=1, precision=dtype or 'float32', fps=1.0 / med,
                  median_ms=1e3 * med, min_ms=1e3 * min(times), max_ms=1e3 * max(times), iters=iters, warmup=warmup,
                  tasks=list(tasks) if tasks else None, params_m=sum(p.numel() for p in model.parameters()) / 1e6,
                  measured='test_step: data preprocessor + backbone + head + post-processing of the test tasks; '
                           'input already on the device; random weights', tf32=tf32_flags())
    if ctx.cuda:
        values['max_memory_allocated_mb'] = torch.cuda.max_memory_allocated(ctx.device) / 2**20
    mem = f', peak {values["max_memory_allocated_mb"]:.0f} MB' if ctx.cuda else ''
    return True, values, f'{values["fps"]:.2f} img/s ({values["median_ms"]:.1f} ms){mem}'


def fps_fn(key: str, dtype: Optional[str]) -> Callable[[Context], Tuple[bool, Dict, str]]:
    """The row function of one model and precision."""
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
    cfg = load_cfg(COCO_CONFIGS['swinl'])
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

