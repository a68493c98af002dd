# Copyright (c) OpenMMLab. All rights reserved.
"""Checkpoints that survive a kill at any moment: atomic writes, old files removed only after the new one."""
import glob
import os
import os.path as osp
from collections import deque
from typing import List

from mmdet.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook

#: prefix of the temporary files the checkpoints are written to before their rename
TMP_PREFIX = '.tmp-'


def _fsync_dir(path: str) -> None:
    """Make a rename in ``path`` durable (best effort: not every OS / file system lets a folder be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_file(tmp_path: str, path: str) -> None:
    """Flush ``tmp_path`` to disk, then rename it to ``path`` (atomic on POSIX and Windows: a reader, or a run
    resumed after a crash, sees the old file or the complete new one, never a partial one)."""
    with open(tmp_path, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, path)
    _fsync_dir(osp.dirname(osp.abspath(path)))


def write_text_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    tmp_path = osp.join(osp.dirname(path), TMP_PREFIX + osp.basename(path))
    with open(tmp_path, 'w') as f:
        f.write(text)
    replace_file(tmp_path, path)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments, file names, ``last_checkpoint`` and ``max_keep_ckpts``) with
    an order of file operations that a kill (``kill -9``, out of memory, power loss) at any moment cannot break.

    mmengine 0.10.7 deletes the oldest kept checkpoint *before* writing the new one, writes the new one in place,
    and points ``last_checkpoint`` at it before it is written: with ``max_keep_ckpts=1`` a kill during a save
    leaves a truncated file and a ``last_checkpoint`` naming a deleted one, and ``--resume`` cannot start. Here a
    periodic (and the last) checkpoint is

    1. written to ``.tmp-<name>`` in the checkpoint folder, flushed to disk, and renamed to ``<name>``
       (``os.replace``, atomic);
    2. then named in ``last_checkpoint`` (also written through a temporary file and a rename);
    3. then the checkpoints beyond ``max_keep_ckpts`` are deleted.

    A kill therefore loses at most the iterations (epochs) since the last complete checkpoint, which
    ``--resume`` (no value: ``last_checkpoint``) continues from. A kill between steps 1 and 3 leaves one checkpoint
    too many; the kept-checkpoint list saved in the new checkpoint still names it, so it is deleted when a run
    resumes from the new one. Temporary files left by a kill are removed at the start of the next run.

    On storage other than a local file system (``backend_args`` / ``out_dir`` with a remote backend) objects are
    written whole by the backend; there step 1 writes the final name directly, steps 2 and 3 keep their order.
    The ``save_best`` checkpoints keep mmengine's handling (they are not what ``--resume`` reads).

    The runtime base ``configs/_base_/default_runtime.py`` makes it the ``default_hooks.checkpoint`` of every
    OneFormer config.
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not is_main_process():
            return
        # saves cut short by a kill; the complete files are untouched
        stale = glob.glob(osp.join(glob.escape(runner.work_dir), TMP_PREFIX + 'last_checkpoint'))
        if self._is_local():
            stale += glob.glob(osp.join(glob.escape(self.out_dir), TMP_PREFIX + '*'))
        for path in set(stale):
            os.remove(path)

    def _is_local(self) -> bool:
        # a FileClient (deprecated `file_client_args`) wraps its backend in `.client`
        return isinstance(getattr(self.file_backend, 'client', self.file_backend), LocalBackend)

    def _remove(self, path: str) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # checkpoints saved by deepspeed are folders
            self.file_backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """Save ``filename_tmpl.format(step)``, then update ``last_checkpoint``, then delete outdated ones (the
        same effect as the parent's method, in a crash-safe order)."""
        stale: List[int] = []
        kept = list(getattr(self, 'keep_ckpt_ids', []))
        if self.max_keep_ckpts > 0:
            # _save_checkpoint and _save_best_checkpoint may both save the same step
            if not kept or kept[-1] != step:
                kept.append(step)
            # the message hub saved in the new checkpoint lists the stale ones too: resuming from it deletes
            # them (CheckpointHook.before_train) if a kill came before step 3
            runner.message_hub.update_info('keep_ckpt_ids', list(kept))
            stale, kept = kept[:-self.max_keep_ckpts], kept[-self.max_keep_ckpts:]

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        local = self._is_local()
        runner.save_checkpoint(
            self.out_dir,
            TMP_PREFIX + ckpt_filename if local else ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)

        if self.max_keep_ckpts > 0:
            self.keep_ckpt_ids = deque(kept, self.max_keep_ckpts)
            runner.message_hub.update_info('keep_ckpt_ids', list(kept))
        # sharded (model-parallel) saving is not handled by mmengine's hook either: only rank 0 writes
        if not is_main_process():
            return
        if local:
            replace_file(osp.join(self.out_dir, TMP_PREFIX + ckpt_filename), self.last_ckpt)
        write_text_atomic(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old in stale:
            self._remove(self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old)))
