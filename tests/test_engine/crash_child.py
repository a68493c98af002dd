"""Child process of test_atomic_checkpoint.py: tiny trainings killed (SIGKILL) at chosen file operations of their
checkpoint saves, each followed by a ``--resume`` run; one JSON line of results on stdout.

    python -m tests.test_engine.crash_child DATA_ROOT WORK_ROOT SCENARIOS_JSON

Every training runs in a fork of this process (torch ran nothing before the forks, so no OpenMP pool is
inherited): the crash run is SIGKILLed by its own fault injector, the resume run starts like a fresh process.
A scenario ``[hook_type, kind, n]`` trains with ``default_hooks.checkpoint.type=hook_type`` and kills the crash
run at the ``n``-th file operation of kind ``kind`` in the work dir:
``write_pth`` (after half of a checkpoint's bytes are written), ``write_last`` (``last_checkpoint`` opened for
writing, i.e. truncated, nothing written), ``replace`` / ``remove`` (before an ``os.replace`` / ``os.remove``);
``kind='any'``: the ``n``-th of all of them.
"""
import builtins
import json
import os
import os.path as osp
import signal
import sys

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import oneformer  # noqa: F401
from oneformer.testing import synthetic_runner_cfg

CRASH_ITERS, RESUME_ITERS, INTERVAL = 2, 3, 1


def _speed_up_runner_start():
    """Test-only shortcuts for these 2-iteration runs, which touch nothing the test checks: yapf's formatting of
    the config text (``Config.pretty_text``, done at start-up and in every checkpoint) and the environment report
    (``Runner._log_env`` runs gcc / nvcc / git) took ~70 % of each run's time."""
    Config.pretty_text = property(lambda self: repr(self._cfg_dict.to_dict()))
    Runner._log_env = lambda self, env_cfg=None: None


class Progress(Hook):
    """Appends ``iter`` after every iteration, after CheckpointHook (so a line means: that save finished)."""
    priority = 'LOWEST'

    def __init__(self, path):
        self.path = path

    def before_train(self, runner):
        with open(self.path, 'a') as f:
            f.write(f'start {runner.iter}\n')

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        with open(self.path, 'a') as f:
            f.write(f'iter {runner.iter + 1}\n')


def _kill():
    os.kill(os.getpid(), signal.SIGKILL)


class _HalfWriter:
    """A file whose first write keeps half of the bytes, then the process is killed."""

    def __init__(self, f):
        self._f = f

    def write(self, data):
        self._f.write(data[:len(data) // 2])
        self._f.flush()
        os.fsync(self._f.fileno())
        _kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self._f, name)


def install_injector(work_dir, scenario):
    """Kill this process at the file operation ``scenario`` names (see the module docstring)."""
    kind_at, nth = scenario
    counts = {}
    real_open, real_replace, real_remove = builtins.open, os.replace, os.remove

    def event(kind):
        counts[kind] = counts.get(kind, 0) + 1
        counts['any'] = counts.get('any', 0) + 1
        return kind_at in (kind, 'any') and counts.get(kind_at) == nth

    def inside(path):
        return osp.abspath(str(path)).startswith(work_dir + os.sep)

    def open_(file, mode='r', *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if isinstance(file, (str, os.PathLike)) and inside(file) and any(c in mode for c in 'wax'):
            name = osp.basename(str(file))
            if name.endswith('.pth') and event('write_pth'):
                return _HalfWriter(f)
            if name.endswith('last_checkpoint') and event('write_last'):
                _kill()
        return f

    def replace(src, dst, *args, **kwargs):
        if inside(dst) and event('replace'):
            _kill()
        return real_replace(src, dst, *args, **kwargs)

    def remove(path, *args, **kwargs):
        if inside(path) and event('remove'):
            _kill()
        return real_remove(path, *args, **kwargs)

    builtins.open, os.replace, os.remove = open_, replace, remove


def _train(data_root, work_dir, hook_type, max_iters, resume, scenario=None):
    init_default_scope('mmdet')
    cfg = synthetic_runner_cfg(data_root, work_dir, max_iters, ckpt_interval=INTERVAL, schedule_iters=RESUME_ITERS)
    cfg.default_hooks.checkpoint.update(type=hook_type, max_keep_ckpts=1)
    cfg.train_dataloader.dataset.serialize_data = False  # its gc.collect() was a fifth of a run
    cfg.resume, cfg.load_from = resume, None  # tools/train.py --resume (no value): work_dir/last_checkpoint
    runner = Runner.from_cfg(cfg)
    runner.register_hook(Progress(osp.join(work_dir, 'progress.txt')))
    if scenario is not None:
        install_injector(osp.abspath(work_dir), scenario)
    runner.train()


def _in_fork(fn, *args, **kwargs) -> int:
    """Run ``fn`` in a forked child; its exit status (-9 when SIGKILLed, 1 on an exception)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            sys.stdout = sys.stderr  # keep our stdout for the JSON line
            fn(*args, **kwargs)
        except BaseException as e:  # noqa: B036  report any failure of the child as its status
            print(f'child failed: {type(e).__name__}: {e}', file=sys.stderr)
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def main(data_root, work_root, scenarios):
    _speed_up_runner_start()
    results = []
    for i, (hook_type, *scenario) in enumerate(scenarios):
        work_dir = osp.join(work_root, f'{hook_type}_{i}')
        os.makedirs(work_dir)
        crash = _in_fork(_train, data_root, work_dir, hook_type, CRASH_ITERS, False, scenario)
        files = sorted(os.listdir(work_dir))
        resume = _in_fork(_train, data_root, work_dir, hook_type, RESUME_ITERS, True)
        with open(osp.join(work_dir, 'progress.txt')) as f:
            progress = f.read().split('\n')
        results.append(dict(hook=hook_type, scenario=scenario, crash_status=crash, resume_status=resume,
                            files_after_crash=files, progress=[line for line in progress if line],
                            files_after_resume=sorted(os.listdir(work_dir))))
    print(json.dumps(results))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
