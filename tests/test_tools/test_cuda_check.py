"""tools/analysis_tools/cuda_check.py (rows in tools/analysis_tools/cuda_checks/): the CPU dry run exercises every
row (GPU-only rows skipped), the correctness rows that run on CPU compare real numbers, and the helpers (row
selection, curve deviation, exit codes) behave.

Nothing here needs a GPU: the CUDA run itself happens on a GPU machine (docs/cuda_check.md).
"""
import json
import math
import os.path as osp
import subprocess
import sys
import time

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO, 'tools', 'analysis_tools')
SCRIPT = osp.join(TOOLS, 'cuda_check.py')


@pytest.fixture(scope='module')
def cc():
    """The package's public names in one namespace (the script itself only calls ``cli.main``)."""
    import types
    if TOOLS not in sys.path:
        sys.path.insert(0, TOOLS)
    from cuda_checks import amp, cli, common, rows
    return types.SimpleNamespace(ROWS=rows.ROWS, Row=common.Row, select_rows=rows.select_rows, main=cli.main,
                                 compare=common.compare, smooth=amp.smooth, curve_deviation=amp.curve_deviation)


@pytest.fixture(scope='module')
def dry_run(tmp_path_factory):
    """One ``--device cpu --dry-run`` in a fresh interpreter: (process, report, wall seconds)."""
    tmp = tmp_path_factory.mktemp('cuda_check')
    out = tmp / 'report.json'
    start = time.perf_counter()
    # timeout: a guard against hangs only; the dry run takes well under a minute on an idle 2-core machine
    proc = subprocess.run([sys.executable, SCRIPT, '--device', 'cpu', '--dry-run', '--out', str(out), '--work-dir',
                           str(tmp / 'work')], capture_output=True, text=True, cwd=str(tmp), timeout=600)
    wall = time.perf_counter() - start
    report = json.loads(out.read_text()) if out.exists() else None
    return proc, report, wall


def _rows(report):
    return {r['name']: r for r in report['rows']}


@pytest.mark.slow
def test_dry_run_reports_every_row_ok_or_skipped(cc, dry_run):
    proc, report, wall = dry_run
    assert report is not None, proc.stdout[-3000:] + proc.stderr[-3000:]
    failed = {r['name']: r.get('error') or r.get('summary') for r in report['rows'] if r['status'] == 'FAIL'}
    assert proc.returncode == 0 and not failed, f'{failed}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    rows = _rows(report)
    assert list(rows) == [r.name for r in cc.ROWS]
    for row in cc.ROWS:
        entry = rows[row.name]
        if row.needs_cuda:  # AMP float16 / bfloat16 and the AMP inference rows
            assert (entry['status'], entry['reason']) == ('skipped', 'no CUDA'), entry
        else:
            assert entry['status'] == 'ok', entry
            assert entry['seconds'] >= 0 and entry['summary']
    assert report['device'] == 'cpu' and report['dry_run'] is True
    assert report['summary'] == {'ok': sum(not r.needs_cuda for r in cc.ROWS), 'FAIL': 0,
                                 'skipped': sum(r.needs_cuda for r in cc.ROWS)}
    # the table: printed, in the report and beside it as .md; GPU-only rows say why they were skipped
    assert 'skipped (no CUDA)' in report['table'] and report['table'] in proc.stdout
    assert len(report['table'].splitlines()) == len(cc.ROWS) + 2
    md = osp.splitext(proc.args[proc.args.index('--out') + 1])[0] + '.md'
    assert open(md, encoding='utf-8').read().strip() == report['table']
    print(f'\n[cuda_check] dry run took {wall:.1f} s')


@pytest.mark.slow
def test_dry_run_correctness_rows_compare_real_numbers(dry_run):
    _, report, _ = dry_run
    rows = _rows(report)

    def check(comparisons, tol, prefix=''):
        picked = {k: v for k, v in comparisons.items() if k.startswith(prefix)}
        assert picked, f'no comparison starting with {prefix!r}'
        for name, c in picked.items():
            assert math.isfinite(c['max_abs_diff']) and c['ref_max_abs'] > 0, name  # not a comparison of zeros
            assert 0 <= c['rel_diff'] <= tol, (name, c)
        return picked

    # our gather / per-level deformable attention vs mmcv's CPU fallback: values and the three gradients
    deform = rows['deform_attn']['values']
    assert deform['reference'].startswith('mmcv multi_scale_deformable_attn_pytorch')
    for fn in ('deform_attn_gather', 'deform_attn_per_level'):
        got = check(deform['comparisons'], 1e-5, fn)
        assert {k.split(': ')[1] for k in got} == {'output', 'd_value', 'd_locations', 'd_weights'}
    # two different implementations: float rounding shows (identical bits would mean one function ran twice)
    assert 0 < deform['worst_rel_diff'] < 1e-5

    for name in ('query_attn_eval', 'query_attn_train'):
        values = rows[name]['values']
        assert values['custom_attention_modules'] > 0
        check(values['comparisons'], 1e-4, 'ours')
    lean = check(rows['query_attn_train']['values']['comparisons'], 1e-5, 'lean CPU autograd fn')
    assert len(lean) == 4 and max(c['max_abs_diff'] for c in lean.values()) > 0

    model = rows['model_forward']['values']
    assert 'fast_cpu_deform_attn=False' in model['device_side']  # mmcv's fallback vs our gather on CPU
    assert len(model['comparisons']) >= 3 * 2 * 2  # 3 tasks x (class, mask) x >= 2 decoder predictions
    check(model['comparisons'], 1e-3)
    assert 0 < model['worst_diff'] <= 1e-3
    assert model['test_step_agreement']['pred_sem_seg pixel agreement'] > 0.99

    hf = rows['hf_parity']['values']
    assert hf['backbones'] == ['resnet'] and len(hf['comparisons']) == 3 * 2
    check(hf['comparisons'], 1e-4)

    amp = rows['amp_fp32_rerun']['values']
    assert amp['all_finite'] and len(amp['run']['losses']) == len(amp['reference']['losses']) == 2
    assert amp['max_rel_deviation'] <= amp['tolerance']


@pytest.mark.slow
def test_dry_run_speed_rows_measure(dry_run):
    _, report, _ = dry_run
    rows = _rows(report)
    assert rows['bench_peers']['values']['summary']  # ratios of the benchmark's measures
    for key in ('r50', 'swinl'):
        v = rows[f'fps_{key}_fp32']['values']
        assert v['fps'] > 0 and v['iters'] == 1 and v['precision'] == 'float32'
    train = rows['train_swinl']['values']
    assert train['time_s']['ours'] > 0 and train['time_s']['peer'] > 0
    assert train['time_ratio'] == pytest.approx(train['time_s']['ours'] / train['time_s']['peer'])


def test_row_selection(cc):
    names = [r.name for r in cc.ROWS]
    assert cc.select_rows(None, None) == names
    assert cc.select_rows('correctness', None) == ['deform_attn', 'query_attn_eval', 'query_attn_train',
                                                   'model_forward', 'hf_parity']
    assert cc.select_rows('fps_*', 'fps_*_b*') == ['fps_r50_fp32', 'fps_r50_float16', 'fps_swinl_fp32',
                                                   'fps_swinl_float16']
    assert cc.select_rows('amp,deform_attn', None) == ['deform_attn', 'amp_fp32_rerun', 'amp_float16',
                                                        'amp_bfloat16']
    with pytest.raises(SystemExit, match='matches no row'):
        cc.select_rows('nope', None)


def test_compare_and_curve_helpers(cc):
    ref = torch.tensor([1.0, -4.0, 2.0], dtype=torch.float64)
    c = cc.compare(ref + torch.tensor([0.0, 0.004, 0.0], dtype=torch.float64), ref)
    assert c['max_abs_diff'] == pytest.approx(0.004) and c['rel_diff'] == pytest.approx(0.001)
    small = torch.tensor([0.1, 0.2], dtype=torch.float64)
    assert cc.compare(small + 0.001, small, logits=True)['rel_diff'] == pytest.approx(0.001)  # absolute below 1
    assert cc.compare(torch.tensor([math.nan]), torch.tensor([1.0]))['rel_diff'] == math.inf
    with pytest.raises(ValueError, match='shape'):
        cc.compare(torch.zeros(2), torch.zeros(3))
    assert cc.smooth([2.0, 4.0, 6.0, 8.0], 2) == [2.0, 3.0, 5.0, 7.0]
    assert cc.curve_deviation([2.0, 4.0], [2.0, 4.0], 2) == 0
    assert cc.curve_deviation([2.0, 6.0], [2.0, 4.0], 1) == pytest.approx(0.5)


def test_exit_codes_and_skips(cc, tmp_path):
    """1 when a correctness row fails, 2 when only other rows fail, CUDA-only rows skipped on CPU, a broken row
    recorded with its error while the rows after it still run."""
    def broken(ctx):
        raise RuntimeError('boom')

    rows = [cc.Row('c_ok', 'correctness', 'passes', lambda ctx: (True, {'x': 1.0}, 'fine')),
            cc.Row('s_broken', 'speed', 'raises', broken),
            cc.Row('gpu', 'speed', 'needs CUDA', lambda ctx: (True, {}, 'ran'), needs_cuda=True),
            cc.Row('c_bad', 'amp', 'fails', lambda ctx: (False, {'dev': 9.0}, 'too far'))]
    out = tmp_path / 'r.json'
    assert cc.main(['--device', 'cpu', '--out', str(out), '--work-dir', str(tmp_path)], rows=rows) == 1
    report = json.loads(out.read_text())
    assert [(r['name'], r['status']) for r in report['rows']] == [('c_ok', 'ok'), ('s_broken', 'FAIL'),
                                                                  ('gpu', 'skipped'), ('c_bad', 'FAIL')]
    assert report['rows'][1]['error'] == 'RuntimeError: boom' and 'Traceback' in report['rows'][1]['traceback']
    assert cc.main(['--device', 'cpu', '--out', str(out), '--work-dir', str(tmp_path), '--skip', 'c_bad'],
                   rows=rows) == 2
    assert json.loads(out.read_text())['rows'][3] == dict(name='c_bad', group='amp', title='fails', correctness=True,
                                                          status='skipped', reason='not selected')
    assert cc.main(['--device', 'cpu', '--out', str(out), '--work-dir', str(tmp_path), '--only', 'c_ok'],
                   rows=rows) == 0
