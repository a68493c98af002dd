"""Layer-wise learning-rate decay for ViT backbones, on top of the project's optimizer constructor."""
import logging
from typing import List, Optional

from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.logging import print_log
from torch import nn

from .optim_constructor import OneFormerOptimWrapperConstructor


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(OneFormerOptimWrapperConstructor):
    """:class:`OneFormerOptimWrapperConstructor` plus layer-wise learning-rate decay of the backbone (BEiT, MAE,
    ViTDet, EVA fine-tuning recipes): a backbone parameter at depth ``d`` of ``n`` gets its learning rate (after
    ``custom_keys`` such as ``backbone: lr_mult=0.1``) multiplied by ``layer_decay_rate ** (n - 1 - d)``.

    Depths come from the backbone's ``get_layer_depth(name, prefix)`` (mmpretrain's ``VisionTransformer`` and its
    subclasses such as ``ViTEVA02``, ``ViTSAM``, ``BEiTViT``, ``HiViT``, ``SwinTransformer``, ``ConvNeXt``,
    ``ResNet``): patch embedding and position embedding 0, block ``i`` at ``i + 1``, the rest ``n - 1``.
    mmpretrain's own ``LearningRateDecayOptimWrapperConstructor`` asks the whole model for ``get_layer_depth`` and
    ignores ``lr_mult``; mmdet's ``LayerDecayOptimizerConstructor`` knows ConvNeXt names only. Everything else
    (norm / embedding decay rules, custom keys, the head) is the parent's.

    ``paramwise_cfg`` keys added: ``layer_decay_rate`` (float, required, in (0, 1]).

    Example::

        optim_wrapper = dict(constructor='LayerDecayOptimWrapperConstructor',
                             paramwise_cfg=dict(layer_decay_rate=0.7, norm_decay_mult=0.0,
                                                custom_keys={'backbone': dict(lr_mult=1.0)}))
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        self.layer_decay_rate = paramwise_cfg.pop('layer_decay_rate', None)
        if self.layer_decay_rate is None or not 0 < float(self.layer_decay_rate) <= 1:
            raise ValueError('LayerDecayOptimWrapperConstructor needs paramwise_cfg.layer_decay_rate in (0, 1], got '
                             f'{self.layer_decay_rate!r}')
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '', is_dcn_module=None) -> None:
        outermost = not self._in_add_params
        start = len(params)
        super().add_params(params, module, prefix, is_dcn_module)
        if outermost:
            self._apply_layer_decay(params[start:], module, prefix)

    def _apply_layer_decay(self, groups: List[dict], model: nn.Module, prefix: str) -> None:
        backbone = getattr(model, 'backbone', None)
        if backbone is None:
            raise TypeError(f'layer_decay_rate needs a model with a .backbone; {type(model).__name__} has none')
        depth_of = getattr(backbone, 'get_layer_depth', None)
        if depth_of is None:
            raise TypeError(f'layer_decay_rate needs the backbone to tell the depth of its parameters; '
                            f'{type(backbone).__name__} has no get_layer_depth(name, prefix) (mmpretrain ViTs, Swin, '
                            'ConvNeXt, ResNet have it): drop layer_decay_rate or use a backbone that has it')
        group_of = {id(p): g for g in groups for p in g['params']}
        rate = float(self.layer_decay_rate)
        for name, param in backbone.named_parameters():
            group = group_of.get(id(param))
            if group is None:  # frozen
                continue
            depth, num = depth_of(name)
            scale = rate**(num - 1 - depth)
            group['lr'] = group.get('lr', self.base_lr) * scale
            print_log(f'layer decay -- {prefix}backbone.{name}: depth {depth}/{num}, lr={group["lr"]:.3g}',
                      logger='current', level=logging.DEBUG)
