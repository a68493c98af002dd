"""Frozen backbone (linear-probe style) and activation checkpointing of plain-ViT blocks."""
import copy

import pytest
import torch
from mmdet.registry import MODELS

from oneformer.testing import tiny_model_cfg

from ..test_detectors.test_oneformer import _sample

VIT = dict(type='mmpretrain.VisionTransformer', arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                                                          feedforward_channels=64),
           img_size=64, patch_size=16, out_type='featmap', drop_path_rate=0.0)


def _vit_cfg(**kw):
    cfg = tiny_model_cfg()
    cfg.backbone = copy.deepcopy(VIT)
    cfg.neck = dict(type='SimpleFeaturePyramid', out_channels=16)
    cfg.update(kw)
    return cfg


def _loss(model, seed=0):
    torch.manual_seed(seed)
    samples = [_sample('panoptic', 64, 64, [0, 1, 3], 8, 0), _sample('semantic', 64, 64, [2, 4], 8, 1)]
    return sum(model.loss(torch.randn(2, 3, 64, 64), samples).values())


def test_frozen_backbone_gets_no_update_and_stays_in_eval_mode():
    cfg = tiny_model_cfg()
    cfg.freeze_backbone = True
    model = MODELS.build(cfg)
    model.init_weights()
    model.train()
    assert not model.backbone.training and all(not m.training for m in model.backbone.modules())
    assert model.panoptic_head.training
    assert not any(p.requires_grad for p in model.backbone.parameters())
    before = copy.deepcopy(model.state_dict())
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    _loss(model).backward()
    opt.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert not any(k.startswith('backbone.') for k in changed)  # weights and BN statistics
    assert any(k.startswith('panoptic_head.') for k in changed)


def test_checkpointed_blocks_give_the_same_loss_and_gradients_and_recompute():
    torch.manual_seed(0)
    plain = MODELS.build(_vit_cfg())
    plain.init_weights()
    ckpt = MODELS.build(_vit_cfg(backbone_checkpoint=True))
    ckpt.load_state_dict(plain.state_dict())
    assert type(ckpt.backbone.layers[0]).__name__.startswith('Checkpointed')
    assert set(dict(ckpt.named_parameters())) == set(dict(plain.named_parameters()))  # same checkpoint keys
    calls = []
    ckpt.backbone.layers[0].ffn.register_forward_pre_hook(lambda *a: calls.append(1))
    grads = []
    for model in (plain, ckpt):
        model.train()
        loss = _loss(model)
        loss.backward()
        grads.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    assert len(calls) == 2  # forward, then recomputed in the backward pass
    (l0, g0), (l1, g1) = grads
    assert torch.equal(l0, l1) and set(g0) == set(g1)
    for name in g0:
        torch.testing.assert_close(g1[name], g0[name], rtol=1e-5, atol=1e-7, msg=name)
    # eval / no-grad runs are not checkpointed; deepcopy (EMA, TTA) keeps the behaviour
    ckpt.eval()
    calls.clear()
    with torch.no_grad():
        ckpt.extract_feat(torch.randn(1, 3, 64, 64))
    assert len(calls) == 1
    assert type(copy.deepcopy(ckpt).backbone.layers[1]) is type(ckpt.backbone.layers[1])


def test_checkpointing_a_backbone_without_block_list_is_an_error():
    cfg = tiny_model_cfg()
    cfg.backbone_checkpoint = True
    with pytest.raises(TypeError, match='own with_cp'):
        MODELS.build(cfg)
