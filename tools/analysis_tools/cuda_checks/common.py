"""What every row shares: constants and thresholds, the row record, comparisons, TF32 control and the run's
context."""
import contextlib
import dataclasses
import gc
import math
import os.path as osp
import sys
from typing import Callable, Dict, Iterator, Tuple

import torch

TOOLS = osp.dirname(osp.dirname(osp.abspath(__file__)))
REPO = osp.dirname(osp.dirname(TOOLS))
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)  # oneformer_bench (benchmark helpers), benchmark_peers

SCHEMA_VERSION = 1
DEMO_CONFIG = 'configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py'
BASE_MODEL_CONFIG = 'configs/_base_/models/oneformer_r50.py'
COCO_CONFIGS = {
    'r50': 'configs/oneformer/oneformer_r50_8xb2-50e_coco-panoptic.py',
    'swinl': 'configs/oneformer/oneformer_swin-l-p4-w12-384-in21k_16xb1-100e_coco-panoptic.py',
}
AMP_DTYPES = ('float16', 'bfloat16')
CORRECTNESS_GROUPS = ('correctness', 'amp')

# thresholds: rel = max|a - b| / max|b| (b the reference); logits: max|a - b| / max(1, max|b|)
TOL_KERNEL = 1e-4  # deformable attention, query-transformer attention
TOL_LOGITS = 1e-3  # a whole model, CUDA vs CPU (the bound)
TOL_HF = 1e-4  # converted model vs HF transformers on the same device (tests/test_converters: 1e-4 on CPU)


class Skip(Exception):
    """Raised by a row that cannot run here (the reason goes to the table)."""


@dataclasses.dataclass
class Row:
    """One line of the report: ``fn(ctx)`` returns ``(ok, values, summary)``."""
    name: str
    group: str
    title: str
    fn: Callable[['Context'], Tuple[bool, Dict, str]]
    needs_cuda: bool = False


def import_stack() -> Callable:
    """Import mmcv's ops (with advice where they are missing) and the project, with mmdet's registries as the
    default scope. Returns mmcv's own non-CUDA deformable-attention function (kept by ``oneformer.compat`` when it
    installs its router under that name)."""
    try:
        import mmcv.ops.multi_scale_deform_attn  # noqa: F401
    except ImportError as e:  # mmcv without compiled ops, or no mmcv
        raise SystemExit(f'cuda_check: cannot import mmcv.ops ({e}); on the GPU machine run '
                         '`bash tools/analysis_tools/cuda_check.sh build` first (docs/cuda_check.md)') from e
    from oneformer_bench.builders import init_scope

    import oneformer  # noqa: F401  (registers the models)
    from oneformer.compat.mmcv_deform_attn import STOCK
    init_scope()  # mmdet's registries as default scope, quiet model-building logs
    return STOCK


def config_path(relative: str) -> str:
    path = osp.join(REPO, relative)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{relative} not found under {REPO}')
    return path


def load_cfg(relative: str):
    from mmengine.config import Config
    return Config.fromfile(config_path(relative))


def compare(a: torch.Tensor, b: torch.Tensor, logits: bool = False) -> Dict[str, float]:
    """Largest absolute difference of ``a`` to the reference ``b`` and the same relative to ``b``'s largest value
    (``logits``: relative to ``max(1, max|b|)``, i.e. absolute for logits of at most unit size)."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    if a.shape != b.shape:
        raise ValueError(f'shape {tuple(a.shape)} vs reference {tuple(b.shape)}')
    if not torch.isfinite(a).all() or not torch.isfinite(b).all():
        return dict(max_abs_diff=math.inf, ref_max_abs=math.nan, rel_diff=math.inf)
    diff = (a - b).abs().max().item() if a.numel() else 0.0
    scale = b.abs().max().item() if b.numel() else 0.0
    denom = max(1.0, scale) if logits else scale
    return dict(max_abs_diff=diff, ref_max_abs=scale, rel_diff=diff / denom if denom > 0 else math.inf)


def worst(entries: Dict[str, Dict[str, float]]) -> Tuple[str, float]:
    """(name, rel_diff) of the worst comparison."""
    name = max(entries, key=lambda k: entries[k]['rel_diff'])
    return name, entries[name]['rel_diff']


@contextlib.contextmanager
def strict_fp32() -> Iterator[None]:
    """float32 matmuls and convolutions without TF32 (cuDNN allows TF32 convolutions by default)."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def tf32_flags() -> Dict[str, bool]:
    """The TF32 and cuDNN benchmark settings in force (recorded with every timing)."""
    return dict(matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32,
                cudnn_allow_tf32=torch.backends.cudnn.allow_tf32, cudnn_benchmark=torch.backends.cudnn.benchmark)


def fmt(x: float) -> str:
    """Short number format of the table."""
    return f'{x:.1e}' if isinstance(x, float) and (x == 0 or abs(x) < 1e-2 or abs(x) >= 1e4) else f'{x:.3g}'


class Context:
    """Arguments, device, work dir and what several rows share (the AMP batches and float32 curve, models)."""

    def __init__(self, args, mmcv_fallback: Callable) -> None:
        self.args = args
        self.device = torch.device(args.device)
        self.cuda = self.device.type == 'cuda'
        self.dry = args.dry_run
        self.work_dir = args.work_dir
        self.mmcv_fallback = mmcv_fallback
        self.cache: Dict[str, object] = {}

    def sync(self) -> None:
        """Wait for the device (CUDA); nothing on CPU."""
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def seed(self, offset: int = 0) -> None:
        """Seed Python, numpy and torch with ``--seed`` + ``offset``."""
        import random

        import numpy as np
        s = self.args.seed + offset
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)

    def free(self, *keys: str, everything: bool = False) -> None:
        """Drop cached objects (``keys``, or all with ``everything``), then release unreferenced GPU memory."""
        for key in list(self.cache) if everything else keys:
            self.cache.pop(key, None)
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()

