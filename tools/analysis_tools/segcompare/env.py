"""The process settings every run shares: intra-op threads and the kernels' instruction set pinned (both change
floating-point rounding, hence trained weights), idle OpenMP threads sleeping instead of spinning on a shared CPU
(``oneformer.utils``), and the environment report stored with the results (``oneformer.utils.collect_env``)."""
import os
from typing import Dict

THREAD_ENV = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS')
# --cpu-isa: the instruction set torch's own kernels (ATen), oneDNN (convolutions) and MKL (matrix products) may
# use. Each picks the widest the CPU has unless told; kernels of different widths round differently, so a training
# run on an AVX-512 CPU and one on an AVX2 CPU drift apart within a few iterations. Pinned, every x86-64 CPU with
# AVX2 runs the same kernels.
CPU_ISA_ENV = {
    'avx2': dict(ATEN_CPU_CAPABILITY='avx2', ONEDNN_MAX_CPU_ISA='AVX2', MKL_CBWR='AVX2'),
    'native': {},
}


def sleep_idle_threads() -> None:
    """Idle OpenMP threads sleep instead of spinning (``oneformer.utils.sleep_idle_threads``: before torch loads its
    OpenMP runtime; the runs' processes inherit it; a user's own setting wins)."""
    from oneformer.utils import sleep_idle_threads as sleep
    sleep()


def pin_threads(threads: int) -> int:
    """Use ``threads`` intra-op threads in this process and the processes it starts."""
    import torch
    if threads < 1:
        raise ValueError(f'--threads must be >= 1, got {threads}')
    for key in THREAD_ENV:
        os.environ[key] = str(threads)
    torch.set_num_threads(threads)
    return torch.get_num_threads()


def cpu_isa_env(isa: str) -> Dict[str, str]:
    """Environment variables pinning the kernels' instruction set (``native``: none; the CPU decides)."""
    if isa not in CPU_ISA_ENV:
        raise ValueError(f'--cpu-isa must be one of {sorted(CPU_ISA_ENV)}, got {isa!r}')
    return dict(CPU_ISA_ENV[isa])


def environment(threads: int, cpu_isa: str) -> Dict:
    """The shared environment report (:func:`oneformer.utils.collect_env`: mmdet's plus the stack, CPU, threads,
    load) with the settings every run of the comparison used."""
    from oneformer.utils import collect_env
    env = dict(collect_env())
    env.update({'threads per run': threads, 'cpu isa': cpu_isa, 'cpu isa env': cpu_isa_env(cpu_isa)})
    return env
