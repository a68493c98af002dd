"""Export a OneFormer checkpoint to one ONNX graph that runs the three tasks (docs/deployment.md).

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT OUT.onnx [--shape H W] [--batch-size 1]
        [--dynamic] [--opset 17] [--no-verify]

The graph maps normalised, padded images ``inputs`` (B, 3, H, W) float32 and task indices ``task`` (B, T) int64
(0 panoptic, 1 instance, 2 semantic) to ``cls_logits`` (B, T, N, K+1) and ``mask_logits`` (B, T, N, H/4, W/4).
Without ``--dynamic`` the batch and size are those of ``--shape`` / ``--batch-size`` (the inputs' padded size: a
multiple of the config's ``pad_size_divisor``); with it both are graph dimensions. Class names, thresholds,
pre-processing, task prompts and the config go into the file's metadata. Run it with
``OneFormerInferencer(CONFIG, weights='OUT.onnx')`` or ``demo/image_demo.py IMAGE CONFIG --weights OUT.onnx``.

Unless ``--no-verify``, ONNX Runtime runs the file on random inputs (for ``--dynamic`` also at a second batch and
size) for all three tasks and the logits are compared with PyTorch; exit status 1 if they differ by more than
``--rtol`` of the largest logit.
"""
import argparse
import os.path as osp
import sys
import time
from typing import Optional, Sequence

import oneformer  # noqa: F401  (registers the project modules)
from oneformer.deployment import DEFAULT_OPSET, OnnxOneFormer, export_onnx, load_pytorch_model
from oneformer.deployment.compare import check_export


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint (.pth) file')
    parser.add_argument('out', help='ONNX file to write')
    parser.add_argument('--shape', type=int, nargs=2, default=(512, 512), metavar=('H', 'W'),
                        help='padded input size: the graph\'s size, or with --dynamic the traced one '
                             '(default: %(default)s)')
    parser.add_argument('--batch-size', type=int, default=1, help='batch of the graph without --dynamic')
    parser.add_argument('--dynamic', action='store_true', help='batch, height and width as graph dimensions')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET, help='ONNX opset (>= 16; default %(default)s)')
    parser.add_argument('--no-verify', action='store_true', help='skip the ONNX Runtime vs PyTorch check')
    parser.add_argument('--rtol', type=float, default=1e-3,
                        help='largest accepted logit difference relative to the largest logit (default %(default)s)')
    args = parser.parse_args(argv)
    for name in ('config', 'checkpoint'):
        if not osp.isfile(getattr(args, name)):
            parser.error(f'{name} not found: {getattr(args, name)}')
    if not args.out.lower().endswith('.onnx'):
        parser.error(f'the output file must end with .onnx (the inferencer picks ONNX Runtime by it): {args.out}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    model, cfg = load_pytorch_model(args.config, args.checkpoint, device='cpu')
    start = time.perf_counter()
    meta = export_onnx(model, args.out, cfg, model.dataset_meta, shape=tuple(args.shape), batch_size=args.batch_size,
                       dynamic=args.dynamic, opset=args.opset, checkpoint=args.checkpoint)
    size_mb = osp.getsize(args.out) / 2**20
    print(f'wrote {args.out} ({size_mb:.1f} MB, opset {meta["opset"]}) in {time.perf_counter() - start:.1f} s')
    print(f'  inputs:  inputs {meta["input_shape"]} float32 (normalised, padded), task [batch, num_tasks] int64 '
          f'({", ".join(f"{i}={t}" for i, t in enumerate(meta["tasks"]))})')
    print(f'  outputs: cls_logits [batch, num_tasks, {meta["num_queries"]}, {meta["num_classes"] + 1}], '
          f'mask_logits [batch, num_tasks, {meta["num_queries"]}, H/4, W/4]')
    print(f'  classes: {meta["num_things_classes"]} things + {meta["num_stuff_classes"]} stuff')
    result = dict(metadata=meta, checks=[])
    if args.no_verify:
        return result
    runner = OnnxOneFormer(args.out, cfg=cfg)
    h, w = args.shape
    div = meta['preprocess']['pad_size_divisor'] or 1
    shapes = [(args.batch_size, h, w)] + ([(args.batch_size + 1, h + div, w + 2 * div)] if args.dynamic else [])
    rows = check_export(model, runner, shapes, rtol=args.rtol)
    print('ONNX Runtime vs PyTorch on random inputs (largest |difference|, and relative to the largest logit):')
    for r in rows:
        print(f'  {str(list(r["shape"])):18s} {r["task"]:9s} class {r["cls"]["abs"]:.2e} ({r["cls"]["rel"]:.1e})  '
              f'mask {r["mask"]["abs"]:.2e} ({r["mask"]["rel"]:.1e})  {"ok" if r["ok"] else "TOO LARGE"}')
    result['checks'] = rows
    if not all(r['ok'] for r in rows):
        print(f'verification failed: differences above --rtol {args.rtol}', file=sys.stderr)
        sys.exit(1)
    return result


if __name__ == '__main__':
    main()
