"""One side of train in a fresh interpreter: build a model, run training iterations, report times and memory.

Memory: the peak resident set size during the training iterations (``VmHWM`` reset just before them) minus the
resident size after the imports, i.e. model + optimizer state + gradients + activations + allocator overhead; on
CUDA the device allocator's peak (``torch.cuda.max_memory_allocated``, reset before the training iterations).

    python tools/analysis_tools/oneformer_bench/train_worker.py SPEC.pth

SPEC (``torch.save``\\ d dict): ``model`` (config dict), ``batch`` (path of a ``pseudo_collate``\\ d batch),
``optim_wrapper`` (config dict), ``warmup``, ``repeats``, ``threads``, ``device``. Prints one JSON line.
"""
import json
import os.path as osp
import resource
import sys
import time

import oneformer  # noqa: F401  registers the project modules; first, before torch: idle OpenMP threads sleep

# isort: split
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def status_mb(key: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak resident) of this process from /proc, in MiB."""
    with open('/proc/self/status', encoding='utf-8') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0: ``echo 5 > /proc/self/clear_refs``)."""
    try:
        with open('/proc/self/clear_refs', 'w', encoding='utf-8') as f:
            f.write('5')
        return True
    except OSError:
        return False


def max_rss_mb() -> float:
    """Peak resident set size of this process so far (``getrusage``; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(spec_path: str) -> dict:
    from mmengine.optim import build_optim_wrapper

    from oneformer_bench.builders import build, init_scope
    from oneformer_bench.timing import device_sync, pin_threads, summarize

    spec = torch.load(spec_path, weights_only=False)
    pin_threads(spec['threads'])
    init_scope()
    device = spec.get('device', 'cpu')
    cuda = torch.device(device).type == 'cuda'
    sync = device_sync(device)
    rss_imports = status_mb('VmRSS')  # interpreter + libraries: the same for both sides
    torch.manual_seed(0)
    model = build(spec['model'], train=True).to(device)
    optim_wrapper = build_optim_wrapper(model, spec['optim_wrapper'])
    batch = torch.load(spec['batch'], weights_only=False)  # the data preprocessor moves it to the device
    rss_model = status_mb('VmRSS')
    # peak during training only (imports and model building can peak higher than a tiny model's training)
    if cuda:
        sync()
        torch.cuda.reset_peak_memory_stats(device)
    peak_reset = reset_peak()
    times = []
    for i in range(spec['warmup'] + spec['repeats']):
        sync()
        start = time.perf_counter()
        losses = model.train_step(batch, optim_wrapper)
        sync()
        elapsed = time.perf_counter() - start
        if i >= spec['warmup']:
            times.append(elapsed)
    loss = float(sum(v for k, v in losses.items() if k == 'loss'))
    peak = status_mb('VmHWM') if peak_reset else max_rss_mb()
    result = dict(time=summarize(times), times=times, rss_after_imports_mb=rss_imports, rss_model_built_mb=rss_model,
                  peak_rss_training_mb=peak, training_memory_mb=peak - rss_imports,
                  peak_method='VmHWM reset before training' if peak_reset else 'getrusage ru_maxrss (process peak)',
                  loss=loss, params=sum(p.numel() for p in model.parameters()), threads=torch.get_num_threads(),
                  device=device)
    if cuda:  # on a GPU the device allocator's peak is the memory that matters
        result.update(training_memory_mb=torch.cuda.max_memory_allocated(device) / 2**20,
                      peak_method='torch.cuda.max_memory_allocated (reset before training)')
    return result


if __name__ == '__main__':
    print(json.dumps(main(sys.argv[1])))
