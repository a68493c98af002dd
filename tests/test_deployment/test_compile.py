"""torch.compile of the network (oneformer.apis.compile_network): the same post-processed outputs as eager, through
the inferencer and tools/test.py --compile."""
import numpy as np
import pytest
import torch

from .test_onnx_export import _assert_same_predictions


def test_compile_refuses_what_is_not_a_oneformer_network(deploy_env):
    from oneformer.apis import OneFormerInferencer, compile_network
    with pytest.raises(TypeError, match='not a OneFormer detector'):
        compile_network(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match='exported graph'):
        OneFormerInferencer(None, weights=deploy_env['onnx'], compile=True)


@pytest.mark.slow
def test_compiled_inferencer_equals_eager(deploy_env):
    from oneformer.apis import OneFormerInferencer
    torch._dynamo.reset()
    rng = np.random.RandomState(2)
    image = (rng.rand(64, 64, 3) * 255).astype(np.uint8)
    eager = OneFormerInferencer(deploy_env['config'], weights=deploy_env['ckpt'], task='all')
    compiled = OneFormerInferencer(deploy_env['config'], weights=deploy_env['ckpt'], task='all', compile=True)
    head = compiled.model.panoptic_head
    assert type(compiled.model.backbone).__name__ == 'OptimizedModule'
    assert type(head.pixel_decoder).__name__ == 'OptimizedModule'
    ref = eager(image)['predictions'][0]
    assert len(ref['panoptic']['segments_info']) >= 2
    for _ in range(2):  # compiling run, then the compiled code
        _assert_same_predictions(ref, compiled(image)['predictions'][0])
    # the compiled network's logits are the eager ones (float rounding aside)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        outs = [m.panoptic_head.predict_by_pixel_feats(m.panoptic_head.forward_pixel(m.extract_feat(x)),
                                                       ['semantic']) for m in (eager.model, compiled.model)]
    for a, b in zip(*outs):
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_tools_test_compile_gives_the_eager_metrics(deploy_env, tmp_path):
    import importlib.util
    import os.path as osp

    from ..conftest import REPO
    spec = importlib.util.spec_from_file_location('tools_test_compile', osp.join(REPO, 'tools', 'test.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    metrics = {}
    for flag in ([], ['--compile']):
        metrics[bool(flag)] = tool.main([deploy_env['config'], deploy_env['ckpt'], '--work-dir',
                                         str(tmp_path / f'compile{bool(flag)}')] + flag)
    keys = ('coco_panoptic/PQ', 'coco/segm_mAP', 'mIoU')
    assert all(k in metrics[False] for k in keys)
    for k in keys:
        assert metrics[True][k] == pytest.approx(metrics[False][k], abs=1e-6)
