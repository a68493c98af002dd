"""Accuracy and speed of one model in several forms on a dataset split: PyTorch (.pth), fp32 / int8 ONNX Runtime
(.onnx), OpenVINO (.onnx with --openvino, or .xml), torch.compile (--compile).

    python tools/deployment/eval_backends.py CONFIG MODEL [MODEL ...] [--openvino] [--compile] [--threads N]
        [--out results.json]

Every model runs the config's test dataloader (``test_cfg.tasks`` of the config: by default the three tasks, one
backbone pass) through the config's test evaluator: PQ / AP / mIoU per model, the difference to the first model
(the reference: put the ``.pth`` or the fp32 graph first) and the mean time per image of ``test_step`` (data
preprocessor + network + post-processing) with its ratio to the first model's. The exported files run with this
config's pre- and post-processing (as ``OneFormerInferencer`` does). Prints a markdown table, writes JSON.
"""
import argparse
import json
import numbers
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence

import oneformer  # noqa: F401  registers the project modules; first, before torch: idle OpenMP threads sleep

# isort: split
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from oneformer.apis import compile_network, load_pytorch_model

#: headline metrics (key in the evaluator's results, name, scale to percent)
HEADLINE = (('coco_panoptic/PQ', 'PQ', 1.0), ('coco/segm_mAP', 'AP', 100.0), ('mIoU', 'mIoU', 1.0))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config with test_dataloader / test_evaluator (e.g. the demo run\'s dump)')
    parser.add_argument('models', nargs='+', help='.pth checkpoints, .onnx graphs, .xml OpenVINO IRs; the first '
                        'is the reference')
    parser.add_argument('--openvino', action='store_true', help='also run each .onnx in OpenVINO')
    parser.add_argument('--compile', action='store_true', help='also run each .pth through torch.compile')
    parser.add_argument('--threads', type=int, help='intra-op threads of every runtime (default: their default)')
    parser.add_argument('--out', help='JSON output (default: next to the first model, eval_backends.json)')
    args = parser.parse_args(argv)
    for path in args.models:
        if not osp.isfile(path):
            parser.error(f'model file not found: {path}')
        if osp.splitext(path)[1].lower() not in ('.pth', '.onnx', '.xml'):
            parser.error(f'{path}: models are .pth, .onnx or .xml files')
    if args.threads is not None and args.threads < 1:
        parser.error(f'--threads must be >= 1, got {args.threads}')
    return args


def variants(args) -> List[Dict]:
    """(name, file, kind) of every model form to evaluate, in order."""
    out = []
    for path in args.models:
        ext = osp.splitext(path)[1].lower()
        name = osp.basename(path)
        if ext == '.pth':
            out.append(dict(name=f'{name} (PyTorch eager)', file=path, kind='eager'))
            if args.compile:
                out.append(dict(name=f'{name} (torch.compile)', file=path, kind='compile'))
        elif ext == '.onnx':
            out.append(dict(name=f'{name} (ONNX Runtime)', file=path, kind='onnxruntime'))
            if args.openvino:
                out.append(dict(name=f'{name} (OpenVINO)', file=path, kind='openvino'))
        else:
            out.append(dict(name=f'{name} (OpenVINO)', file=path, kind='openvino'))
    return out


def load(variant: Dict, config: str, threads: Optional[int]) -> torch.nn.Module:
    if variant['kind'] in ('eager', 'compile'):
        model, _ = load_pytorch_model(config, variant['file'])
        return compile_network(model) if variant['kind'] == 'compile' else model
    from oneformer.deployment import OnnxOneFormer
    return OnnxOneFormer(variant['file'], cfg=Config.fromfile(config), backend=variant['kind'], threads=threads)


def evaluate(model: torch.nn.Module, cfg: Config) -> Dict:
    """The config's test split through ``model.test_step`` and the config's test evaluator: the metrics, and the
    time per image (first batch excluded: it includes torch.compile's / the runtimes' warm-up)."""
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    dataloader = Runner.build_dataloader(cfg.test_dataloader)
    evaluator = Evaluator(cfg.test_evaluator)
    evaluator.dataset_meta = dataloader.dataset.metainfo
    times, images = [], []
    with torch.no_grad():
        for data in dataloader:
            start = time.perf_counter()
            outputs = model.test_step(data)
            times.append(time.perf_counter() - start)
            images.append(len(outputs))
            evaluator.process(data_samples=outputs, data_batch=data)
    metrics = evaluator.evaluate(len(dataloader.dataset))
    timed = slice(1, None) if len(times) > 1 else slice(None)
    # numpy scalars too (mmseg's IoUMetric returns np.float32, which is not a float)
    return dict(metrics={k: float(v) for k, v in metrics.items() if isinstance(v, numbers.Real)},
                s_per_image=sum(times[timed]) / max(sum(images[timed]), 1), images=sum(images))


def headline(metrics: Dict) -> Dict[str, float]:
    return {name: metrics[key] * scale for key, name, scale in HEADLINE if key in metrics}


def markdown(rows: List[Dict]) -> str:
    names = [n for n in ('PQ', 'AP', 'mIoU') if n in rows[0]['headline']]
    lines = ['| model | ' + ' | '.join(names) + ' | ' + ' | '.join(f'{n} diff' for n in names)
             + ' | ms / image | time ratio |', '|---|' + '---:|' * (2 * len(names) + 2)]
    ref = rows[0]
    for r in rows:
        diffs = [r['headline'].get(n, float('nan')) - ref['headline'].get(n, float('nan')) for n in names]
        lines.append(f'| {r["name"]} | ' + ' | '.join(f'{r["headline"].get(n, float("nan")):.2f}' for n in names)
                     + ' | ' + ' | '.join(f'{d:+.2f}' for d in diffs)
                     + f' | {1000 * r["s_per_image"]:.1f} | {r["s_per_image"] / ref["s_per_image"]:.2f}x |')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> List[Dict]:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    rows = []
    for variant in variants(args):
        print(f'[eval_backends] {variant["name"]} ...', flush=True)
        result = evaluate(load(variant, args.config, args.threads), cfg)
        rows.append(dict(variant, **result, headline=headline(result['metrics'])))
    for r in rows:
        r['diff'] = {k: v - rows[0]['headline'].get(k, float('nan')) for k, v in r['headline'].items()}
        r['time_ratio'] = r['s_per_image'] / rows[0]['s_per_image']
    table = markdown(rows)
    print(f'\n{rows[0]["images"]} images, {args.threads or "default"} threads\n\n{table}')
    out = args.out or osp.join(osp.dirname(osp.abspath(args.models[0])), 'eval_backends.json')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w', encoding='utf-8') as f:
        json.dump(dict(config=args.config, threads=args.threads, rows=rows, table=table), f, indent=1)
    print(f'\nwrote {out}')
    return rows


if __name__ == '__main__':
    main()
