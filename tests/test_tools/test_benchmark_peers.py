"""tools/analysis_tools/benchmark_peers.py and profile_oneformer.py run and write their JSON schema.

Nothing here is timed or compares speeds (other jobs share the CPU): the tiny runs check the plumbing — both sides of
every measure ran, ratios and goal flags are consistent, both end2end sides use the same weights, the table lists every
measure — and the cheap helpers are unit-tested.
"""
import json
import math
import os.path as osp
import subprocess
import sys

import pytest
import torch

from ..conftest import REPO

TOOLS = osp.join(REPO, 'tools', 'analysis_tools')
TINY = ['--quick', '--image-size', '64', '--repeats', '1', '--warmup', '0', '--batch', '1', '--pipeline-samples', '2',
        '--train-rounds', '1',
        '--threads', '1']


@pytest.fixture(scope='module')
def bench_lib():
    sys.path.insert(0, TOOLS)
    try:
        import benchmark_peers
        from oneformer_bench import presets, report, timing
        yield benchmark_peers, presets, report, timing
    finally:
        sys.path.remove(TOOLS)


def _run(script, args, tmp_path):
    proc = subprocess.run([sys.executable, osp.join(TOOLS, script)] + args, capture_output=True, text=True,
                          cwd=str(tmp_path), timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _check_entry(entry, goal):
    for side in ('ours', 'peer'):
        stat = entry[side]
        assert set(stat) == {'median', 'min', 'max', 'runs'}
        assert 0 < stat['min'] <= stat['median'] <= stat['max'] and stat['runs'] >= 1
    assert entry['ratio'] == pytest.approx(entry['ours']['median'] / entry['peer']['median'])
    assert entry['goal'] == goal
    op, bound = goal.split()
    assert entry['met'] == (entry['ratio'] <= float(bound) if op == '<=' else entry['ratio'] >= float(bound))


@pytest.mark.slow
def test_quick_benchmark_writes_the_json_schema(tmp_path):
    out = tmp_path / 'bench.json'
    measures = 'end2end,forward,three_tasks,batched_tasks,train,pipeline,complexity'
    stdout = _run('benchmark_peers.py', TINY + ['--measures', measures, '--out', str(out)], tmp_path)
    report = json.loads(out.read_text())
    assert report['schema_version'] == 1 and report['preset'] == 'quick' and report['threads'] == 1
    assert report['measures'] == measures.split(',')
    assert report['preset_values']['image_size'] == 64 and report['preset_values']['batch'] == 1
    assert report['command'].startswith('python tools/analysis_tools/benchmark_peers.py --quick')
    assert {'CPU', 'PyTorch', 'MMDetection', 'transformers', 'torch threads'} <= set(report['machine'])
    res = report['results']
    _check_entry(res['end2end'], '<= 0.75')
    # same converted weights on both sides of end2end: identical logits on HF's pixel values
    assert res['end2end']['max_rel_logit_diff'] < 1e-4
    assert res['end2end']['ours_test_step']['median'] > 0
    _check_entry(res['forward'], '<= 1.10')
    _check_entry(res['three_tasks'], '<= 0.50')
    _check_entry(res['batched_tasks'], '<= 1.00')
    _check_entry(res['train']['time'], '<= 1.15')
    _check_entry(res['train']['memory'], '<= 1.15')
    assert res['train']['memory']['unit'] == 'MB' and 'VmHWM' in res['train']['memory']['method']
    for side in ('ours', 'peer'):
        worker = res['train']['workers'][side]
        assert worker['threads'] == 1 and worker['peak_method'] == 'VmHWM reset before training'
        # the training peak covers the built model; the measure is that peak minus the imports' RSS
        assert worker['peak_rss_training_mb'] >= worker['rss_model_built_mb'] - 1 > worker['rss_after_imports_mb'] > 0
        assert worker['training_memory_mb'] == pytest.approx(worker['peak_rss_training_mb'] -
                                                             worker['rss_after_imports_mb'])
        assert math.isfinite(worker['loss']) and worker['loss'] > 0
    # OneFormer trains extra modules (task encoder, query transformer, text mapper)
    assert res['train']['workers']['ours']['params'] > res['train']['workers']['peer']['params']
    _check_entry(res['pipeline'], '>= 20')
    assert res['pipeline']['unit'] == 'samples/s' and res['pipeline']['higher_is_better']
    # the model side of pipeline is train's training throughput: batch 1 / median iteration time
    assert res['pipeline']['peer']['median'] == pytest.approx(1 / res['train']['time']['ours']['median'])
    c = res['complexity']
    assert c['ours']['flops'] > c['peer']['flops'] > 0
    assert c['flops_ratio'] == pytest.approx(c['ours']['flops'] / c['peer']['flops'])
    assert c['ours']['parts']['text_mapper'] > 0 and 'query_transformer' not in c['peer']['parts']
    # the printed and stored table has one row per measure
    for title in ('end2end end-to-end', 'forward forward', 'three_tasks evaluate', 'batched_tasks 3 task tokens',
                  'train training iteration',
                  'train training peak memory', 'pipeline data pipeline', 'oneformer-mm (inference)'):
        assert title in report['table'] and title in stdout


@pytest.mark.slow
def test_profiler_writes_stage_and_op_tables(tmp_path):
    out = tmp_path / 'prof.json'
    _run('profile_oneformer.py', ['--preset', 'quick', '--image-size', '64', '--steps', '1', '--threads', '1',
                                  '--tasks', 'panoptic,semantic', '--out', str(out)], tmp_path)
    prof = json.loads(out.read_text())
    assert prof['tasks'] == ['panoptic', 'semantic']
    infer, train = prof['inference'], prof['training']
    infer_stages = {s['stage']: s for s in infer['stages']}
    # two task tokens: one batched decoder call (query transformer once, over 2 rows), backbone and pixel decoder once
    assert infer_stages['query_transformer']['calls'] == 1 and infer_stages['backbone']['calls'] == 1
    assert {'post.panoptic', 'post.semantic'} <= set(infer_stages) and 'post.instance' not in infer_stages
    assert {'backbone', 'text_mapper', 'backward', 'forward+loss', 'loss.by_feat'} <= {s['stage'] for s in
                                                                                       train['stages']}
    for result in (infer, train):
        assert result['iteration_ms'] > 0 and result['ops']
        assert all(0 <= s['share'] <= 1.0 + 1e-6 for s in result['stages'])


@pytest.mark.slow
def test_profiler_query_transformer_mode(tmp_path):
    """The query transformer's training pass alone: timed, and its dropout draws show up in the op table."""
    out = tmp_path / 'qt.json'
    _run('profile_oneformer.py', ['--preset', 'quick', '--image-size', '64', '--steps', '2', '--threads', '1',
                                  '--mode', 'query-transformer', '--out', str(out)], tmp_path)
    qt = json.loads(out.read_text())['query_transformer']
    assert qt['time']['runs'] == 2 and qt['time']['median'] > 0
    ops = {o['op']: o for o in qt['ops']}
    # per step, 2 layers x (self + cross attention) draw attention-dropout masks (plus residual / FFN dropouts)
    assert ops['aten::bernoulli_']['calls'] >= 4 and 'DropoutAttentionBackward' in ops


def test_measure_selection_and_presets(bench_lib):
    benchmark_peers, presets, _, _ = bench_lib
    assert benchmark_peers.parse_measures('end2end, three_tasks') == ['end2end', 'three_tasks']
    with pytest.raises(ValueError, match='P6'):
        benchmark_peers.parse_measures('end2end,P6')
    with pytest.raises(ValueError, match='add train'):
        benchmark_peers.parse_measures('pipeline')
    p = presets.get_preset('quick', image_size=96, repeats=3)
    assert (p.image_size, p.repeats, p.batch) == (96, 3, presets.PRESETS['quick'].batch)
    with pytest.raises(ValueError, match='multiple of 32'):
        presets.get_preset('quick', image_size=100)
    with pytest.raises(ValueError, match='unknown preset'):
        presets.get_preset('huge')
    full = presets.PRESETS['full']  # the paper's R50 COCO model
    assert (full.channels, full.num_queries, full.num_classes, full.dec_layers) == ([256, 512, 1024, 2048], 150, 133, 9)


def test_interleaved_timing_and_goal_flags(bench_lib):
    _, _, report, timing = bench_lib
    calls = []
    stats = timing.time_interleaved(dict(a=lambda: calls.append('a'), b=lambda: calls.append('b')), warmup=1,
                                    repeats=3)
    assert calls == ['a', 'b'] * 4  # warm-up round, then rounds alternating the sides
    assert stats['a']['runs'] == stats['b']['runs'] == 3
    # the device is waited for before and after every timed call (CUDA kernels are asynchronous)
    calls.clear()
    timing.time_interleaved(dict(a=lambda: calls.append('a')), warmup=0, repeats=2, sync=lambda: calls.append('sync'))
    assert calls == ['sync', 'a', 'sync'] * 2
    assert timing.device_sync('cuda') is torch.cuda.synchronize and timing.device_sync('cpu')() is None
    assert timing.summarize([3.0, 1.0, 2.0]) == dict(median=2.0, min=1.0, max=3.0, runs=3)
    fast, slow = timing.summarize([1.0]), timing.summarize([2.0])
    assert timing.ratio_entry(fast, slow, '<= 0.75', 'o', 'p')['met']  # 0.5 <= 0.75
    assert not timing.ratio_entry(slow, fast, '<= 1.10', 'o', 'p')['met']  # 2.0
    entry = timing.ratio_entry(slow, fast, '>= 20', 'o', 'p', unit='samples/s')
    assert entry['ratio'] == 2.0 and not entry['met']
    table = report.markdown(dict(results=dict(forward=timing.ratio_entry(fast, slow, '<= 1.10', 'o', 'mmdet M2F'))))
    assert '| forward forward latency | 1000.0 ms | 2000.0 ms (mmdet M2F) | 0.50x | <= 1.10 | yes |' in table
