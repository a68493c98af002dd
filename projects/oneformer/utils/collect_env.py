"""One environment report for every tool: mmdet's ``collect_env()`` plus the stack, the CPU, the thread settings
and the machine's load (benchmarks on shared machines are read against them)."""
import importlib
import os
import os.path as osp
import platform
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import torch

#: the environment variables that decide how many threads torch / OpenMP / BLAS use and how idle ones wait
THREAD_VARIABLES = ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'OMP_WAIT_POLICY',
                    'KMP_BLOCKTIME', 'GOMP_SPINCOUNT')
#: packages beyond mmdet's report (name in the report, module)
EXTRA_PACKAGES = (('MMCV', 'mmcv'), ('MMSegmentation', 'mmseg'), ('MMPretrain', 'mmpretrain'),
                  ('transformers', 'transformers'), ('NumPy', 'numpy'))


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    if osp.isfile('/proc/cpuinfo'):
        with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    return platform.processor() or platform.machine() or 'unknown'


def load_average() -> Optional[List[float]]:
    """1 / 5 / 15 minute load averages (None where the platform has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def thread_settings() -> Dict[str, object]:
    """torch's intra- / inter-op thread counts and the thread environment variables (None: unset)."""
    out: Dict[str, object] = {'torch threads': torch.get_num_threads(),
                              'torch interop threads': torch.get_num_interop_threads()}
    out.update({name: os.environ.get(name) for name in THREAD_VARIABLES})
    return out


def _mmcv_ops() -> str:
    try:
        from mmcv.ops import get_compiling_cuda_version
    except ImportError as e:  # mmcv without compiled ops (mmcv-lite)
        return f'not compiled ({e})'
    return f'compiled, CUDA {get_compiling_cuda_version()}'


def _version(module: str) -> str:
    try:
        return importlib.import_module(module).__version__
    except ImportError as e:
        return f'not importable ({e})'


def collect_env(device: Optional[str] = None) -> Dict[str, object]:
    """``mmdet.utils.collect_env()`` (platform, Python, CUDA, GPUs, compilers, PyTorch and its build, OpenCV,
    MMEngine, MMDetection) with the rest of the stack, the CPU, thread settings and load added.

    Args:
        device (str, optional): the device the caller measures on; a CUDA device adds its name, capability,
            memory and bf16 support.

    Returns:
        dict: report entries (JSON-serialisable values) in a stable order.
    """
    from mmdet.utils import collect_env as mmdet_collect_env

    from ..version import __version__
    env = OrderedDict((k, v if isinstance(v, (bool, int, float, str, type(None))) else str(v))
                      for k, v in mmdet_collect_env().items())
    for name, module in EXTRA_PACKAGES:
        env[name] = _version(module)
    env['PyTorch CUDA'] = torch.version.cuda
    env['MMCV ops'] = _mmcv_ops()
    env['OneFormer'] = __version__
    env['platform'] = platform.platform()
    env['CPU'] = cpu_model()
    env['logical CPUs'] = os.cpu_count()
    env.update(thread_settings())
    env['load average'] = load_average()
    if device is not None and torch.device(device).type == 'cuda' and torch.cuda.is_available():
        prop = torch.cuda.get_device_properties(torch.device(device))
        env.update({'device': str(device), 'device name': prop.name,
                    'device capability': f'{prop.major}.{prop.minor}',
                    'device memory (GB)': round(prop.total_memory / 1e9, 1),
                    'cuDNN': torch.backends.cudnn.version(), 'bf16 supported': torch.cuda.is_bf16_supported()})
    elif device is not None:
        env['device'] = str(device)
    return env


def format_env(env: Dict[str, object], leave_out: Sequence[str] = ('PyTorch compiling details', )) -> str:
    """One ``key: value`` line per entry (mmdet's log format), without the keys in ``leave_out`` (by default
    PyTorch's multi-line build configuration, which stays in the JSON reports)."""
    return '\n'.join(f'{k}: {v}' for k, v in env.items() if k not in leave_out)
