# Copyright (c) OpenMMLab. All rights reserved.
"""Exact ``--resume``: the random generators' states travel with the checkpoints."""
import logging
import random
from typing import Optional, Tuple

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log

from ...compat import call_after_fast_forward

META_KEY = 'rng_state'


def get_rng_state() -> dict:
    """States of Python's ``random``, numpy's global generator, torch's CPU generator (and CUDA's, if used)."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(), torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    """Inverse of :func:`get_rng_state`."""
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state['cuda'])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the random generators' states in every checkpoint and restore them on resume, so a resumed run draws
    the same random numbers (task sampling, augmentations, dropout, point sampling) as an uninterrupted one.

    What mmengine 0.10.7 already restores on ``resume``: model, optimizer, parameter schedulers, message hub, the
    iteration, and - for iteration-based training - the sampler position: ``IterBasedTrainLoop`` fetches (and
    discards) the ``iter`` batches already trained, so the sampler order and the data-loader workers' generators
    (re-seeded by mmengine's ``worker_init_fn`` when the loader starts) are where they were. It does *not* restore
    the main process's generators: the resumed run re-seeds them at start-up, so the model's random draws (and,
    with ``num_workers=0``, the augmentations) differ from the uninterrupted run.

    This hook stores, under ``checkpoint['meta']['rng_state']``, one state per rank (Python ``random``, numpy's
    global generator, torch's CPU generator and the current CUDA device's); on resume each rank gets its own back
    right after the loop has fast-forwarded the data (that fast-forward runs the data pipeline and would consume
    them again; mmengine has no hook there: :func:`oneformer.compat.call_after_fast_forward`). Epoch-based loops
    restore before the first epoch. Only rank 0 writes checkpoints, so with several
    ranks the states are gathered (a collective) in the hooks that every rank runs just before ``CheckpointHook``
    saves: after the iterations / epochs it saves at, and after validation when it keeps the best checkpoint. A
    checkpoint from another number of ranks, or without states, resumes as before, with a warning.

    ``tools/train.py`` adds it to ``custom_hooks`` (see :func:`oneformer.engine.add_default_hooks`).
    """
    priority = 'LOW'  # before CheckpointHook (VERY_LOW) in the after_* hooks

    def __init__(self) -> None:
        self._pending: Optional[dict] = None
        self._gathered: Optional[Tuple[Tuple[int, int], list]] = None  # ((iter, epoch), states of every rank)

    # ------------------------------------------------------------------ saving
    @staticmethod
    def _checkpoint_hook(runner) -> Optional[CheckpointHook]:
        return next((h for h in runner.hooks if isinstance(h, CheckpointHook)), None)

    def _gather(self, runner) -> None:
        """Collective: every rank's state, kept for the checkpoint rank 0 is about to write."""
        self._gathered = ((runner.iter, runner.epoch), all_gather_object(get_rng_state()))

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        ckpt = self._checkpoint_hook(runner)
        if get_world_size() > 1 and ckpt is not None and not ckpt.by_epoch and (
                ckpt.every_n_train_iters(runner, ckpt.interval, ckpt.save_begin)
                or (ckpt.save_last and ckpt.is_last_train_iter(runner))):
            self._gather(runner)

    def after_train_epoch(self, runner) -> None:
        ckpt = self._checkpoint_hook(runner)
        if get_world_size() > 1 and ckpt is not None and ckpt.by_epoch and (
                ckpt.every_n_epochs(runner, ckpt.interval, ckpt.save_begin)
                or (ckpt.save_last and ckpt.is_last_train_epoch(runner))):
            self._gather(runner)

    def after_val_epoch(self, runner, metrics=None) -> None:
        ckpt = self._checkpoint_hook(runner)
        if get_world_size() > 1 and ckpt is not None and ckpt.save_best:
            self._gather(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.setdefault('meta', {})
        if get_world_size() == 1:
            states = [get_rng_state()]
        elif self._gathered is not None and self._gathered[0] == (runner.iter, runner.epoch):
            states = self._gathered[1]
        else:
            print_log('RNGStateHook: a checkpoint saved outside CheckpointHook\'s schedule gets no random states '
                      '(they are gathered from every rank beforehand)', logger='current', level=logging.WARNING)
            return
        meta[META_KEY] = dict(states=states, iter=meta.get('iter'), epoch=meta.get('epoch'))

    # ------------------------------------------------------------------ restoring
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # also called for `load_from` without resume: the state is only used if training resumes at its iteration
        self._pending = (checkpoint.get('meta') or {}).get(META_KEY)

    def before_train(self, runner) -> None:
        pending, self._pending = self._pending, None
        loop = runner.train_loop
        if loop.iter == 0 and loop.epoch == 0:
            return  # not a resumed run
        if pending is None:
            print_log('RNGStateHook: the resumed checkpoint has no random generator states (saved without this '
                      'hook); the resumed run is not bit-identical to an uninterrupted one', logger='current',
                      level=logging.WARNING)
            return
        if (pending.get('iter'), pending.get('epoch')) != (loop.iter, loop.epoch):
            return  # the states belong to another checkpoint than the one resumed
        states = pending['states']
        if len(states) != get_world_size():
            print_log(f'RNGStateHook: the checkpoint holds the random states of {len(states)} ranks, this run has '
                      f'{get_world_size()}; not restored', logger='current', level=logging.WARNING)
            return
        state = states[get_rank()]
        if not call_after_fast_forward(loop, lambda: set_rng_state(state)):  # IterBasedTrainLoop: after it
            set_rng_state(state)
