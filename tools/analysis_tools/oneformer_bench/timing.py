"""Timing helpers: same thread count for every side, warm-up, interleaved runs, medians; fresh subprocesses for
peak memory."""
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.realpath(__file__)))))
THREAD_ENV = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS')


def pin_threads(num_threads: int) -> int:
    """Use ``num_threads`` intra-op threads here and in every subprocess we start."""
    if num_threads < 1:
        raise ValueError(f'--threads must be >= 1, got {num_threads}')
    torch.set_num_threads(num_threads)
    for key in THREAD_ENV:
        os.environ[key] = str(num_threads)
    return torch.get_num_threads()


def summarize(times: List[float]) -> Dict:
    """Median (the reported value), min, max and count of run times in seconds."""
    return dict(median=statistics.median(times), min=min(times), max=max(times), runs=len(times))


def device_sync(device: str) -> Callable[[], None]:
    """What to call before reading the clock: CUDA kernels run asynchronously."""
    if torch.device(device).type == 'cuda':
        return torch.cuda.synchronize
    return lambda: None


def time_interleaved(fns: Dict[str, Callable[[], object]], warmup: int, repeats: int,
                     sync: Callable[[], None] = lambda: None) -> Dict[str, Dict]:
    """Run every function ``warmup`` times, then ``repeats`` rounds calling each once per round (interleaved, so a
    burst of background load hits both sides alike). ``sync`` waits for the device (see :func:`device_sync`).
    Returns :func:`summarize` per name."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: summarize(t) for name, t in times.items()}


def ratio_entry(ours: Dict, peer: Dict, goal: str, ours_name: str, peer_name: str, unit: str = 's',
                higher_is_better: bool = False, **extra) -> Dict:
    """One benchmark row: our and the peer's median, the ratio ours/peer and whether ``goal`` ('<= 0.75') holds."""
    op, bound = goal.split()
    ratio = ours['median'] / peer['median'] if peer['median'] > 0 else float('inf')
    met = ratio <= float(bound) if op == '<=' else ratio >= float(bound)
    return dict(ours=ours, peer=peer, ours_name=ours_name, peer_name=peer_name, unit=unit, ratio=ratio, goal=goal,
                met=bool(met), higher_is_better=higher_is_better, **extra)


def run_worker(script: str, spec_path: str, timeout: float = 3600) -> Dict:
    """Run ``python script spec_path`` in a fresh interpreter (same thread env); its last stdout line is JSON."""
    proc = subprocess.run([sys.executable, script, spec_path], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ), cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f'{osp.basename(script)} {spec_path} failed (exit {proc.returncode}):\n'
                           f'{proc.stderr[-4000:]}')
    lines = [line for line in proc.stdout.splitlines() if line.startswith('{')]
    if not lines:
        raise RuntimeError(f'{osp.basename(script)} printed no JSON result:\n{proc.stdout[-2000:]}')
    return json.loads(lines[-1])
