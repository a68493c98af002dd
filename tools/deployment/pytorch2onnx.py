"""Export a OneFormer checkpoint to one ONNX graph that runs the three tasks (docs/deployment.md).

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT OUT.onnx [--shape H W] [--batch-size 1]
        [--dynamic] [--num-tasks auto|1|2|3|dynamic] [--opset 17] [--no-verify] [--deform-attn grid_sample|gather]
        [--quantize dynamic|static [--calib-images N] [--quantize-ops MatMul Gemm Conv] [--keep-fp32 REGEX ...]]
        [--openvino]

The graph maps normalised, padded images ``inputs`` (B, 3, H, W) float32 and task indices ``task`` (B, T) int64
(0 panoptic, 1 instance, 2 semantic) to ``cls_logits`` (B, T, N, K+1) and ``mask_logits`` (B, T, N, H/4, W/4).
Without ``--dynamic`` the batch and size are those of ``--shape`` / ``--batch-size`` (the inputs' padded size: a
multiple of the config's ``pad_size_divisor``); with it both are graph dimensions. T, the tasks decoded per image
and backbone pass, is fixed by ``--num-tasks`` (default: 1 for a fixed-size graph, which is then fully static and
fastest; a graph dimension with ``--dynamic``); the runner runs any number of tasks on either. Class names, thresholds,
pre-processing, task prompts and the config go into the file's metadata. Run it with
``OneFormerInferencer(CONFIG, weights='OUT.onnx')`` or ``demo/image_demo.py IMAGE CONFIG --weights OUT.onnx``.

Unless ``--no-verify``, ONNX Runtime runs the file on random inputs (for ``--dynamic`` also at a second batch and
size) for all three tasks and the logits are compared with PyTorch; if they differ by more than ``--rtol`` of the
largest logit the file is removed and the exit status is 1. (A Swin backbone, whose window padding is computed in
Python, exports correctly only at a fixed size: the check catches a ``--dynamic`` export of it.) DiNAT backbones do
not export (their neighbourhood attention is a custom autograd Function).

``--quantize dynamic`` also writes ``OUT_int8.onnx``: the weights of ``--quantize-ops`` in int8 through
``onnxruntime.quantization`` (activations quantised at run time); ``--quantize static`` quantises activations too,
with ranges calibrated on ``--calib-images`` images of the config's test dataset (all three task tokens). The
post-processing is unchanged; ``tools/deployment/eval_backends.py`` measures what int8 costs in PQ / AP / mIoU.
``--openvino`` also writes ``OUT.xml`` / ``OUT.bin`` (OpenVINO IR with the same metadata; needs ``openvino``).
"""
import argparse
import os
import os.path as osp
import sys
import time
from typing import Optional, Sequence

import oneformer  # noqa: F401  (registers the project modules)
from oneformer.apis import load_pytorch_model
from oneformer.deployment import DEFAULT_OPSET, OnnxOneFormer, export_onnx, onnx_to_openvino, quantize_onnx
from oneformer.deployment.compare import check_export, logit_diffs
from oneformer.deployment.deform_attn import DEFORM_ATTN
from oneformer.deployment.export import DEFAULT_DEFORM_ATTN
from oneformer.deployment.quantize import DEFAULT_OP_TYPES, QUANT_MODES, calibration_feeds


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
    parser.add_argument('--num-tasks', default='auto', choices=('auto', '1', '2', '3', 'dynamic'),
                        help="tasks per image in one graph run: 'auto' = 1 without --dynamic, else 'dynamic'")
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET, help='ONNX opset (>= 16; default %(default)s)')
    parser.add_argument('--no-verify', action='store_true', help='skip the ONNX Runtime vs PyTorch check')
    parser.add_argument('--rtol', type=float, default=1e-3,
                        help='largest accepted logit difference relative to the largest logit (default %(default)s)')
    parser.add_argument('--deform-attn', default=DEFAULT_DEFORM_ATTN, choices=sorted(DEFORM_ATTN),
                        help='operators of the deformable attention\'s sampling: one GridSample per level, or one '
                             'Gather + MatMul for all levels (default %(default)s)')
    parser.add_argument('--quantize', choices=QUANT_MODES,
                        help='also write OUT_int8.onnx: int8 weights (dynamic) or weights and activations (static)')
    parser.add_argument('--calib-images', type=int, default=16,
                        help='static quantization: test-set images for the activation ranges (default %(default)s)')
    parser.add_argument('--quantize-ops', nargs='+', default=list(DEFAULT_OP_TYPES), choices=DEFAULT_OP_TYPES,
                        help='operator types to quantise (default: %(default)s)')
    parser.add_argument('--keep-fp32', nargs='+', default=[], metavar='REGEX',
                        help='node names (PyTorch module paths, e.g. /model/panoptic_head/) to keep in float')
    parser.add_argument('--per-channel', action='store_true', help='per-output-channel int8 weight scales')
    parser.add_argument('--openvino', action='store_true', help='also write an OpenVINO IR (OUT.xml + OUT.bin)')
    args = parser.parse_args(argv)
    if args.calib_images < 1:
        parser.error(f'--calib-images must be >= 1, got {args.calib_images}')
    for name in ('config', 'checkpoint'):
        if not osp.isfile(getattr(args, name)):
            parser.error(f'{name} not found: {getattr(args, name)}')
    if not args.out.lower().endswith('.onnx'):
        parser.error(f'the output file must end with .onnx (the inferencer picks ONNX Runtime by it): {args.out}')
    return args


def _num_tasks(value: str):
    return value if value == 'auto' else None if value == 'dynamic' else int(value)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    model, cfg = load_pytorch_model(args.config, args.checkpoint, device='cpu')
    start = time.perf_counter()
    meta = export_onnx(model, args.out, cfg, model.dataset_meta, shape=tuple(args.shape), batch_size=args.batch_size,
                       dynamic=args.dynamic, num_tasks=_num_tasks(args.num_tasks), opset=args.opset,
                       checkpoint=args.checkpoint, deform_attn=args.deform_attn)
    size_mb = osp.getsize(args.out) / 2**20
    print(f'wrote {args.out} ({size_mb:.1f} MB, opset {meta["opset"]}) in {time.perf_counter() - start:.1f} s')
    print(f'  inputs:  inputs {meta["input_shape"]} float32 (normalised, padded), task {meta["task_shape"]} int64 '
          f'({", ".join(f"{i}={t}" for i, t in enumerate(meta["tasks"]))})')
    print(f'  outputs: cls_logits [B, T, {meta["num_queries"]}, {meta["num_classes"] + 1}], '
          f'mask_logits [B, T, {meta["num_queries"]}, H/4, W/4]')
    print(f'  classes: {meta["num_things_classes"]} things + {meta["num_stuff_classes"]} stuff')
    result = dict(metadata=meta, checks=[])
    if not args.no_verify:
        _verify(args, model, cfg, meta, result)
    if args.openvino:
        xml = onnx_to_openvino(args.out, osp.splitext(args.out)[0] + '.xml')
        print(f'wrote {xml} (OpenVINO IR, f32)')
        result['openvino'] = xml
    if args.quantize:
        result['int8'] = _quantize(args, model, cfg, meta)
    return result


def _quantize(args, model, cfg, meta) -> str:
    out = osp.splitext(args.out)[0] + '_int8.onnx'
    calib = None
    if args.quantize == 'static':
        calib = calibration_feeds(model, cfg, meta, args.calib_images)
    start = time.perf_counter()
    entry = quantize_onnx(args.out, out, args.quantize, op_types=args.quantize_ops, keep_fp32=args.keep_fp32,
                          calibration=calib, per_channel=args.per_channel)
    print(f'wrote {out} ({osp.getsize(out) / 2**20:.1f} MB, {args.quantize} int8 of {", ".join(entry["op_types"])}, '
          f'{entry["nodes_kept_fp32"]} nodes kept in float) in {time.perf_counter() - start:.1f} s')
    # int8 logits differ from PyTorch by design: report, do not fail (eval_backends.py measures the metrics)
    import torch
    h, w = args.shape
    inputs = torch.randn(args.batch_size, 3, h, w, generator=torch.Generator().manual_seed(0))
    for task, d in logit_diffs(model, OnnxOneFormer(out, cfg=cfg), inputs).items():
        print(f'  int8 vs PyTorch, {task:9s}: class {d["cls"]["rel"]:.1e}, mask {d["mask"]["rel"]:.1e} of the '
              'largest logit')
    return out


def _verify(args, model, cfg, meta, result) -> None:
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
        traced_ok = all(r['ok'] for r in rows if r['shape'] == rows[0]['shape'])
        why = ('the graph is right at the traced size only: the model computes sizes in Python and the tracer kept '
               'them as constants (e.g. mmdet\'s SwinTransformer window padding); export it without --dynamic, '
               'at the padded size of your inputs' if traced_ok else f'differences above --rtol {args.rtol}')
        os.remove(args.out)  # a graph known to be wrong is not left behind (--no-verify keeps it)
        print(f'verification failed, {args.out} removed: {why}', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
