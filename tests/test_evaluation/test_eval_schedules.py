"""The paper schedules load, and build optimizer wrapper + LR schedulers with the right per-parameter lr / decay."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS
from torch import nn

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCHEDULES = osp.join(ROOT, 'configs', '_base_', 'schedules')

# file -> (max_iters, scheduler type, scheduler attributes)
EXPECTED = {
    'schedule_coco_50e.py': (368750, 'MultiStepLR', dict(milestones=[327778, 355092], gamma=0.1)),
    'schedule_coco_100e.py': (737500, 'MultiStepLR', dict(milestones=[655556, 735184], gamma=0.1)),
    'schedule_ade20k_160k.py': (160000, 'PolyLR', dict(power=0.9, eta_min=0.0)),
    'schedule_cityscapes_90k.py': (90000, 'PolyLR', dict(power=0.9, eta_min=0.0)),
}
BASE_LR, WD = 1e-4, 0.05


class TinyOneFormer(nn.Module):
    """Parameter names as in the real model: backbone, head embeddings/norms, text mapper embeddings."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.x = nn.Parameter(torch.ones(2, 2))
        self.backbone.attn = nn.Module()
        self.backbone.attn.relative_position_bias_table = nn.Parameter(torch.ones(3, 2))
        self.panoptic_head = nn.Module()
        self.panoptic_head.query_embed = nn.Embedding(4, 2)
        self.panoptic_head.level_embed = nn.Embedding(3, 2)
        self.panoptic_head.norm = nn.LayerNorm(2)
        self.panoptic_head.fc = nn.Linear(2, 2)
        self.text_mapper = nn.Module()
        self.text_mapper.prompt_ctx = nn.Embedding(2, 2)
        self.text_mapper.token_embedding = nn.Embedding(5, 2)
        self.text_mapper.positional_embedding = nn.Parameter(torch.ones(3, 2))


# param name -> (lr, weight decay)
EXPECTED_GROUPS = {
    'backbone.x': (BASE_LR * 0.1, WD),
    'backbone.attn.relative_position_bias_table': (BASE_LR * 0.1, 0.0),
    'panoptic_head.query_embed.weight': (BASE_LR, 0.0),
    'panoptic_head.level_embed.weight': (BASE_LR, 0.0),
    'panoptic_head.norm.weight': (BASE_LR, 0.0),
    'panoptic_head.norm.bias': (BASE_LR, 0.0),
    'panoptic_head.fc.weight': (BASE_LR, WD),
    'panoptic_head.fc.bias': (BASE_LR, WD),
    'text_mapper.prompt_ctx.weight': (BASE_LR, 0.0),
    'text_mapper.token_embedding.weight': (BASE_LR, 0.0),
    'text_mapper.positional_embedding': (BASE_LR, 0.0),
}


def _group_of(optimizer, param):
    groups = [g for g in optimizer.param_groups if any(p is param for p in g['params'])]
    assert len(groups) == 1
    return groups[0]


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_schedule_builds_with_paper_hyper_parameters(name, tmp_path):
    # composed with the runtime like a real config (mmengine rejects keys defined by two bases)
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(f"_base_ = [{osp.join(ROOT, 'configs', '_base_', 'default_runtime.py')!r}, "
                        f"{osp.join(SCHEDULES, name)!r}]\n")
    cfg = Config.fromfile(str(cfg_file))
    max_iters, sched_type, sched_attrs = EXPECTED[name]
    model = TinyOneFormer()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)

    optimizer = optim_wrapper.optimizer
    assert isinstance(optimizer, torch.optim.AdamW)
    assert optim_wrapper.clip_grad_kwargs == dict(max_norm=0.01, norm_type=2)
    named = dict(model.named_parameters())
    assert set(named) == set(EXPECTED_GROUPS)
    for pname, (lr, wd) in EXPECTED_GROUPS.items():
        group = _group_of(optimizer, named[pname])
        assert group['lr'] == pytest.approx(lr), pname
        assert group['weight_decay'] == pytest.approx(wd), pname
        assert group['betas'] == (0.9, 0.999) and group['eps'] == 1e-8

    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == max_iters and cfg.train_cfg.val_interval == 5000
    ckpt = cfg.default_hooks.checkpoint
    assert (ckpt.interval, ckpt.max_keep_ckpts, ckpt.save_last, ckpt.by_epoch) == (5000, 3, True, False)
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=16)
    assert cfg.log_processor.by_epoch is False and cfg.default_scope == 'mmdet'
    assert cfg.custom_imports.imports == ['oneformer']
    assert cfg.custom_hooks == [dict(type='TaskMetricsSummaryHook')]

    assert len(cfg.param_scheduler) == 1
    scheduler = PARAM_SCHEDULERS.build(dict(cfg.param_scheduler[0], optimizer=optim_wrapper))
    assert type(scheduler).__name__ == sched_type
    assert (scheduler.begin, scheduler.end, scheduler.by_epoch) == (0, max_iters, False)
    for attr, value in sched_attrs.items():
        got = getattr(scheduler, attr)
        assert (sorted(got) if attr == 'milestones' else got) == value, attr

    # one real step: poly decays every group by (1 - 1/T) ** 0.9, multi-step keeps the lr before its milestones
    backbone = _group_of(optimizer, named['backbone.x'])
    scheduler.step()
    factor = (1 - 1 / max_iters)**0.9 if sched_type == 'PolyLR' else 1.0
    assert backbone['lr'] == pytest.approx(BASE_LR * 0.1 * factor)
