"""The two export forms of the deformable attention (GridSample per level, one Gather + MatMul) compute the eager
path's function, in PyTorch and as traced graphs in ONNX Runtime, at the traced size and at another one."""
import numpy as np
import pytest
import torch

from oneformer.deployment.deform_attn import DEFORM_ATTN, deform_attn_gather_onnx, deform_attn_grid_sample
from oneformer.models.layers.gather_deform_attn import deform_attn_gather


def _inputs(levels, batch=2, heads=2, channels=4, queries=7, points=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = torch.tensor(levels)
    num_value = int((shapes[:, 0] * shapes[:, 1]).sum())
    value = torch.randn(batch, num_value, heads, channels, generator=g)
    # locations beyond the borders too: zero padding (and partly outside corners) must match
    loc = torch.rand(batch, queries, heads, len(levels), points, 2, generator=g) * 1.4 - 0.2
    weights = torch.rand(batch, queries, heads, len(levels), points, generator=g).softmax(-1)
    return value, shapes, loc, weights


@pytest.mark.parametrize('levels', [[[6, 5], [3, 3], [2, 1]], [[1, 1]], [[4, 8], [2, 4]]])
def test_export_forms_equal_the_eager_gather(levels):
    args = _inputs(levels)
    ref = deform_attn_gather(*args)
    for fn in (deform_attn_gather_onnx, deform_attn_grid_sample):
        torch.testing.assert_close(fn(*args), ref, atol=1e-5, rtol=1e-5)
    # not a trivial comparison: values outside the maps are zeros, the rest is not
    assert ref.abs().max() > 0.1


class _Wrap(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, value, shapes, loc, weights):
        return self.fn(value, shapes, loc, weights)


@pytest.mark.parametrize('form', sorted(DEFORM_ATTN))
def test_traced_forms_run_in_onnx_runtime_at_other_sizes(form, tmp_path):
    import onnx
    import onnxruntime as ort
    args = _inputs([[6, 5], [3, 3]])
    path = str(tmp_path / f'{form}.onnx')
    names = ['value', 'shapes', 'loc', 'weights']
    axes = dict(value={0: 'b', 1: 'nv'}, loc={0: 'b', 1: 'q'}, weights={0: 'b', 1: 'q'})
    with torch.no_grad():
        torch.onnx.export(_Wrap(DEFORM_ATTN[form]), args, path, dynamo=False, opset_version=17, input_names=names,
                          dynamic_axes=axes)
    ops = {n.op_type for n in onnx.load(path).graph.node}
    assert ('GridSample' in ops) == (form == 'grid_sample') and 'Loop' not in ops
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    # another batch, level sizes and query count than traced: the sizes are graph values
    other = _inputs([[4, 7], [2, 2]], batch=1, queries=5, seed=1)
    for a in (args, other):
        out = session.run(None, {n: t.numpy() for n, t in zip(names, a)})[0]
        np.testing.assert_allclose(out, deform_attn_gather(*a).numpy(), atol=1e-5, rtol=0)


def test_unknown_form_is_refused(deploy_env):
    from oneformer.deployment import OneFormerGraph
    with pytest.raises(ValueError, match='deform_attn=.*choose from'):
        OneFormerGraph(deploy_env['model'], 'embedding_bag')


def test_gather_graph_gives_the_grid_sample_graphs_logits(deploy_env, tmp_path):
    """The whole model exported with either form: same logits (the file records its form)."""
    from oneformer.deployment import OnnxOneFormer, export_onnx, read_metadata
    from oneformer.deployment.compare import onnx_logits, torch_logits
    path = str(tmp_path / 'gather.onnx')
    export_onnx(deploy_env['model'], path, deploy_env['cfg'], deploy_env['model'].dataset_meta, shape=(64, 64),
                dynamic=True, deform_attn='gather')
    assert read_metadata(path)['deform_attn'] == 'gather'
    x = torch.randn(2, 3, 96, 64, generator=torch.Generator().manual_seed(2))
    ref = torch_logits(deploy_env['model'], x, ('panoptic', 'semantic'))
    for file in (path, deploy_env['onnx']):
        out = onnx_logits(OnnxOneFormer(file), x, ('panoptic', 'semantic'))
        for task in ref:
            for r, o in zip(ref[task], out[task]):
                np.testing.assert_allclose(o.numpy(), r.numpy(), atol=1e-4, rtol=1e-4)
