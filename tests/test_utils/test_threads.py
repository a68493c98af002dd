"""Idle OpenMP threads sleep in every entry point, set before torch loads OpenMP, a user's setting kept (issue 18,
item 7)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from oneformer.utils import SLEEP_SETTINGS, sleep_idle_threads

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KEYS = ('OMP_WAIT_POLICY', 'KMP_BLOCKTIME', 'GOMP_SPINCOUNT')
ENTRY_POINTS = ('tools/train.py', 'tools/test.py', 'tools/demo.py', 'demo/image_demo.py',
                'tools/analysis_tools/benchmark_dinat.py', 'tools/analysis_tools/benchmark_peers.py',
                'tools/analysis_tools/profile_oneformer.py', 'tools/analysis_tools/oneformer_bench/train_worker.py')

# Runs an entry point's module code (its imports; not main()) and stops the process the moment torch is
# imported, printing the OpenMP variables as torch would find them. Cheap: torch itself never loads.
PROBE = '''
import json, os, runpy, sys
KEYS = {keys!r}
class Probe:
    def find_spec(self, name, path=None, target=None):
        if name == 'torch':
            print(json.dumps({{k: os.environ.get(k) for k in KEYS}}), flush=True)
            os._exit(0)
sys.meta_path.insert(0, Probe())
runpy.run_path(sys.argv[1], run_name='probe')
print('null', flush=True)  # torch was never imported
'''


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    env.update(extra)
    return env


def _seen_by_torch(entry_point, env):
    proc = subprocess.run([sys.executable, '-c', PROBE.format(keys=KEYS), osp.join(REPO, entry_point)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_sleep_idle_threads_sets_unset_variables_only():
    env = {'PATH': '/bin'}
    assert sleep_idle_threads(env) == SLEEP_SETTINGS
    assert env == dict(PATH='/bin', OMP_WAIT_POLICY='PASSIVE', KMP_BLOCKTIME='0')
    assert sleep_idle_threads(env) == {}  # already set: nothing to do
    for key, value in (('OMP_WAIT_POLICY', 'ACTIVE'), ('KMP_BLOCKTIME', '200'), ('GOMP_SPINCOUNT', 'INFINITE')):
        env = {key: value}
        assert sleep_idle_threads(env) == {}
        assert env == {key: value}, f'a user setting of {key} must leave the wait policy alone'


@pytest.mark.parametrize('entry_point', ENTRY_POINTS)
def test_entry_points_set_the_policy_before_torch_is_imported(entry_point):
    seen = _seen_by_torch(entry_point, _clean_env())
    assert seen == dict(OMP_WAIT_POLICY='PASSIVE', KMP_BLOCKTIME='0', GOMP_SPINCOUNT=None), entry_point


def test_a_users_setting_is_what_torch_sees():
    seen = _seen_by_torch('tools/train.py', _clean_env(OMP_WAIT_POLICY='ACTIVE'))
    assert seen == dict(OMP_WAIT_POLICY='ACTIVE', KMP_BLOCKTIME=None, GOMP_SPINCOUNT=None)


def test_the_probe_sees_a_torch_import_before_the_setting(tmp_path):
    """The check is not vacuous: a script importing torch first is caught with the variables unset."""
    script = tmp_path / 'torch_first.py'
    script.write_text('import torch  # noqa\nimport oneformer  # noqa\n')
    assert _seen_by_torch(str(script), _clean_env()) == dict.fromkeys(KEYS)


@pytest.mark.slow
@pytest.mark.parametrize('user, expected', [(None, 'PASSIVE'), ('ACTIVE', 'ACTIVE')])
def test_the_openmp_runtime_torch_loads_reads_the_policy(user, expected):
    """libgomp itself (OMP_DISPLAY_ENV prints its settings when torch loads it) runs with the policy set."""
    env = _clean_env(OMP_DISPLAY_ENV='TRUE', **({'OMP_WAIT_POLICY': user} if user else {}))
    proc = subprocess.run([sys.executable, '-c', 'import oneformer, torch; torch.ones(64).sum()'], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    if 'OPENMP DISPLAY ENVIRONMENT' not in proc.stderr + proc.stdout:
        pytest.skip('the OpenMP runtime of this torch build does not print its environment (not libgomp)')
    assert f"OMP_WAIT_POLICY = '{expected}'" in proc.stderr + proc.stdout
