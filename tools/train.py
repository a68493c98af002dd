# Copyright (c) OpenMMLab. All rights reserved.
"""Train OneFormer (mmdet-style train script; also what ``mim train oneformer CONFIG`` runs).

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--resume [CKPT]] [--auto-scale-lr]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
"""
import argparse
import os
from typing import Optional, Sequence

import oneformer  # noqa: F401  registers the project modules; first, before torch: idle OpenMP threads sleep

# isort: split
from mmdet.utils import register_all_modules, setup_cache_size_limit_of_dynamo
from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from oneformer.apis import setup_cpu_distributed
from oneformer.engine import setup_train_cfg


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a OneFormer model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', default=False, help='enable automatic-mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true', help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or (no value) from the latest checkpoint in the work directory.')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, xxx=yyy format; lists as key="[a,b]" or key=a,b, nested as '
        'key="[(a,b),(c,d)]" (quotes needed, no white space).')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    # torch.distributed.launch (used by `mim train --launcher pytorch`) passes --local-rank on torch >= 2.0
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    # configs that forget `custom_imports` still find mmdet's modules (ours are imported above)
    register_all_modules(init_default_scope=False)
    setup_cache_size_limit_of_dynamo()

    cfg = setup_train_cfg(Config.fromfile(args.config), args)
    cfg = setup_cpu_distributed(cfg)  # --launcher pytorch without CUDA: gloo, DDP without device ids
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
