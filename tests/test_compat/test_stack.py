"""Issue 2: the stack imports and works, the project registers, checkpoints round-trip, tokenizer ids."""
import importlib

import numpy as np
import pytest
import torch


@pytest.mark.parametrize('name', [
    'torch', 'torchvision', 'mmengine', 'mmcv', 'mmcv.ops', 'mmdet', 'mmdet.models', 'mmdet.datasets',
    'mmdet.evaluation', 'mmseg', 'mmseg.models', 'mmpretrain', 'mmpretrain.models', 'pycocotools.mask',
    'cityscapesscripts.evaluation.evalPanopticSemanticLabeling', 'ftfy', 'regex', 'oneformer'
])
def test_dependency_imports(name):
    importlib.import_module(name)


def test_versions_and_compiled_ops():
    import mmcv
    import mmdet
    import mmengine
    import mmpretrain
    import mmseg
    importlib.import_module('mmcv._ext')  # compiled ops, not mmcv-lite
    assert mmcv.__version__ == '2.1.0'
    assert mmengine.__version__ == '0.10.7'
    assert mmdet.__version__ == '3.3.0'
    assert mmseg.__version__ == '1.2.2'
    assert mmpretrain.__version__ == '1.2.0'


def test_ms_deform_attn_cpu_forward_backward_matches_reference():
    from mmcv.ops import MultiScaleDeformableAttention
    from mmcv.ops.multi_scale_deform_attn import multi_scale_deformable_attn_pytorch
    torch.manual_seed(0)
    attn = MultiScaleDeformableAttention(embed_dims=32, num_heads=4, num_levels=2, num_points=2,
                                         batch_first=True)
    shapes = torch.tensor([[8, 8], [4, 4]])
    start = torch.cat([shapes.new_zeros(1), shapes.prod(1).cumsum(0)[:-1]])
    n_val = int(shapes.prod(1).sum())
    value = torch.randn(2, n_val, 32, requires_grad=True)
    query = torch.randn(2, 5, 32, requires_grad=True)
    ref = torch.rand(2, 5, 2, 2)
    out = attn(query, value=value, reference_points=ref, spatial_shapes=shapes, level_start_index=start)
    assert out.shape == (2, 5, 32) and torch.isfinite(out).all()
    out.sum().backward()
    assert value.grad.abs().sum() > 0 and query.grad.abs().sum() > 0
    assert all(p.grad is not None for p in attn.parameters())
    # the CPU path is the PyTorch grid_sample implementation: check it against a direct call
    v = torch.randn(1, n_val, 2, 4)
    loc = torch.rand(1, 3, 2, 2, 2, 2)
    w = torch.rand(1, 3, 2, 2, 2).softmax(-1)
    a = multi_scale_deformable_attn_pytorch(v, shapes, loc, w)
    # bilinear sampling of a constant value map returns the constant (away from borders)
    const = torch.ones_like(v)
    b = multi_scale_deformable_attn_pytorch(const, shapes, torch.full_like(loc, 0.5), w)
    assert a.shape == (1, 3, 8)
    torch.testing.assert_close(b, w.sum((-1, -2))[..., None].repeat_interleave(4, -1).flatten(2) * 1.0)


def test_import_registers_modules():
    from mmdet.registry import MODELS

    import oneformer  # noqa: F401
    for name in ('OneFormer', 'OneFormerHead', 'OneFormerFusionHead', 'TaskEncoder', 'TextMapper',
                 'TaskGuidedQueryTransformer', 'QueryTextContrastiveLoss'):
        assert MODELS.get(name) is not None, name
        assert MODELS.get(name).__module__.startswith('oneformer.'), name


@pytest.mark.parametrize('task,ids', [
    ('panoptic', [49406, 518, 10549, 533, 1072, 24755, 49407]),
    ('instance', [49406, 518, 10549, 533, 34572, 49407]),
    ('semantic', [49406, 518, 10549, 533, 29119, 1550, 49407]),
])
def test_task_token_ids(task, ids):
    from oneformer.tasks import task_tokens
    tokens = task_tokens(task)
    assert tokens.dtype == torch.int64 and tokens.shape == (77, )
    assert tokens[:len(ids)].tolist() == ids
    assert (tokens[len(ids):] == 0).all()


def test_unknown_task_is_rejected_with_accepted_names():
    from oneformer.tasks import task_tokens
    with pytest.raises(ValueError, match='panoptic, instance, semantic'):
        task_tokens('depth')


def test_panopticapi_alias_is_cityscapesscripts_with_our_png_codec():
    from cityscapesscripts.evaluation import evalPanopticSemanticLabeling as cs
    from panopticapi.evaluation import PQStat
    from panopticapi.utils import id2rgb, rgb2id

    import oneformer  # noqa: F401
    from oneformer.structures import panoptic_png
    assert PQStat is cs.PQStat and rgb2id is panoptic_png.rgb2id and id2rgb is panoptic_png.id2rgb
    assert id2rgb(65536 + 258) == [2, 1, 1] and rgb2id([2, 1, 1]) == 65536 + 258  # panopticapi's scalar forms
    ids = np.array([[0, 1, 255], [256, 65536 + 7, 16777215]], dtype=np.int64)
    assert (rgb2id(id2rgb(ids)) == ids).all()
    # mmdet's loader accepts it (it raised ImportError without panopticapi)
    from mmdet.datasets.transforms import LoadPanopticAnnotations
    LoadPanopticAnnotations()
