"""Profile OneFormer inference and training on CPU with ``torch.profiler``: time per stage and the hottest ops.

    python tools/analysis_tools/profile_oneformer.py --preset quick --mode both [--tasks panoptic] [--out prof.json]

The model is the benchmark's (``benchmark_peers.py``): a random HF OneFormer of the preset's sizes converted with
our converter, its classifier calibrated so that about 20 % of the queries are confident objects. Inference
profiles what ``test_step`` runs (data preprocessor + ``predict(tasks=--tasks)`` + post-processing);
training profiles ``train_step`` (forward + losses + backward + AdamW) with the text mapper and contrastive loss;
``--mode query-transformer`` times the task encoder + query transformer alone in training (forward + backward on
random 1/4-scale features, ``--preset`` sizes and batch), the part of OneFormer's training Mask2Former lacks.
Stage times come from ``record_function`` ranges put around the model's methods by this script (see
``oneformer_bench/stages.py``); nested stages are included in their parents.
"""
import argparse
import json
import os.path as osp
import sys
import tempfile
from typing import Dict, List

import oneformer  # noqa: F401  registers the project modules; first, before torch: idle OpenMP threads sleep

# isort: split
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from oneformer_bench import builders as B  # noqa: E402
from oneformer_bench.presets import PRESETS, get_preset  # noqa: E402
from oneformer_bench.stages import labelled, stage_labels  # noqa: E402
from oneformer_bench.timing import pin_threads, time_interleaved  # noqa: E402
from segcompare.profile import profile_calls  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--preset', default='quick', choices=sorted(PRESETS), help='model / input sizes')
    parser.add_argument('--image-size', type=int, help='override the preset input side (multiple of 32)')
    parser.add_argument('--mode', default='both', choices=['infer', 'train', 'both', 'query-transformer'])
    parser.add_argument('--tasks', default='panoptic,instance,semantic',
                        help='inference test_cfg.tasks, comma separated (default: the 3-task evaluation mode)')
    parser.add_argument('--steps', type=int, default=3, help='profiled iterations (after 1 warm-up)')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads(), help='torch intra-op threads')
    parser.add_argument('--row-limit', type=int, default=15, help='hottest ops listed')
    parser.add_argument('--out', help='write the stage and op tables as JSON here')
    parser.add_argument('--work-dir', help='where to write the converted model / synthetic data (default: temp)')
    return parser.parse_args(argv)


def profile(fn, steps: int, labels: List[str]) -> Dict:
    """Stage ranges and op self-times of ``steps`` calls of ``fn`` (after one warm-up call), in ms per call."""
    by_key, total = profile_calls(fn, steps, 'iteration')
    events = list(by_key.values())
    stages, ops = [], []
    for e in events:
        per_call = e.cpu_time_total / 1000 / steps
        if e.key in labels:
            stages.append(dict(stage=e.key, ms=per_call, share=per_call / total, calls=e.count // steps))
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total):
        if e.key.startswith('aten::') or e.key.startswith('autograd::') or 'Backward' in e.key:
            ops.append(dict(op=e.key, self_ms=e.self_cpu_time_total / 1000 / steps,
                            share=e.self_cpu_time_total / 1000 / steps / total, calls=e.count // steps))
    return dict(iteration_ms=total, stages=sorted(stages, key=lambda s: -s['ms']), ops=ops)


def print_tables(title: str, result: Dict, row_limit: int) -> None:
    print(f'\n## {title}: {result["iteration_ms"]:.1f} ms per iteration\n')
    if result['stages']:
        print('| stage | ms | share | calls |\n|---|---:|---:|---:|')
        for s in result['stages']:
            print(f'| {s["stage"]} | {s["ms"]:.1f} | {100 * s["share"]:.1f}% | {s["calls"]} |')
        print()
    print('| op (self time) | ms | share | calls |\n|---|---:|---:|---:|')
    for o in result['ops'][:row_limit]:
        print(f'| {o["op"]} | {o["self_ms"]:.1f} | {100 * o["share"]:.1f}% | {o["calls"]} |')


def query_transformer_step(model_cfg, checkpoint: str, p):
    """One training forward + backward of the task encoder and query transformer of the benchmark model."""
    from oneformer.tasks import task_tokens
    torch.manual_seed(0)
    head = B.build(model_cfg, checkpoint, train=True).panoptic_head
    size = p.image_size // 4
    feats = torch.randn(p.batch, p.hidden, size, size, requires_grad=True)
    tokens = torch.stack([task_tokens('panoptic')] * p.batch)

    def step():
        task = head.transformer_decoder.post_norm(head.task_encoder(tokens))
        head.query_transformer(task, feats, head.query_embed.weight[:-1]).sum().backward()

    return step


def main(argv=None) -> Dict:
    args = parse_args(argv)
    pin_threads(args.threads)
    B.init_scope()
    from oneformer_bench.measures import Context, _optim_wrapper_cfg

    from oneformer.tasks import check_task
    p = get_preset(args.preset, image_size=args.image_size)
    tasks: List[str] = [check_task(t.strip()) for t in args.tasks.split(',') if t.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(p, args.work_dir or tmp, torch.get_num_threads())
        out = dict(preset=p.name, sizes=p.describe(), threads=torch.get_num_threads(), tasks=tasks)
        if args.mode in ('infer', 'both'):
            model = ctx.model
            data = ctx.our_inputs()

            def test_step():  # mmengine's test_step (pre-processing + predict) with the requested tasks
                batch = model.data_preprocessor(data, False)
                return model.predict(batch['inputs'], batch['data_samples'], tasks=tuple(tasks))

            with torch.no_grad(), labelled(model):
                out['inference'] = profile(test_step, args.steps, stage_labels(model))
            print_tables(f'inference ({p.describe()}; tasks {",".join(tasks)})', out['inference'], args.row_limit)
        if args.mode in ('train', 'both'):
            from mmengine.optim import build_optim_wrapper
            torch.manual_seed(0)
            model = B.build(B.with_text_mapper(ctx.model_cfg, p), train=True)
            optim_wrapper = build_optim_wrapper(model, _optim_wrapper_cfg())
            batch = B.train_batch(p, ctx.data_root)
            extra = [('forward+loss', model, 'loss'), ('backward', optim_wrapper, 'backward'),
                     ('optimizer.step (incl. grad clipping)', optim_wrapper, 'step')]
            with labelled(model, extra):
                out['training'] = profile(lambda: model.train_step(batch, optim_wrapper), args.steps,
                                          stage_labels(model, extra))
            print_tables(f'training ({p.describe()})', out['training'], args.row_limit)
        if args.mode == 'query-transformer':
            step = query_transformer_step(ctx.model_cfg, ctx.ckpt, p)
            out['query_transformer'] = profile(step, args.steps, [])
            out['query_transformer']['time'] = time_interleaved(dict(step=step), 1, args.steps)['step']
            print_tables(f'query transformer training, forward + backward ({p.describe()}; median without '
                         f'profiler {1000 * out["query_transformer"]["time"]["median"]:.1f} ms)',
                         out['query_transformer'], args.row_limit)
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(out, f, indent=1)
        print(f'\nwrote {args.out}')
    return out


if __name__ == '__main__':
    main()
