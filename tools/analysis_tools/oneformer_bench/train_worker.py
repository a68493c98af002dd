"""One side of P4 in a fresh interpreter: build a model, run training iterations, report times and peak RSS.

    python tools/analysis_tools/oneformer_bench/train_worker.py SPEC.pth

SPEC (``torch.save``\\ d dict): ``model`` (config dict), ``batch`` (path of a ``pseudo_collate``\\ d batch),
``optim_wrapper`` (config dict), ``warmup``, ``repeats``, ``threads``. Prints one JSON line.
"""
import json
import os.path as osp
import resource
import sys
import time

import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def max_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(spec_path: str) -> dict:
    from mmengine.optim import build_optim_wrapper

    from oneformer_bench.builders import build, init_scope
    from oneformer_bench.timing import pin_threads, summarize

    spec = torch.load(spec_path, weights_only=False)
    pin_threads(spec['threads'])
    init_scope()
    torch.manual_seed(0)
    model = build(spec['model'], train=True)
    optim_wrapper = build_optim_wrapper(model, spec['optim_wrapper'])
    batch = torch.load(spec['batch'], weights_only=False)
    rss_before = max_rss_mb()
    times = []
    for i in range(spec['warmup'] + spec['repeats']):
        start = time.perf_counter()
        losses = model.train_step(batch, optim_wrapper)
        elapsed = time.perf_counter() - start
        if i >= spec['warmup']:
            times.append(elapsed)
    loss = float(sum(v for k, v in losses.items() if k == 'loss'))
    rss_after = max_rss_mb()
    return dict(time=summarize(times), peak_rss_mb=rss_after, rss_before_train_mb=rss_before,
                train_peak_delta_mb=max(0.0, rss_after - rss_before), loss=loss,
                params=sum(p.numel() for p in model.parameters()), threads=torch.get_num_threads())


if __name__ == '__main__':
    print(json.dumps(main(sys.argv[1])))
