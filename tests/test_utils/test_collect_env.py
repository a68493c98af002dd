"""``oneformer.utils.collect_env``: mmdet's report, extended with the stack, CPU, threads and load."""
import json
import os

import mmdet
import mmengine
import pytest
import torch
from mmdet.utils import collect_env as mmdet_collect_env

from oneformer import __version__
from oneformer.utils import collect_env, cpu_model, format_env, load_average, thread_settings


def test_report_extends_mmdets_own():
    env = collect_env()
    theirs = mmdet_collect_env()
    assert list(env)[:len(theirs)] == list(theirs)  # mmdet's entries first, in mmdet's order
    assert env['PyTorch'] == torch.__version__ and env['MMEngine'] == mmengine.__version__
    assert env['MMDetection'].startswith(mmdet.__version__)
    assert env['OneFormer'] == __version__
    assert env['logical CPUs'] == os.cpu_count() and env['CPU'] == cpu_model() and env['CPU']
    assert env['torch threads'] == torch.get_num_threads()
    assert len(env['load average']) == 3
    assert env['MMCV ops'].startswith(('compiled', 'not compiled'))
    json.loads(json.dumps(env))  # JSON as it is (numpy scalars of mmdet's report converted)
    assert 'device' not in env and collect_env('cpu')['device'] == 'cpu'


def test_thread_settings_follow_torch_and_environment(monkeypatch):
    threads = torch.get_num_threads()
    monkeypatch.setenv('OMP_WAIT_POLICY', 'PASSIVE')
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    try:
        torch.set_num_threads(1)
        got = thread_settings()
    finally:
        torch.set_num_threads(threads)
    assert got['torch threads'] == 1
    assert got['OMP_WAIT_POLICY'] == 'PASSIVE' and got['OMP_NUM_THREADS'] is None


def test_cpu_model_reads_proc_cpuinfo():
    if not os.path.isfile('/proc/cpuinfo'):
        pytest.skip('no /proc/cpuinfo')
    with open('/proc/cpuinfo') as f:
        names = [line.split(':', 1)[1].strip() for line in f if line.startswith('model name')]
    if names:
        assert cpu_model() == names[0]


def test_load_average_and_format():
    load = load_average()
    assert load == [pytest.approx(v, abs=5) for v in os.getloadavg()]
    env = {'a': 1, 'PyTorch compiling details': 'x\ny', 'load average': [0.5, 1.0, 2.0]}
    assert format_env(env) == 'a: 1\nload average: [0.5, 1.0, 2.0]'
    assert format_env(env, leave_out=('a', )) == 'PyTorch compiling details: x\ny\nload average: [0.5, 1.0, 2.0]'
