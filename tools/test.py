# Copyright (c) OpenMMLab. All rights reserved.
"""Test (and evaluate) OneFormer (mmdet-style test script; also what ``mim test oneformer CONFIG -C CKPT`` runs).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out x.pkl] [--show-dir DIR]
        [--task panoptic|instance|semantic|all] [--task-token panoptic|instance|semantic] [--tta] [--compile]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

``--task`` sets ``model.test_cfg.tasks``, the predictions made (``all`` = one backbone pass, one decoder pass per
task, each output from its own task token), and keeps only the metrics of those tasks in ``test_evaluator``.
``--task-token T`` sets ``model.test_cfg.task_token``: the token "the task is T" produces every prediction (the
official evaluation with ``MODEL.TEST.TASK=T``). ``--tta`` wraps the model in the config's ``tta_model`` and tests
with its ``tta_pipeline`` (multi-scale + flip mIoU, single-scale PQ / AP in the same pass). The headline numbers are
printed as a markdown table and saved to ``{work_dir}/metrics.json`` by ``TaskMetricsSummaryHook`` (added when the
config lacks it). ``--compile`` runs the network (backbone, pixel decoder, decoder) through ``torch.compile`` after
the checkpoint is loaded (``oneformer.apis.compile_network``; the first batch of each input size compiles).
"""
import argparse
import os
from typing import Optional, Sequence

import oneformer  # noqa: F401  registers the project modules; first, before torch: idle OpenMP threads sleep

# isort: split
from mmdet.utils import register_all_modules, setup_cache_size_limit_of_dynamo
from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from oneformer.apis import compile_network, setup_cpu_distributed
from oneformer.engine import setup_test_cfg
from oneformer.tasks import TASK_CHOICES, TASKS


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a OneFormer model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--out', type=str, help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved (inside work_dir/timestamp/)')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--task',
        choices=TASK_CHOICES,
        default=None,
        help='tasks to predict and evaluate; default: the config\'s model.test_cfg.tasks')
    parser.add_argument(
        '--task-token',
        choices=TASKS,
        default=None,
        help='one task token producing every prediction (official MODEL.TEST.TASK evaluation); default: the '
        'config\'s model.test_cfg.task_token (none: each prediction from its own task token)')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='multi-scale + flip semantic evaluation (mIoU ms+flip; PQ / AP stay single-scale) with the config\'s '
        'tta_model / tta_pipeline (configs/_base_/tta/)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the network (after the checkpoint is loaded) for faster inference')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, xxx=yyy format; lists as key="[a,b]" or key=a,b, nested as '
        'key="[(a,b),(c,d)]" (quotes needed, no white space).')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    # torch.distributed.launch (used by `mim test --launcher pytorch`) passes --local-rank on torch >= 2.0
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    setup_cache_size_limit_of_dynamo()

    cfg = setup_test_cfg(Config.fromfile(args.config), args)
    cfg = setup_cpu_distributed(cfg)  # --launcher pytorch without CUDA: gloo, DDP without device ids
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    if args.compile:
        runner.register_hook(CompileNetworkHook(), priority='VERY_LOW')
    return runner.test()


class CompileNetworkHook(Hook):
    """Compile the network before testing: after the checkpoint is loaded (compiled modules rename their
    parameters, so the checkpoint could not be loaded into them)."""

    def before_test(self, runner) -> None:
        compile_network(runner.model)


if __name__ == '__main__':
    main()
