"""The backbone matrix table: every family of ``oneformer.testing.backbone_matrix`` built into the demo OneFormer
(configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py with only ``backbone`` / ``neck`` changed), its
parameters and forward times at the demo size (128x128, batch 1, CPU, eval mode, no gradient)::

    python tools/analysis_tools/backbone_matrix.py [--threads 1] [--repeats 5] [--out docs/backbones.md]

Times are the median of ``--repeats`` runs after one warm-up: the backbone (+ neck) alone, and the whole model
predicting the three tasks (backbone and pixel decoder once, the decoder once per task, post-processing).
``--out`` rewrites the table between the ``<!-- backbone-matrix -->`` markers of that file.
"""
import argparse
import os
import os.path as osp
import platform
import statistics
import sys
import time
from typing import List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BEGIN, END = '<!-- backbone-matrix:begin -->', '<!-- backbone-matrix:end -->'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Parameters and forward times of the backbone matrix')
    parser.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    parser.add_argument('--repeats', type=int, default=5, help='timed runs per model (median reported)')
    parser.add_argument('--only', nargs='*', default=None, help='family names to run (default all)')
    parser.add_argument('--out', default=None, help='markdown file whose marked table to rewrite')
    return parser.parse_args(argv)


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def measure(family: dict, demo, repeats: int) -> dict:
    """Build ``family`` into the demo model and measure it."""
    import torch
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample

    from oneformer.testing.backbone_matrix import matrix_model_cfg

    model = MODELS.build(matrix_model_cfg(family, demo))
    model.init_weights()
    model.eval()
    size = 128
    img = torch.randn(1, 3, size, size)
    meta = dict(img_shape=(size, size), ori_shape=(size, size), batch_input_shape=(size, size),
                scale_factor=(1., 1.))
    with torch.no_grad():
        backbone_ms = _median_ms(lambda: model.extract_feat(img), repeats)
        model_ms = _median_ms(lambda: model.predict(img, [DetDataSample(metainfo=meta)]), repeats)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    neck = count(model.neck) if getattr(model, 'neck', None) is not None else 0
    return dict(backbone_params=count(model.backbone), neck_params=neck, total_params=count(model),
                in_channels=model.panoptic_head.in_channels, backbone_ms=backbone_ms, model_ms=model_ms)


def table(rows: List[dict]) -> str:
    from oneformer.testing.backbone_matrix import matrix_backbone_line
    lines = ['| family | kind | config (`model.` ...) | found `in_channels` | backbone (+neck) params | model '
             'params | backbone (+neck) ms | 3-task predict ms |',
             '|---|---|---|---|---:|---:|---:|---:|']
    for r in rows:
        f = r['family']
        params = f"{r['backbone_params'] / 1e6:.2f}M"
        if r['neck_params']:
            params += f" + {r['neck_params'] / 1e6:.2f}M"
        lines.append(f"| {f['name']} | {f['kind']} | `{matrix_backbone_line(f)}` | {r['in_channels']} | {params} | "
                     f"{r['total_params'] / 1e6:.2f}M | {r['backbone_ms']:.1f} | {r['model_ms']:.1f} |")
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.out:  # check the target before measuring
        with open(args.out, encoding='utf-8') as f:
            doc = f.read()
        if BEGIN not in doc or END not in doc:
            print(f'{args.out} has no {BEGIN} ... {END} markers', file=sys.stderr)
            return 1
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from oneformer.testing import config_path
    from oneformer.testing.backbone_matrix import DEMO_CONFIG, FAMILIES

    torch.set_num_threads(args.threads)
    init_default_scope('mmdet')
    torch.manual_seed(0)
    demo = Config.fromfile(config_path(DEMO_CONFIG))
    families = [f for f in FAMILIES if args.only is None or f['name'] in args.only]
    rows = []
    for family in families:
        rows.append(dict(measure(family, demo, args.repeats), family=family))
        print(f"{family['name']}: {rows[-1]['backbone_ms']:.1f} / {rows[-1]['model_ms']:.1f} ms", file=sys.stderr)
    note = (f'{len(rows)} families; CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, load '
            f'average {os.getloadavg()[0]:.1f} at the end), torch {torch.__version__}, {args.threads} thread(s), '
            f'median of {args.repeats} runs at 128x128, batch 1; command: '
            f'`python tools/analysis_tools/backbone_matrix.py --threads {args.threads} --repeats {args.repeats}`')
    text = table(rows) + '\n\n' + note
    print(text)
    if args.out:
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(f'{head}{BEGIN}\n{text}\n{END}{tail}')
    return 0


if __name__ == '__main__':
    sys.path.insert(0, osp.join(REPO, 'projects'))
    sys.exit(main())
