"""``tools/train.py --cfg-options train_cfg.max_iters=N``: the poly schedule ends at N (its learning rate really
reaches the end value), step schedules warn about drops beyond the run, explicit scheduler overrides win."""
from argparse import Namespace

import pytest
import torch
from mmengine.config import Config
from mmengine.optim.scheduler import PolyLR

from oneformer.engine import schedule_length, setup_train_cfg
from oneformer.testing import config_path

ADE = 'configs/oneformer/oneformer_r50_8xb2-160k_ade20k-panoptic-512x512.py'
COCO = 'configs/oneformer/oneformer_r50_8xb2-50e_coco-panoptic.py'


def _setup(config, options):
    args = Namespace(config=config, cfg_options=options, work_dir='work_dirs/x', launcher='none')
    return setup_train_cfg(Config.fromfile(config_path(config)), args)


@pytest.fixture
def logged(monkeypatch):
    lines = []
    monkeypatch.setattr(schedule_length, 'print_log', lambda msg, logger=None, level=None: lines.append((level, msg)))
    return lines


def test_poly_schedule_follows_a_shorter_run(logged):
    cfg = _setup(ADE, {'train_cfg.max_iters': 40})
    assert cfg.train_cfg.max_iters == 40
    sched = cfg.param_scheduler[0]
    assert (sched.type, sched.begin, sched.end) == ('PolyLR', 0, 40)
    assert len(logged) == 1 and '160000 -> 40' in logged[0][1]
    # the learning rate the schedule gives (mmengine's PolyLR: 1e-4 * (1 - t / 39) ** 0.9), 0 after the last step
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([param], lr=1e-4)
    poly = PolyLR(opt, power=sched.power, eta_min=sched.eta_min, begin=sched.begin, end=sched.end, by_epoch=False)
    lrs = []
    for _ in range(40):
        lrs.append(opt.param_groups[0]['lr'])
        opt.step()
        poly.step()
    assert lrs[0] == pytest.approx(1e-4)
    assert lrs[20] == pytest.approx(1e-4 * (1 - 20 / 39) ** 0.9, rel=1e-6)
    assert lrs[-1] < 1e-4 * 0.1
    assert opt.param_groups[0]['lr'] == pytest.approx(0.0, abs=1e-12)


def test_unchanged_length_and_explicit_schedule_are_left_alone(logged):
    assert _setup(ADE, None).param_scheduler[0].end == 160000
    cfg = _setup(ADE, {'train_cfg.max_iters': 40, 'param_scheduler.0.end': 30})
    assert cfg.param_scheduler[0].end == 30 and not logged  # the user's own end wins, and it is inside the run


def test_step_schedule_warns_about_drops_beyond_the_run(logged):
    cfg = _setup(COCO, {'train_cfg.max_iters': 1000})
    sched = cfg.param_scheduler[0]
    assert sched.type == 'MultiStepLR' and sched.end == 1000
    warnings = [msg for level, msg in logged if level == 30]
    assert len(warnings) == 1 and '[327778, 355092]' in warnings[0] and 'never happen' in warnings[0]


def test_epoch_based_and_unknown_configs_pass_through():
    cfg = Config(dict(train_cfg=dict(max_epochs=3), param_scheduler=dict(type='PolyLR', end=3, by_epoch=True)))
    assert schedule_length.follow_max_iters(cfg, None) is cfg and cfg.param_scheduler.end == 3
    cfg = Config(dict(train_cfg=dict(max_iters=10), param_scheduler=[dict(type='LinearLR', end=50, by_epoch=False)]))
    schedule_length.follow_max_iters(cfg, 100)
    assert cfg.param_scheduler[0].end == 50  # a warm-up that did not end at the old length keeps its end


def test_epoch_based_training_with_the_endless_sampler_is_refused():
    options = {'train_cfg': dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=2)}
    with pytest.raises(ValueError, match='max_epochs=2.*InfiniteSampler.*DefaultSampler'):
        _setup(ADE, options)
    options['train_dataloader.sampler.type'] = 'DefaultSampler'
    assert _setup(ADE, options).train_cfg.max_epochs == 2
