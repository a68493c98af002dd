"""The backbone matrix: every listed mmpretrain family builds the demo OneFormer with nothing but ``backbone`` (+
``neck`` for a plain ViT) changed, trains a step (finite losses, gradient into the backbone) and predicts the three
tasks at 128x128 on CPU (tiny archs: about a second each)."""
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config

from oneformer.testing import config_path
from oneformer.testing.backbone_matrix import DEMO_CONFIG, FAMILIES, matrix_backbone_line, matrix_model_cfg

from ..test_detectors.test_oneformer import _sample

SIZE = 128


@pytest.fixture(scope='module')
def demo():
    import oneformer  # noqa: F401
    return Config.fromfile(config_path(DEMO_CONFIG))


def test_the_matrix_covers_cnns_hierarchical_transformers_and_foundation_vits():
    kinds = [f['kind'] for f in FAMILIES]
    assert len({f['name'] for f in FAMILIES}) == len(FAMILIES) >= 20
    assert kinds.count('CNN') >= 5 and kinds.count('hierarchical transformer') >= 5 and kinds.count('plain ViT') >= 5
    names = ' '.join(f['name'] for f in FAMILIES)
    for needed in ('DINOv2', 'EVA-02', 'SAM'):
        assert needed in names
    assert all(f['neck'] is not None for f in FAMILIES if f['kind'] == 'plain ViT')


def test_only_backbone_and_neck_differ_from_the_demo(demo):
    for family in FAMILIES:
        cfg = matrix_model_cfg(family, demo)
        assert {k: v for k, v in cfg.items() if k not in ('backbone', 'neck')} == \
            {k: v for k, v in demo.model.items() if k not in ('backbone', 'neck')}
        assert 'in_channels' not in cfg.panoptic_head or cfg.panoptic_head.in_channels is None
        assert matrix_backbone_line(family).startswith(f"backbone=dict(type='{family['backbone']['type']}'")


@pytest.mark.slow
@pytest.mark.parametrize('family', FAMILIES, ids=[f['name'] for f in FAMILIES])
def test_family_trains_a_step_and_predicts_three_tasks(family, demo, one_thread):
    torch.manual_seed(0)
    model = MODELS.build(matrix_model_cfg(family, demo))
    model.init_weights()
    model.train()
    num_texts = model.panoptic_head.num_texts
    samples = [_sample('panoptic', SIZE, SIZE, [0, 1, 3], num_texts, 0),
               _sample('instance', SIZE, SIZE, [1, 2], num_texts, 1)]
    losses = model.loss(torch.randn(2, 3, SIZE, SIZE), samples)
    assert all(torch.isfinite(v) for v in losses.values()), losses
    sum(losses.values()).backward()
    # a step first: some tensors get exactly zero gradient at initialisation by design (zero-initialised residual
    # norms or layer scales), after it every backbone tensor that takes part gets gradient
    torch.optim.SGD(model.parameters(), lr=0.01).step()
    model.zero_grad()
    sum(model.loss(torch.randn(2, 3, SIZE, SIZE), samples).values()).backward()
    grads = [(n, p.grad) for n, p in model.backbone.named_parameters() if p.requires_grad]
    used = [(n, g) for n, g in grads if g is not None]  # e.g. stages after the last out_index take no part
    assert all(torch.isfinite(g).all() for _, g in used)
    reached = [n for n, g in used if g.abs().sum() > 0]
    assert used[0][0] in reached and len(reached) >= 0.9 * len(used), sorted({n for n, _ in used} - set(reached))

    model.eval()
    meta = dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE), batch_input_shape=(SIZE, SIZE),
                scale_factor=(1., 1.))
    with torch.no_grad():
        out = model.predict(torch.randn(1, 3, SIZE, SIZE), [DetDataSample(metainfo=meta)])[0]
    assert out.pred_panoptic_seg.sem_seg.shape == (1, SIZE, SIZE)
    assert out.pred_sem_seg.sem_seg.shape == (1, SIZE, SIZE) and out.pred_sem_seg.sem_seg.max() < 5
    assert out.pred_instances.masks.shape[1:] == (SIZE, SIZE)
