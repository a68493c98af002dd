"""CUDA correctness and speed check of oneformer-mm: one command, one markdown table, one JSON report.

    python tools/analysis_tools/cuda_check.py --help          # rows, options (the checks live in cuda_checks/)
    python tools/analysis_tools/cuda_check.py --device cpu --dry-run

See docs/cuda_check.md; on a GPU machine run it through ``cuda_check.sh run``.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # cuda_checks, oneformer_bench, benchmark_peers

from cuda_checks.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
