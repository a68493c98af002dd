"""int8 graphs (oneformer.deployment.quantize, pytorch2onnx.py --quantize) and the accuracy tool
(tools/deployment/eval_backends.py) on the tiny model and a 4-image synthetic split.

Bound: on this fixture int8 may move PQ / AP / mIoU by at most 10 points against fp32 (4 images of a tiny random
model: one flipped segment is worth several points; the demo model's numbers are in docs/deployment.md)."""
import json

import numpy as np
import onnx
import pytest
import torch

from .test_onnx_export import _tool

METRIC_BOUND = 10.0


@pytest.fixture(scope='module')
def int8(deploy_env):
    from oneformer.deployment import quantize_onnx
    path = str(deploy_env['root'] / 'tiny_int8.onnx')
    entry = quantize_onnx(deploy_env['onnx'], path, 'dynamic')
    return path, entry


def _ops(path):
    return [n.op_type for n in onnx.load(path).graph.node]


def test_dynamic_int8_graph_keeps_metadata_and_is_close(deploy_env, int8):
    from oneformer.deployment import OnnxOneFormer, read_metadata
    from oneformer.deployment.compare import logit_diffs
    path, entry = int8
    ops = _ops(path)
    assert 'DynamicQuantizeLinear' in ops and ('MatMulInteger' in ops or 'ConvInteger' in ops)
    assert ops.count('MatMul') < _ops(deploy_env['onnx']).count('MatMul')
    meta, fp32 = read_metadata(path), read_metadata(deploy_env['onnx'])
    assert meta['quantization'] == entry and entry['mode'] == 'dynamic'
    assert {k: v for k, v in meta.items() if k != 'quantization'} == fp32
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    diffs = logit_diffs(deploy_env['model'], OnnxOneFormer(path), x)
    worst = max(max(d['cls']['rel'], d['mask']['rel']) for d in diffs.values())
    # quantised (not bit-equal to fp32) but close: int8 rounding of every weight and activation
    assert 1e-6 < worst < 0.2, diffs


def test_keep_fp32_excludes_nodes(deploy_env, tmp_path):
    from oneformer.deployment import OnnxOneFormer, quantize_onnx
    path = str(tmp_path / 'partial.onnx')
    entry = quantize_onnx(deploy_env['onnx'], path, 'dynamic', op_types=('MatMul', 'Gemm', 'Conv'),
                          keep_fp32=['.'])  # every node: nothing is quantised, the logits are the fp32 graph's
    assert entry['nodes_kept_fp32'] > 0 and 'DynamicQuantizeLinear' not in _ops(path)
    x = np.random.RandomState(0).randn(1, 3, 64, 64).astype(np.float32)
    a = OnnxOneFormer(path).forward_graph(x, [[0]])
    b = OnnxOneFormer(deploy_env['onnx']).forward_graph(x, [[0]])
    for u, v in zip(a, b):
        np.testing.assert_allclose(u.numpy(), v.numpy(), atol=1e-4, rtol=1e-5)  # folding: rounding only


def test_bad_quantize_requests_are_refused(deploy_env, int8, tmp_path):
    from oneformer.deployment import quantize_onnx
    with pytest.raises(ValueError, match='mode'):
        quantize_onnx(deploy_env['onnx'], str(tmp_path / 'x.onnx'), 'float16')
    with pytest.raises(ValueError, match='calibration'):
        quantize_onnx(deploy_env['onnx'], str(tmp_path / 'x.onnx'), 'static')
    with pytest.raises(ValueError, match='already quantised'):
        quantize_onnx(int8[0], str(tmp_path / 'x.onnx'), 'dynamic')
    with pytest.raises(ValueError, match='op_types'):
        quantize_onnx(deploy_env['onnx'], str(tmp_path / 'x.onnx'), op_types=('Einsum', ))


@pytest.mark.slow
def test_cli_static_quantization_and_accuracy_tool(deploy_env, int8, tmp_path):
    """pytorch2onnx --quantize static calibrates on the config's test images; eval_backends reports the metrics
    of PyTorch, fp32 and both int8 graphs within the bound, and a time ratio per model."""
    out = str(tmp_path / 'cli.onnx')
    # the test pipeline resizes to 128x128: calibration images must fit the fixed graph
    result = _tool('pytorch2onnx').main([deploy_env['config'], deploy_env['ckpt'], out, '--shape', '128', '128',
                                         '--quantize', 'static', '--calib-images', '2', '--no-verify'])
    static = result['int8']
    from oneformer.deployment import read_metadata
    q = read_metadata(static)['quantization']
    assert q['mode'] == 'static' and q['calibration_inputs'] == 2 * 3  # two images x three task tokens
    assert 'QuantizeLinear' in _ops(static) and 'DequantizeLinear' in _ops(static)
    report = str(tmp_path / 'eval.json')
    rows = _tool('eval_backends').main([deploy_env['config'], deploy_env['ckpt'], deploy_env['onnx'], int8[0],
                                        static, '--out', report, '--threads', '1'])
    assert [r['kind'] for r in rows] == ['eager', 'onnxruntime', 'onnxruntime', 'onnxruntime']
    ref = rows[0]['headline']
    assert set(ref) == {'PQ', 'AP', 'mIoU'} and rows[0]['images'] == 4
    # fp32 graph: the PyTorch metrics (same post-processing; float rounding only)
    for name in ref:
        assert abs(rows[1]['headline'][name] - ref[name]) < 0.5
    for r in rows[2:]:
        for name in ref:
            assert abs(r['diff'][name]) <= METRIC_BOUND, (r['name'], r['diff'])
        assert r['s_per_image'] > 0 and r['time_ratio'] == pytest.approx(r['s_per_image'] / rows[0]['s_per_image'])
    saved = json.loads(open(report).read())
    assert len(saved['rows']) == 4 and '| model |' in saved['table']
