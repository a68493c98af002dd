"""tools/analysis_tools/benchmark_busy_machine.py: the demo next to a competing job, timed; a stopped demo reported.

Nothing is compared against a speed here (other jobs share the CPU): the runs check that the demo ran from the given
checkout with the given data, that the competitor ran beside it, and that a demo stopped by the timeout says so.
"""
import json
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO

SCRIPT = osp.join(REPO, 'tools', 'analysis_tools', 'benchmark_busy_machine.py')


def _run(args, tmp_path):
    proc = subprocess.run([sys.executable, SCRIPT] + args, capture_output=True, text=True, cwd=str(tmp_path),
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp_path / 'out.json').read_text())


@pytest.mark.slow
def test_demo_next_to_competitor_finishes_and_reports_both(tmp_path, compare_data):
    res = _run(['--data-root', str(compare_data), '--max-iters', '2', '--competitor-threads', '1',
                '--competitor-head-start', '2', '--work-dir', str(tmp_path / 'w'), '--out', str(tmp_path / 'out.json')],
               tmp_path)
    assert res['demo_finished'] and res['demo_returncode'] == 0 and res['competitor']
    assert set(res['metrics']) >= {'PQ', 'AP', 'mIoU'}
    assert res['competitor_s_per_forward']['forwards'] >= 1 and res['competitor_s_per_forward']['median'] > 0
    assert res['demo_wall_s'] > 0 and res['repo'] == REPO
    assert osp.exists(tmp_path / 'w' / 'demo' / 'metrics.json')


@pytest.mark.slow
def test_demo_stopped_by_the_timeout_is_reported_unfinished(tmp_path, compare_data):
    res = _run(['--data-root', str(compare_data), '--no-competitor', '--timeout-min', '0.05',
                '--work-dir', str(tmp_path / 'w'), '--out', str(tmp_path / 'out.json')], tmp_path)
    assert not res['demo_finished'] and res['metrics'] is None and 'competitor_s_per_forward' not in res
    assert res['demo_wall_s'] < 60
