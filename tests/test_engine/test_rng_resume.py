"""``--resume`` is exact with RNGStateHook: the losses after resuming are bit-identical to an uninterrupted run."""
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from oneformer.engine import RNGStateHook
from oneformer.engine.hooks import get_rng_state, set_rng_state
from oneformer.testing import synthetic_runner_cfg

MAX_ITERS, KILL_AT = 4, 2  # 3 iterations per epoch: the resumed part crosses an epoch end


class LossRecorder(Hook):
    priority = 'LOWEST'

    def __init__(self):
        self.losses = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.losses[runner.iter + 1] = {k: float(v) for k, v in outputs.items()}


def _train(root, work_dir, max_iters, rng_hook=True, resume_from=None, num_workers=0):
    init_default_scope('mmdet')
    cfg = synthetic_runner_cfg(root, work_dir, max_iters, ckpt_interval=KILL_AT, schedule_iters=MAX_ITERS,
                               num_workers=num_workers)
    if rng_hook:
        cfg.custom_hooks = [dict(type='RNGStateHook')]
    if resume_from:
        cfg.resume, cfg.load_from = True, resume_from
    runner = Runner.from_cfg(cfg)
    recorder = LossRecorder()
    runner.register_hook(recorder)
    runner.train()
    return recorder.losses


def test_rng_state_round_trip():
    state = get_rng_state()
    draws = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == draws
    assert isinstance(RNGStateHook(), Hook)


@pytest.mark.slow
@pytest.mark.parametrize('num_workers', [0, 1])
def test_resume_reproduces_the_uninterrupted_losses(synthetic_root, tmp_path, num_workers):
    full = _train(synthetic_root, str(tmp_path / 'full'), MAX_ITERS, num_workers=num_workers)
    assert sorted(full) == list(range(1, MAX_ITERS + 1))

    # "killed" after KILL_AT iterations (the schedule is the same: only max_iters differs), then resumed
    killed = _train(synthetic_root, str(tmp_path / 'killed'), KILL_AT, num_workers=num_workers)
    assert killed == {i: full[i] for i in range(1, KILL_AT + 1)}
    ckpt = osp.join(tmp_path, 'killed', f'iter_{KILL_AT}.pth')
    meta = torch.load(ckpt, map_location='cpu', weights_only=False)['meta']
    assert meta['rng_state']['iter'] == KILL_AT and len(meta['rng_state']['states']) == 1

    resumed = _train(synthetic_root, str(tmp_path / 'killed'), MAX_ITERS, resume_from=ckpt,
                     num_workers=num_workers)
    assert sorted(resumed) == list(range(KILL_AT + 1, MAX_ITERS + 1))
    for it in resumed:
        assert resumed[it] == full[it], f'iteration {it}: {resumed[it]} != {full[it]}'

    if num_workers == 0:
        # what mmengine 0.10.7 alone restores (model, optimizer, scheduler, iteration, sampler position via the
        # loop's fast-forward) is not enough: the main process's generators restart from the seed
        plain = _train(synthetic_root, str(tmp_path / 'killed'), MAX_ITERS, rng_hook=False, resume_from=ckpt)
        assert sorted(plain) == sorted(resumed)
        assert any(plain[it] != full[it] for it in plain)
