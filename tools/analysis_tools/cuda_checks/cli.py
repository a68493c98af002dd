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
import os
import os.path as osp
import sys
import tempfile
import time
from typing import Optional, Sequence

import torch

from .common import CORRECTNESS_GROUPS, SCHEMA_VERSION, Context, Row, import_stack
from .report import run_row, write_report
from .rows import ROWS, select_rows


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (``--help``)."""
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


def main(argv=None, rows: Optional[Sequence[Row]] = None) -> int:
    """Run the selected ``rows`` (default: :data:`~.rows.ROWS`), write the report; returns the exit code."""
    rows = ROWS if rows is None else rows
    args = parse_args(argv)
    if args.list:
        for r in rows:
            print(f'{r.name:22s} {r.group:12s} {r.title}{" [CUDA only]" if r.needs_cuda else ""}')
        return 0
    selected = select_rows(args.only, args.skip, rows)
    command = ' '.join(['python tools/analysis_tools/cuda_check.py'] + (sys.argv[1:] if argv is None else argv))
    t0 = time.perf_counter()
    mmcv_fallback = import_stack()
    with contextlib.ExitStack() as stack:
        if args.work_dir is None:
            args.work_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix='cuda_check_'))
        os.makedirs(args.work_dir, exist_ok=True)
        from oneformer.utils import collect_env  # after import_stack: oneformer needs mmcv's ops
        ctx = Context(args, mmcv_fallback)
        report = dict(schema_version=SCHEMA_VERSION, command=command, device=str(ctx.device), dry_run=args.dry_run,
                      machine=collect_env(str(ctx.device)), rows=[])
        m = report['machine']
        print(f'[cuda_check] {m.get("device name", "no GPU")} | torch {m["PyTorch"]} (CUDA {m["PyTorch CUDA"]}) | '
              f'mmcv {m["MMCV"]} (ops {m["MMCV ops"]}) | transformers {m["transformers"]} | device '
              f'{ctx.device}{" | dry run" if args.dry_run else ""}', flush=True)
        for i, row in enumerate(rows, 1):
            if row.name not in selected:
                report['rows'].append(dict(name=row.name, group=row.group, title=row.title,
                                           correctness=row.group in CORRECTNESS_GROUPS, status='skipped',
                                           reason='not selected'))
                continue
            print(f'[cuda_check] ({i}/{len(rows)}) {row.name}: {row.title} ...', flush=True)
            entry = run_row(ctx, row)
            report['rows'].append(entry)
            detail = entry.get('summary') or entry.get('reason') or entry.get('error', '')
            secs = f' in {entry["seconds"]:.1f} s' if 'seconds' in entry else ''
            print(f'[cuda_check] ({i}/{len(rows)}) {row.name}: {entry["status"]}{secs}: {detail}', flush=True)
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

