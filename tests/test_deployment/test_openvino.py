"""The exported graph in OpenVINO: ``.onnx`` with backend='openvino' and an ``.xml`` IR, logits equal to ONNX
Runtime's within the export tolerance and identical post-processed results through the inferencer."""
import mmcv
import numpy as np
import pytest
import torch

from .test_onnx_export import ATOL, _assert_same_predictions

pytest.importorskip('openvino')


@pytest.fixture(scope='module')
def ir(deploy_env):
    from oneformer.deployment import onnx_to_openvino
    return onnx_to_openvino(deploy_env['onnx'], str(deploy_env['root'] / 'tiny.xml'))


def test_openvino_logits_equal_onnx_runtime(deploy_env, ir):
    from oneformer.deployment import OnnxOneFormer, read_metadata
    ort_runner = OnnxOneFormer(deploy_env['onnx'])
    ov_onnx = OnnxOneFormer(deploy_env['onnx'], backend='openvino', threads=1)
    ov_ir = OnnxOneFormer(ir)  # .xml: OpenVINO by default
    assert ov_ir.backend == ov_onnx.backend == 'openvino' and ort_runner.backend == 'onnxruntime'
    assert read_metadata(ir) == read_metadata(deploy_env['onnx'])  # the IR carries the metadata
    assert ov_ir.input_shape[1] == 3 and not isinstance(ov_ir.input_shape[2], int)  # dynamic size kept
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    ref = ort_runner.forward_graph(x, [[0, 1, 2], [2, 1, 0]])
    for runner in (ov_onnx, ov_ir):
        out = runner.forward_graph(x, [[0, 1, 2], [2, 1, 0]])
        for r, o in zip(ref, out):
            np.testing.assert_allclose(o.numpy(), r.numpy(), atol=ATOL, rtol=0)
    assert np.abs(ref[0][:, 0].numpy() - ref[0][:, 2].numpy()).max() > 1e-2  # tasks differ: a real comparison


def test_backend_choice_is_checked(deploy_env, ir):
    from oneformer.apis import OneFormerInferencer
    from oneformer.deployment import OnnxOneFormer
    with pytest.raises(ValueError, match='backend'):
        OnnxOneFormer(deploy_env['onnx'], backend='tensorrt')
    with pytest.raises(ValueError, match='OpenVINO IR'):
        OnnxOneFormer(ir, backend='onnxruntime')
    with pytest.raises(ValueError, match='exported weights'):
        OneFormerInferencer(deploy_env['config'], weights=deploy_env['ckpt'], backend='openvino')


def test_inferencer_openvino_gives_the_onnx_runtime_results(deploy_env, ir, tmp_path):
    from oneformer.apis import OneFormerInferencer
    rng = np.random.RandomState(1)
    images = []
    for i, shape in enumerate(((48, 64, 3), (70, 50, 3))):
        images.append(str(tmp_path / f'{i}.png'))
        mmcv.imwrite((rng.rand(*shape) * 255).astype(np.uint8), images[-1])
    ref = OneFormerInferencer(deploy_env['config'], weights=deploy_env['onnx'], task='all')(images)['predictions']
    assert max(len(r['panoptic']['segments_info']) for r in ref) >= 2  # not empty outputs
    for weights, backend in ((deploy_env['onnx'], 'openvino'), (ir, None)):
        inf = OneFormerInferencer(None, weights=weights, task='all', backend=backend)
        assert inf.model.backend == 'openvino'
        for r, o in zip(ref, inf(images)['predictions']):
            _assert_same_predictions(r, o)
