"""A tiny end-to-end training set-up (like ``mmdet.testing``): the synthetic panoptic data and the tiny model."""
from mmengine.config import Config

from ._configs import config_path, tiny_model_cfg

#: image size of the synthetic data the tiny runs train on
SYNTHETIC_RUNNER_SIZE = 64


def synthetic_runner_cfg(data_root: str, work_dir: str, max_iters: int, model=None, ckpt_interval: int = 0,
                         schedule_iters: int = None, log_interval: int = 1, num_workers: int = 0) -> Config:
    """Runner config: synthetic_panoptic.py at ``SYNTHETIC_RUNNER_SIZE`` px (batch 2), the tiny model, AdamW +
    PolyLR over ``schedule_iters`` (default ``max_iters``), no validation, checkpoints every ``ckpt_interval``
    (0: none)."""
    base = Config.fromfile(config_path('configs/_base_/datasets/synthetic_panoptic.py'))
    loader = base.train_dataloader
    loader.dataset.data_root = data_root.rstrip('/') + '/'
    loader.batch_size, loader.num_workers, loader.persistent_workers = 2, num_workers, num_workers > 0
    for t in loader.dataset.pipeline:
        for key in ('scale', 'crop_size'):
            if key in t:
                t[key] = (SYNTHETIC_RUNNER_SIZE, SYNTHETIC_RUNNER_SIZE)
    schedule_iters = schedule_iters or max_iters
    hooks = dict(logger=dict(type='LoggerHook', interval=log_interval),
                 checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=ckpt_interval or max_iters + 1,
                                 save_last=bool(ckpt_interval)))
    return Config(dict(
        model=model or tiny_model_cfg(), work_dir=work_dir, default_scope='mmdet', randomness=dict(seed=0),
        train_dataloader=loader, train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10**6),
        optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3), clip_grad=dict(max_norm=1.0)),
        param_scheduler=[dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=schedule_iters, by_epoch=False)],
        default_hooks=hooks, log_processor=dict(type='LogProcessor', window_size=1, by_epoch=False),
        log_level='WARNING'))
