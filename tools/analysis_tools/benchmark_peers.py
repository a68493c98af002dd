"""Speed of oneformer-mm against its peers (issue 6); prints a markdown table and writes JSON.

    python tools/analysis_tools/benchmark_peers.py --quick            # small sizes, a few minutes on 2 cores
    python tools/analysis_tools/benchmark_peers.py                    # the paper's R50 model, 512x512 input

Measures (each: median of ``--repeats`` runs after ``--warmup`` runs, both sides interleaved, same thread count):

* end2end end-to-end inference of one image, panoptic task (our pipeline + data preprocessor + forward + panoptic
  post-processing) vs HF transformers' OneFormer (``OneFormerImageProcessor`` + CLIP token ids + forward +
  ``post_process_panoptic_segmentation``) with the same weights: a random HF model of the preset's sizes converted
  by ``oneformer.model_converters.convert_hf_dir``. Goal <= 0.75x.
* forward forward latency (backbone + head, no pre/post-processing) vs mmdet's Mask2Former with the same backbone,
  pixel decoder, decoder, query count and input. Goal <= 1.10x.
* three_tasks data preprocessor + ``predict(tasks=all three)`` vs three single-task ``predict`` passes.
  Goal <= 0.5x.
* batched_tasks ``predict(tasks=all three)`` (the three task tokens in one batched decoder call) vs decoding the
  three tokens one after another after the same single backbone / pixel-decoder pass (issue 21). Goal <= 1.0x.
* train training iteration time and peak memory vs Mask2Former, same backbone and batch; each side in a fresh
  subprocess, memory = growth of the peak RSS (``resource.getrusage``) over the training iterations. Goal <= 1.15x.
* pipeline samples/s of the task-aware training pipeline (one process) vs the model's training samples/s. Goal >= 20x.
* onnx: end2end's end-to-end panoptic inference with the network in ONNX Runtime on the CPU (graph exported from the
  same weights by ``oneformer.deployment``, same pre- and post-processing code) vs PyTorch eager on the CPU; also
  ONNX Runtime's per-operator time shares. Needs ``requirements/deploy.txt``. Goal <= 0.70x. In the same
  interleaved runs, ``--deploy-sides``: the Gather form of the graph, dynamic int8, OpenVINO and torch.compile,
  each as a ratio to eager (docs/deployment.md).
* complexity: parameters and FLOPs (``mmengine.analysis.get_model_complexity_info``) of both models, and the
  parameter counts of our Swin-L / ConvNeXt-L COCO models next to the paper's.

The random HF model's classifier is calibrated so that about 20 % of the queries are confident objects, as after
training (flat random scores would leave post-processing nothing to do).
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import sys
import tempfile
import time
from typing import Dict, List

import oneformer  # noqa: F401  registers the project modules; first, before torch: idle OpenMP threads sleep

# isort: split
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from oneformer_bench import builders as B  # noqa: E402
from oneformer_bench.presets import PRESETS, get_preset  # noqa: E402
from oneformer_bench.report import markdown  # noqa: E402
from oneformer_bench.timing import pin_threads  # noqa: E402

from oneformer.utils import collect_env, load_average  # noqa: E402

# = oneformer_bench.measures.DEPLOY_SIDES
M_DEPLOY_SIDES = ('ort_gather', 'ort_int8', 'ort_int8_static', 'openvino', 'compile')

MEASURES = ('end2end', 'forward', 'three_tasks', 'batched_tasks', 'train', 'pipeline', 'onnx', 'complexity',
            'paper_params')
SCHEMA_VERSION = 1


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument('--quick', action='store_true', help='the small "quick" preset (a few minutes on 2 cores)')
    size.add_argument('--preset', choices=sorted(PRESETS), help='sizes (default: full, the paper\'s R50 model)')
    parser.add_argument('--measures', default=','.join(MEASURES),
                        help=f'comma-separated subset of {",".join(MEASURES)} (pipeline needs train)')
    parser.add_argument('--image-size', type=int, help='override the input side (multiple of 32)')
    parser.add_argument('--repeats', type=int, help='timed runs per side (median reported)')
    parser.add_argument('--warmup', type=int, help='untimed runs per side first')
    parser.add_argument('--batch', type=int, help='training batch size (train)')
    parser.add_argument('--pipeline-samples', type=int, help='samples timed through the data pipeline (pipeline)')
    parser.add_argument('--train-rounds', type=int, help='fresh training processes per side, alternating (train)')
    parser.add_argument('--threads', type=int, default=torch.get_num_threads(),
                        help='torch intra-op threads for both sides (default: torch default, %(default)s here)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                        help='device of both sides (default: cuda when available, else cpu; pipeline runs on CPU)')
    parser.add_argument('--deploy-sides', default=','.join(M_DEPLOY_SIDES),
                        help='onnx: extra sides timed against eager, comma-separated subset of %(default)s, or none')
    parser.add_argument('--out', help='JSON output (default: work_dirs/benchmark/benchmark_<preset>.json)')
    parser.add_argument('--work-dir', help='keep the converted model and synthetic data here (default: temp dir)')
    return parser.parse_args(argv)


def parse_measures(text: str) -> List[str]:
    measures = [m.strip() for m in text.split(',') if m.strip()]
    unknown = [m for m in measures if m not in MEASURES]
    if unknown or not measures:
        raise ValueError(f'--measures: unknown {unknown or text!r}; choose from {", ".join(MEASURES)}')
    if 'pipeline' in measures and 'train' not in measures:
        raise ValueError('--measures: pipeline compares with the training throughput of train; add train')
    if 'onnx' in measures and importlib.util.find_spec('onnxruntime') is None:
        raise ValueError('--measures: onnx needs onnxruntime and onnx (pip install -r requirements/deploy.txt); '
                         'or leave it out of --measures')
    return measures


def parse_sides(text: str) -> List[str]:
    sides = [] if text.strip() == 'none' else [s.strip() for s in text.split(',') if s.strip()]
    unknown = [s for s in sides if s not in M_DEPLOY_SIDES]
    if unknown:
        raise ValueError(f'--deploy-sides: unknown {unknown}; choose from {",".join(M_DEPLOY_SIDES)} or none')
    return sides


def run(args, command: str) -> Dict:
    from oneformer_bench import complexity as C
    from oneformer_bench import measures as M
    measures = parse_measures(args.measures)
    preset = get_preset('quick' if args.quick else args.preset or 'full', image_size=args.image_size,
                        repeats=args.repeats, warmup=args.warmup, batch=args.batch,
                        pipeline_samples=args.pipeline_samples, train_rounds=args.train_rounds)
    threads = pin_threads(args.threads)
    B.init_scope()
    report = dict(schema_version=SCHEMA_VERSION, preset=preset.name, sizes=preset.describe(),
                  preset_values=preset.__dict__, threads=threads, device=args.device, measures=measures,
                  command=command,
                  machine=collect_env(args.device), load_average_start=load_average(), results={})
    results = report['results']
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work_dir = args.work_dir or tmp
        os.makedirs(work_dir, exist_ok=True)
        ctx = M.Context(preset, work_dir, threads, device=args.device)
        steps = [('end2end', M.end_to_end), ('forward', M.forward_latency), ('three_tasks', M.three_tasks_one_pass),
                 ('batched_tasks', M.batched_task_passes), ('train', M.training_step),
                 ('pipeline', lambda c: M.pipeline_throughput(c, results['train']['time']['ours'])),
                 ('onnx', lambda c: M.onnx_end_to_end(c, parse_sides(args.deploy_sides))),
                 ('complexity', C.complexity),
                 ('paper_params', lambda c: C.paper_params())]
        for key, fn in steps:
            if key in measures:
                t = time.perf_counter()
                results[key] = fn(ctx)
                print(f'[benchmark] {key} done in {time.perf_counter() - t:.0f} s', flush=True)
    report['load_average_end'] = load_average()
    report['wall_time_s'] = time.perf_counter() - start
    return report


def main(argv=None) -> Dict:
    args = parse_args(argv)
    args_used = sys.argv[1:] if argv is None else list(argv)
    command = ' '.join(['python tools/analysis_tools/benchmark_peers.py'] + args_used)
    report = run(args, command)
    table = markdown(report)
    print(f'\n{report["sizes"]}; {report["device"]}, {report["threads"]} threads; load average '
          f'{report["load_average_start"]} -> {report["load_average_end"]}\n\n{table}')
    out = args.out or osp.join('work_dirs', 'benchmark', f'benchmark_{report["preset"]}.json')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    report['table'] = table
    with open(out, 'w', encoding='utf-8') as f:
        json.dump(report, f, indent=1, default=str)
    print(f'\nwrote {out}')
    return report


if __name__ == '__main__':
    main()
