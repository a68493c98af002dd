"""The rows of the report, in order, and their selection by ``--only`` / ``--skip``."""
import fnmatch
from typing import List, Optional, Sequence

from .amp import row_amp_bfloat16, row_amp_float16, row_amp_fp32_rerun
from .common import AMP_DTYPES, Row
from .kernels import row_deform_attn, row_query_attn_eval, row_query_attn_train
from .parity import row_hf_parity, row_model_forward
from .speed import fps_fn, row_bench_peers, row_train_swinl

ROWS: List[Row] = [
    Row('deform_attn', 'correctness', 'MS deformable attention: mmcv kernel vs our CPU paths (value + grads)',
        row_deform_attn),
    Row('query_attn_eval', 'correctness', 'query transformer attention, eval: device vs stock CPU',
        row_query_attn_eval),
    Row('query_attn_train', 'correctness', 'query transformer attention, training (dropout 0), + grads',
        row_query_attn_train),
    Row('model_forward', 'correctness', 'demo model logits, 3 tasks: device vs CPU', row_model_forward),
    Row('hf_parity', 'correctness', 'converted HF OneFormer = HF logits, on the device', row_hf_parity),
    Row('amp_fp32_rerun', 'amp', 'demo training: float32 rerun vs float32 (noise floor)', row_amp_fp32_rerun),
    Row('amp_float16', 'amp', 'demo training: AMP float16 vs float32', row_amp_float16, needs_cuda=True),
    Row('amp_bfloat16', 'amp', 'demo training: AMP bfloat16 vs float32', row_amp_bfloat16, needs_cuda=True),
    Row('bench_peers', 'speed', 'benchmark_peers.py on the device', row_bench_peers),
]
for _key, _label in (('r50', 'R50'), ('swinl', 'Swin-L')):
    for _dtype in (None, ) + AMP_DTYPES:
        ROWS.append(Row(f'fps_{_key}_{_dtype or "fp32"}', 'speed',
                        f'{_label} COCO inference 800x1333, {"AMP " + _dtype if _dtype else "float32"}',
                        fps_fn(_key, _dtype), needs_cuda=_dtype is not None))
ROWS.append(Row('train_swinl', 'speed', 'Swin-L train step 1024x1024 b2: time + memory vs Mask2Former',
                row_train_swinl))


def select_rows(only: Optional[str], skip: Optional[str], rows: Optional[Sequence[Row]] = None) -> List[str]:
    """Row names picked by ``--only`` / ``--skip``: names, groups (correctness, amp, speed) or globs (fps_*), of
    ``rows`` (default :data:`ROWS`)."""
    rows = ROWS if rows is None else rows

    def expand(text: str) -> List[str]:
        names = []
        for pat in (t.strip() for t in text.split(',') if t.strip()):
            hit = [r.name for r in rows if fnmatch.fnmatchcase(r.name, pat) or r.group == pat]
            if not hit:
                raise SystemExit(f'cuda_check: {pat!r} matches no row; rows: {", ".join(r.name for r in rows)}; '
                                 f'groups: correctness, amp, speed')
            names += hit
        return names
    chosen = expand(only) if only else [r.name for r in rows]
    dropped = set(expand(skip)) if skip else set()
    return [r.name for r in rows if r.name in chosen and r.name not in dropped]

