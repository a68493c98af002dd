"""``--cfg-options train_cfg.max_iters=N``: the learning-rate schedule follows the new length.

A recipe writes its length once (``max_iters``) and its parameter schedulers end there (``PolyLR(end=max_iters)``),
but mmengine evaluates that expression when the config file is read: a later ``train_cfg.max_iters`` override
leaves the schedulers at the old end, so a short run would stop with the learning rate still near its start.
"""
import logging
from typing import Iterable, List, Optional

from mmengine.config import Config
from mmengine.logging import print_log


def _schedulers(cfg: Config) -> List:
    schedulers = cfg.get('param_scheduler', None)
    if schedulers is None:
        return []
    return list(schedulers) if isinstance(schedulers, (list, tuple)) else [schedulers]


def _iteration_based(cfg: Config) -> bool:
    loop = cfg.get('train_cfg', None) or {}
    return 'max_iters' in loop and 'max_epochs' not in loop


def max_iters_of(cfg: Config) -> Optional[int]:
    """``train_cfg.max_iters`` of an iteration-based config, else None."""
    return cfg.train_cfg.max_iters if _iteration_based(cfg) else None


def follow_max_iters(cfg: Config, before: Optional[int], options: Iterable[str] = ()) -> Config:
    """Make the iteration-based schedulers of ``cfg`` follow a changed ``train_cfg.max_iters``.

    Every scheduler that ended at the old length (``end == before``, counted in iterations) ends at the new one,
    unless ``options`` (the ``--cfg-options`` keys) set ``param_scheduler`` themselves. Milestones and ends that
    now lie beyond the run (a step schedule's drops) are reported with a warning: they never happen.

    Args:
        cfg (Config): the config after the overrides.
        before (int, optional): ``train_cfg.max_iters`` before the overrides (None: not iteration based).
        options (Iterable[str]): keys the user overrode.

    Returns:
        Config: ``cfg``, edited in place.
    """
    after = max_iters_of(cfg)
    if before is None or after is None or before == after:
        return cfg
    user_set = any(key == 'param_scheduler' or key.startswith('param_scheduler.') for key in options)
    for i, sched in enumerate(_schedulers(cfg)):
        if not isinstance(sched, dict) or sched.get('by_epoch', True) is not False:
            continue  # epoch-counted schedulers are not measured in iterations
        name = f'param_scheduler[{i}] ({sched.get("type")})'
        if sched.get('end') == before and not user_set:
            sched['end'] = after
            print_log(f'train_cfg.max_iters {before} -> {after}: {name} now ends at {after} (it ended at the old '
                      'max_iters)', logger='current', level=logging.INFO)
        late = [m for m in sched.get('milestones', ()) if m >= after]
        if late:
            print_log(f'train_cfg.max_iters={after}: {name} milestones {late} lie beyond the run and never '
                      'happen; set them with --cfg-options param_scheduler... if the short run should decay',
                      logger='current', level=logging.WARNING)
        if sched.get('end', after) > after:
            print_log(f'train_cfg.max_iters={after}: {name} ends at {sched["end"]}, after the run; the schedule '
                      'is cut short', logger='current', level=logging.WARNING)
    return cfg


def check_sampler_fits_loop(cfg: Config) -> Config:
    """The shipped dataset bases sample endlessly (``InfiniteSampler``, for iteration-based schedules); with an
    epoch-based ``train_cfg`` an epoch would never end.

    Raises:
        ValueError: naming both keys, for ``max_epochs`` with an ``InfiniteSampler``.
    """
    loop = cfg.get('train_cfg', None) or {}
    sampler = ((cfg.get('train_dataloader', None) or {}).get('sampler', None) or {}).get('type', '')
    if 'max_epochs' in loop and str(sampler).rsplit('.', 1)[-1] == 'InfiniteSampler':
        raise ValueError(f'train_cfg is epoch based (max_epochs={loop["max_epochs"]}) but train_dataloader.sampler '
                         "is InfiniteSampler: the first epoch would never end. Set train_dataloader.sampler="
                         "dict(type='DefaultSampler', shuffle=True) or train by iterations (IterBasedTrainLoop)")
    return cfg
