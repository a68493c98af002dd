"""OneFormerOptimWrapperConstructor: norm / embedding decay rules hold inside custom_keys (like detectron2's
build_optimizer), and the optional nan_to_num of gradients before clipping."""
import math
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from torch import nn

from oneformer.engine import OneFormerOptimWrapperConstructor
from oneformer.testing import captured_log

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LR, WD = 1e-4, 0.05


class Backboned(nn.Module):
    """A backbone with LayerNorm / BN / GroupNorm / Embedding / a bias-table parameter, and a head."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.conv = nn.Conv2d(3, 4, 3)
        self.backbone.bn = nn.BatchNorm2d(4)
        self.backbone.ln = nn.LayerNorm(4)
        self.backbone.gn = nn.GroupNorm(2, 4)
        self.backbone.pos = nn.Embedding(5, 4)
        self.backbone.relative_position_bias_table = nn.Parameter(torch.zeros(3, 4))
        self.backbone.frozen_bn = nn.BatchNorm2d(4)
        self.backbone.frozen_bn.requires_grad_(False)
        self.head = nn.Module()
        self.head.fc = nn.Linear(4, 4)
        self.head.ln = nn.LayerNorm(4)
        self.head.query_embed = nn.Embedding(6, 4)
        self.head.level_embed = nn.Parameter(torch.zeros(3, 4))  # a plain parameter: decays unless keyed


def _optim_cfg(constructor, **paramwise):
    paramwise_cfg = dict(
        custom_keys={'backbone': dict(lr_mult=0.1, decay_mult=1.0),
                     'relative_position_bias_table': dict(lr_mult=0.1, decay_mult=0.0)},
        norm_decay_mult=0.0)
    paramwise_cfg.update(paramwise)
    return dict(type='OptimWrapper', constructor=constructor,
                optimizer=dict(type='AdamW', lr=LR, weight_decay=WD), clip_grad=dict(max_norm=0.01, norm_type=2),
                paramwise_cfg=paramwise_cfg)


def _lr_wd(optim_wrapper, model):
    """param name -> (lr, weight decay) of its group; every trainable param is in exactly one group."""
    out = {}
    for name, param in model.named_parameters():
        groups = [g for g in optim_wrapper.optimizer.param_groups if any(p is param for p in g['params'])]
        assert len(groups) == (1 if param.requires_grad else 0), name
        if groups:
            out[name] = (groups[0]['lr'], groups[0]['weight_decay'])
    return out


def test_norms_and_embeddings_inside_custom_keys_get_zero_decay():
    model = Backboned()
    got = _lr_wd(build_optim_wrapper(model, _optim_cfg('OneFormerOptimWrapperConstructor', embed_decay_mult=0.0)),
                 model)
    bb = LR * 0.1
    expected = {
        'backbone.conv.weight': (bb, WD), 'backbone.conv.bias': (bb, WD),
        # norm layers / embeddings inside the 'backbone' key: the backbone lr, no decay
        'backbone.bn.weight': (bb, 0.), 'backbone.bn.bias': (bb, 0.),
        'backbone.ln.weight': (bb, 0.), 'backbone.ln.bias': (bb, 0.),
        'backbone.gn.weight': (bb, 0.), 'backbone.gn.bias': (bb, 0.),
        'backbone.pos.weight': (bb, 0.),
        'backbone.relative_position_bias_table': (bb, 0.),
        'head.fc.weight': (LR, WD), 'head.fc.bias': (LR, WD),
        'head.ln.weight': (LR, 0.), 'head.ln.bias': (LR, 0.),
        'head.query_embed.weight': (LR, 0.),
        'head.level_embed': (LR, WD),
    }
    assert set(got) == set(expected)  # the frozen BN is left out, as mmengine does
    for name, (lr, wd) in expected.items():
        assert got[name] == pytest.approx((lr, wd)), name


def test_default_constructor_keeps_decay_on_backbone_norms():
    """The mmengine behaviour this constructor exists for: custom_keys params skip norm_decay_mult."""
    model = Backboned()
    got = _lr_wd(build_optim_wrapper(model, _optim_cfg('DefaultOptimWrapperConstructor')), model)
    assert got['backbone.ln.weight'] == pytest.approx((LR * 0.1, WD))
    assert got['backbone.pos.weight'] == pytest.approx((LR * 0.1, WD))
    assert got['head.ln.weight'] == pytest.approx((LR, 0.))


def test_embed_rule_only_when_configured_and_custom_keys_still_set_lr():
    model = Backboned()
    got = _lr_wd(build_optim_wrapper(model, _optim_cfg('OneFormerOptimWrapperConstructor')), model)
    assert got['head.query_embed.weight'] == pytest.approx((LR, WD))  # no embed_decay_mult: mmengine default
    assert got['backbone.pos.weight'] == pytest.approx((LR * 0.1, WD))
    assert got['backbone.ln.weight'] == pytest.approx((LR * 0.1, 0.))


def test_removed_grad_nan_to_num_key_points_to_the_wrapper():
    with pytest.raises(KeyError, match='FiniteGradOptimWrapper'):
        OneFormerOptimWrapperConstructor(dict(optimizer=dict(type='SGD', lr=0.1), grad_nan_to_num=True))


def test_finite_grad_amp_wrapper_cleans_after_unscaling(monkeypatch):
    """AMP: gradients are unscaled first, then cleaned, then clipped. mmengine refuses to build its AMP wrapper
    without an accelerator, so the check is lifted here; the loss scaler is then disabled (CPU), which leaves
    exactly the wrapper's own clean-then-clip order under test."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_module

    import oneformer  # noqa: F401
    from oneformer.engine import FiniteGradAmpOptimWrapper
    monkeypatch.setattr(amp_module, 'is_cuda_available', lambda: True)
    model = nn.Linear(2, 2)
    wrapper = FiniteGradAmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.0), dtype='bfloat16',
                                        clip_grad=dict(max_norm=1.0, norm_type=2), grad_posinf=10.0)
    model.weight.grad = torch.tensor([[float('nan'), float('inf')], [0.0, 0.0]])
    model.bias.grad = torch.tensor([0.0, 0.0])
    wrapper.step()
    torch.testing.assert_close(model.weight.grad.flatten(), torch.tensor([0.0, 1.0, 0.0, 0.0]), atol=1e-5, rtol=0)


def test_embed_decay_mult_needs_weight_decay():
    cfg = dict(optimizer=dict(type='AdamW', lr=LR))
    with pytest.raises(ValueError, match='embed_decay_mult'):
        OneFormerOptimWrapperConstructor(cfg, dict(embed_decay_mult=0.0))


@pytest.mark.parametrize('enabled', [True, False])
def test_finite_grad_wrapper_cleans_before_clipping(enabled):
    from mmengine.registry import DefaultScope

    import oneformer  # noqa: F401  (registers the wrappers)
    model = nn.Linear(2, 2)
    cfg = dict(type='FiniteGradOptimWrapper' if enabled else 'OptimWrapper',
               constructor='OneFormerOptimWrapperConstructor',
               optimizer=dict(type='SGD', lr=0.0), clip_grad=dict(max_norm=1.0, norm_type=2))
    with DefaultScope.overwrite_default_scope('mmdet'):
        optim_wrapper = build_optim_wrapper(model, cfg)
    model.weight.grad = torch.tensor([[float('nan'), float('inf')], [-float('inf'), 3.0]])
    model.bias.grad = torch.tensor([4.0, 0.0])
    optim_wrapper.step()
    if not enabled:  # clipping alone cannot rescue the gradients
        assert not torch.isfinite(model.weight.grad).all()
        return
    cleaned = torch.tensor([0.0, 1e5, -1e5, 3.0, 4.0, 0.0])
    scale = 1.0 / (cleaned.norm() + 1e-6)  # torch's clip_grad_norm_ coefficient
    got = torch.cat([model.weight.grad.flatten(), model.bias.grad])
    assert torch.allclose(got, cleaned * scale, rtol=1e-5)
    assert math.isclose(got.norm().item(), 1.0, rel_tol=1e-4)


def test_real_config_gives_every_norm_and_embedding_zero_decay():
    """The shipped schedule on a real model (Swin-T backbone, full head): d2's per-parameter rules."""
    from mmengine.utils.dl_utils.parrots_wrapper import _BatchNorm, _InstanceNorm

    import oneformer  # noqa: F401
    cfg = Config.fromfile(osp.join(REPO, 'configs/oneformer/oneformer_swin-t-p4-w7-224_8xb2-160k_ade20k-panoptic-'
                                         '512x512.py'))
    cfg.model.backbone.init_cfg = None
    cfg.model.backbone.depths = [1, 1, 1, 1]  # the rules do not depend on the depth
    model = MODELS.build(cfg.model)
    got = _lr_wd(build_optim_wrapper(model, cfg.optim_wrapper), model)
    norms = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)
    counts = dict(norm=0, embed=0, other=0)
    for mod_name, mod in model.named_modules():
        for pname, _ in mod.named_parameters(recurse=False):
            name = f'{mod_name}.{pname}'
            lr = LR * 0.1 if name.startswith('backbone.') else LR
            if isinstance(mod, norms):
                kind, wd = 'norm', 0.0
            elif isinstance(mod, nn.Embedding) or name.endswith(('relative_position_bias_table',
                                                                  'positional_embedding')):
                kind, wd = 'embed', 0.0
            else:
                kind, wd = 'other', WD
            counts[kind] += 1
            assert got[name] == pytest.approx((lr, wd)), name
    assert min(counts.values()) > 5
    # the backbone's own LayerNorms are the parameters mmengine alone gets wrong
    assert got['backbone.stages.0.blocks.0.norm1.weight'] == pytest.approx((LR * 0.1, 0.0))
    assert got['backbone.norm3.weight'] == pytest.approx((LR * 0.1, 0.0))
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=0.01, norm_type=2)


def test_paramwise_lines_are_debug_and_summarised():
    """mmengine logs one INFO line per parameter and setting (~320 for OneFormer): DEBUG here, plus a summary with
    one line per (lr, weight decay) whose counts are those of the optimizer's groups."""
    import logging
    import re
    from collections import Counter

    from mmengine.logging import MMLogger
    logger = MMLogger.get_instance('paramwise_summary_test', log_level='INFO')  # the 'current' logger now
    with captured_log(logger, level=logging.DEBUG) as records:
        model = Backboned()
        wrapper = build_optim_wrapper(model, _optim_cfg('OneFormerOptimWrapperConstructor'))
    info = [r.getMessage() for r in records if r.levelno >= logging.INFO]
    debug = [r.getMessage() for r in records if r.levelno == logging.DEBUG]
    assert not [m for m in info if m.startswith('paramwise_options')]
    assert len([m for m in debug if m.startswith('paramwise_options -- ')]) >= 10  # still there at DEBUG
    summary = [m for m in info if m.startswith('parameter groups')]
    assert len(summary) == 1 and len(summary[0].splitlines()) <= 6
    found = Counter()
    for line in summary[0].splitlines()[1:]:
        lr, wd, n = re.match(r'\s*lr=(\S+) weight_decay=(\S+): (\d+) tensors', line).groups()
        found[(lr, wd)] += int(n)
    expected = Counter()
    for group in wrapper.optimizer.param_groups:
        expected[(f"{group['lr']:g}", f"{group['weight_decay']:g}")] += len(group['params'])
    assert found == expected
    assert 'backbone.bn' in summary[0] and 'head.fc' in summary[0]
