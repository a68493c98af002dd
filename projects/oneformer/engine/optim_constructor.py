"""Optimizer wrapper constructor with the official OneFormer weight-decay rules on top of mmengine's."""
import logging
from collections import OrderedDict
from typing import List, Optional

from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.logging import MMLogger, print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.utils.dl_utils.parrots_wrapper import _BatchNorm, _InstanceNorm
from torch import nn

# the norm types mmengine's constructor recognises (LayerNorm covers mmpretrain's LayerNorm2d)
NORM_TYPES = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)
#: how mmengine's DefaultOptimWrapperConstructor starts its one-line-per-parameter-and-key INFO messages
PARAMWISE_PREFIX = 'paramwise_options -- '


class _DemoteParamwiseLines(logging.Filter):
    """Turn mmengine's per-parameter ``paramwise_options`` INFO lines (~320 for OneFormer) into DEBUG lines
    (MMLogger's handlers, at ``log_level``, then keep them only with ``log_level='DEBUG'``);
    :func:`summarize_param_groups` says the same in a few lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and str(record.msg).startswith(PARAMWISE_PREFIX):
            record.levelno, record.levelname = logging.DEBUG, 'DEBUG'
        return True


def summarize_param_groups(groups: List[dict], module: nn.Module, base_lr: float,
                           base_wd: Optional[float]) -> List[str]:
    """One line per distinct (lr, weight decay) of the parameter groups: how many tensors / values, and the
    top-level modules they are in (e.g. ``lr=1e-05 weight_decay=0.05: 161 tensors (22.4M values) in backbone``)."""
    names = {id(p): n for n, p in module.named_parameters()}
    settings = OrderedDict()
    for group in groups:
        key = (group.get('lr', base_lr), group.get('weight_decay', base_wd))
        entry = settings.setdefault(key, [0, 0, []])
        for param in group['params']:
            entry[0] += 1
            entry[1] += param.numel()
            top = '.'.join(names.get(id(param), '?').split('.')[:2])
            if top not in entry[2]:
                entry[2].append(top)
    lines = []
    for (lr, wd), (tensors, values, tops) in settings.items():
        where = ', '.join(tops[:4]) + (f' and {len(tops) - 4} more' if len(tops) > 4 else '')
        lines.append(f'lr={lr:g} weight_decay={wd if wd is None else f"{wd:g}"}: {tensors} tensors '
                     f'({values / 1e6:.2f}M values) in {where}')
    return lines


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class OneFormerOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` whose norm / embedding decay rules also hold for ``custom_keys`` params.

    In mmengine, a parameter whose name matches a ``custom_keys`` entry (e.g. ``'backbone'`` with
    ``lr_mult=0.1``) skips every other rule, so the LayerNorms inside a Swin / ConvNeXt backbone keep the full
    weight decay. detectron2's ``build_optimizer`` (used by the official OneFormer) applies the name rules first
    and then sets the decay of every norm layer to ``WEIGHT_DECAY_NORM`` and of every ``nn.Embedding`` to
    ``WEIGHT_DECAY_EMBED``. This constructor does the same: the parent builds the groups as usual, then

    - parameters of norm layers get ``weight_decay = base_wd * norm_decay_mult`` (if ``norm_decay_mult`` is set),
    - parameters of ``nn.Embedding`` get ``weight_decay = base_wd * embed_decay_mult`` (if set),

    keeping the learning rate from ``custom_keys``. ``embed_decay_mult`` is the one extra ``paramwise_cfg`` key.

    mmengine logs one INFO line per parameter and setting (~320 lines at every OneFormer training start); here
    they are DEBUG lines, and a few INFO lines summarise the groups (:func:`summarize_param_groups`).

    Non-finite gradients are the wrapper's business: ``type='FiniteGradOptimWrapper'`` (see
    :mod:`.optim_wrappers`).

    Args:
        optim_wrapper_cfg (dict): The optim wrapper config (``optimizer``, ``clip_grad``, ...).
        paramwise_cfg (dict, optional): mmengine's paramwise options plus ``embed_decay_mult``.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        if 'grad_nan_to_num' in optim_wrapper_cfg:
            raise KeyError("optim_wrapper.grad_nan_to_num was replaced by the wrapper type: use "
                           "optim_wrapper=dict(type='FiniteGradOptimWrapper', ...) and remove grad_nan_to_num")
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        if 'embed_decay_mult' in self.paramwise_cfg and self.base_wd is None:
            raise ValueError('paramwise_cfg.embed_decay_mult needs optimizer.weight_decay (base_wd) to be set')
        self._in_add_params = False

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '', is_dcn_module=None) -> None:
        # the parent recurses through self.add_params: only the outermost call post-processes the groups
        if self._in_add_params:
            return super().add_params(params, module, prefix, is_dcn_module)
        self._in_add_params = True
        logger = MMLogger.get_current_instance()
        demote = _DemoteParamwiseLines()
        logger.addFilter(demote)
        try:
            start = len(params)
            super().add_params(params, module, prefix, is_dcn_module)
        finally:
            self._in_add_params = False
            logger.removeFilter(demote)
        self._apply_type_decay(params[start:], module, prefix)
        lines = summarize_param_groups(params[start:], module, self.base_lr, self.base_wd)
        print_log('parameter groups (paramwise_cfg; per parameter with log_level=\'DEBUG\'):\n  ' + '\n  '.join(lines),
                  logger='current')

    def _apply_type_decay(self, groups: List[dict], module: nn.Module, prefix: str) -> None:
        norm_mult = self.paramwise_cfg.get('norm_decay_mult', None)
        embed_mult = self.paramwise_cfg.get('embed_decay_mult', None)
        if self.base_wd is None or (norm_mult is None and embed_mult is None):
            return
        group_of = {id(p): g for g in groups for p in g['params']}
        for mod_name, mod in module.named_modules(prefix=prefix):
            if isinstance(mod, NORM_TYPES):
                mult = norm_mult
            elif isinstance(mod, nn.Embedding):
                mult = embed_mult
            else:
                continue
            if mult is None:
                continue
            for name, param in mod.named_parameters(recurse=False):
                group = group_of.get(id(param))
                if group is None:  # frozen or shared (bypass_duplicate) parameter
                    continue
                group['weight_decay'] = self.base_wd * mult
                print_log(f'paramwise_options -- {mod_name}.{name}:weight_decay={group["weight_decay"]} '
                          f'({type(mod).__name__})', logger='current', level=logging.DEBUG)
