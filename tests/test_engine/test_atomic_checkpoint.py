"""AtomicCheckpointHook: a training killed (SIGKILL) at any file operation of its checkpoint saves resumes from
its last complete checkpoint; mmengine's CheckpointHook loses the whole run (issue 18, item 9)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from oneformer.engine import AtomicCheckpointHook
from oneformer.engine.hooks.atomic_checkpoint_hook import TMP_PREFIX, write_text_atomic
from oneformer.testing import config_path

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# crash_child.py: checkpoints every iteration, max_keep_ckpts=1, crash run of 2 iterations, resume run to 3.
# The file operations of AtomicCheckpointHook's saves, numbered as the child counts them ('any', n):
#   save of iter_1: 1 write .tmp-iter_1.pth, 2 rename it, 3 write .tmp-last_checkpoint, 4 rename it
#   save of iter_2: 5-8 the same for iter_2, 9 delete iter_1.pth
# iteration a run killed at operation n resumes from: the last checkpoint whose last_checkpoint rename happened
RESUMED_FROM = {1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 1, 7: 1, 8: 1, 9: 2}


def _run_child(data_root, work_root, scenarios):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run([sys.executable, '-m', 'tests.test_engine.crash_child', data_root, str(work_root),
                           json.dumps(scenarios)], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _starts(progress):
    return [int(line.split()[1]) for line in progress if line.startswith('start')]


def test_write_text_atomic_replaces_whole_files(tmp_path):
    path = str(tmp_path / 'last_checkpoint')
    write_text_atomic(path, 'a' * 100)
    write_text_atomic(path, 'b')
    assert open(path).read() == 'b'
    assert os.listdir(tmp_path) == ['last_checkpoint']  # no temporary file left


@pytest.mark.parametrize('config', [
    'configs/_base_/default_runtime.py', 'configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py',
    'configs/oneformer/oneformer_r50_8xb2-50e_coco-panoptic.py'
])
def test_configs_save_checkpoints_atomically(config):
    hook = Config.fromfile(config_path(config)).default_hooks.checkpoint
    assert hook.type == 'AtomicCheckpointHook'
    from mmdet.registry import HOOKS

    import oneformer  # noqa: F401
    assert HOOKS.get(hook.type) is AtomicCheckpointHook


@pytest.mark.slow
def test_a_kill_at_any_save_operation_resumes_from_the_last_complete_checkpoint(synthetic_root, tmp_path):
    scenarios = [['AtomicCheckpointHook', 'any', n] for n in sorted(RESUMED_FROM)]
    scenarios.append(['AtomicCheckpointHook', 'any', len(RESUMED_FROM) + 1])  # no 10th operation: no kill
    scenarios.append(['CheckpointHook', 'write_pth', 2])  # mmengine's hook, killed while writing iter_2.pth
    results = _run_child(synthetic_root, tmp_path, scenarios)

    for r in results[:len(RESUMED_FROM)]:
        n = r['scenario'][1]
        what = f"killed at operation {n} (files then: {r['files_after_crash']})"
        assert r['crash_status'] == -9, what
        assert r['resume_status'] == 0, what
        assert _starts(r['progress']) == [0, RESUMED_FROM[n]], what
        assert r['progress'][-1] == 'iter 3', what  # the resumed run finished
        # what is left: the last checkpoint only (a stale one is deleted on resume), no temporary files
        left = [f for f in r['files_after_resume'] if f.endswith('.pth') or f.startswith(TMP_PREFIX)]
        assert left == ['iter_3.pth'], what

    control = results[len(RESUMED_FROM)]
    assert control['crash_status'] == 0 and _starts(control['progress']) == [0, 2]

    mmengine = results[-1]
    assert mmengine['crash_status'] == -9
    # mmengine deleted iter_1.pth before writing iter_2.pth in place and already named it in last_checkpoint
    assert [f for f in mmengine['files_after_crash'] if f.endswith('.pth')] == ['iter_2.pth']
    assert mmengine['resume_status'] != 0
