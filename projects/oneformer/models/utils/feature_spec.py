"""What a backbone (+ neck) feeds the pixel decoder: channels and strides, found with one dry forward at build time.

OneFormer's pixel decoder (mmdet's ``MSDeformAttnPixelDecoder``) is built from ``in_channels`` (one 1x1 projection
per map) and needs a few maps of increasing stride. Rather than asking users to work out the channels of every
backbone by hand, the model builders (:class:`OneFormer`, :class:`OneFormerEncoderDecoder`) run the built backbone
once on a small blank image and read the channels and strides off the outputs; values given in the config are
checked against them.
"""
import copy
import inspect
import warnings
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
from mmengine.config import ConfigDict
from torch import Tensor, nn

# 224 = 7 * 32 = 16 * 14: strides 4..32 of CNNs and the patch grids of patch-16 and patch-14 ViTs are all exact
PROBE_SIZE = 224
SFP = "neck=dict(type='SimpleFeaturePyramid')"  # ViTDet's pyramid from one map: strides 4, 8, 16, 32


class FeatureSpec(NamedTuple):
    """Channels and strides of the maps a backbone (+ neck) returns, one entry per map."""
    channels: List[int]
    strides: List[int]


def _input_channels(module: nn.Module) -> int:
    """Image channels: those of the first convolution (3 when the module has none)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            return m.in_channels
    return 3


def _outputs(x) -> List[Tensor]:
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, dict):
        return list(x.values())
    return list(x)


def _describe(outs: Sequence[Tensor]) -> str:
    return ', '.join(str(tuple(o.shape)) if isinstance(o, Tensor) else type(o).__name__ for o in outs)


@torch.no_grad()
def dry_forward(modules: Sequence[Optional[nn.Module]], size: int = PROBE_SIZE) -> Tuple[List[Tensor], List[Tensor]]:
    """Run ``modules`` (backbone, then an optional neck) in eval mode on one blank ``size`` x ``size`` image.

    No gradient, no random numbers (a zero image: the global RNG and BN statistics stay untouched) and every
    module's train/eval flag is restored afterwards.

    Returns:
        tuple: the backbone outputs and the outputs of the last module (the same list without a neck).
    """
    modules = [m for m in modules if m is not None]
    flags = [(m, m.training) for mod in modules for m in mod.modules()]
    try:
        for mod in modules:
            mod.eval()
        param = next((p for mod in modules for p in mod.parameters()), None)
        device = param.device if param is not None else torch.device('cpu')
        x = torch.zeros(1, _input_channels(modules[0]), size, size, device=device)
        first = out = modules[0](x)
        for mod in modules[1:]:
            out = mod(out)
    finally:
        for m, flag in flags:
            m.training = flag
    return _outputs(first), _outputs(out)


def feature_spec(outs: Sequence[Tensor], size: int = PROBE_SIZE, what: str = 'the backbone',
                 min_maps: int = 3) -> FeatureSpec:
    """Channels and strides of ``outs`` (the outputs of a dry forward at ``size``), checked for the pixel decoder.

    Raises:
        ValueError: naming what was returned and what is needed, when the outputs are not 2-D feature maps
            (e.g. ViT tokens), fewer than ``min_maps``, of a non-integer stride, or not of increasing stride.
    """
    shapes = _describe(outs)
    if not all(isinstance(o, Tensor) for o in outs):
        raise ValueError(f'{what} returned {shapes}; the pixel decoder needs a tuple of (B, C, H, W) tensors')
    if any(o.dim() != 4 for o in outs):
        kind = ('3-D token tensors (B, N, C)' if any(o.dim() == 3 for o in outs) else
                'pooled vectors (B, C)' if any(o.dim() == 2 for o in outs) else 'non-4-D tensors')
        raise ValueError(f'{what} returned {kind} {shapes} for a {size}x{size} image; the pixel decoder needs '
                         f'at least {min_maps} 2-D feature maps (B, C, H, W) of increasing stride (e.g. 4, 8, 16, '
                         f"32): set out_type='featmap' on the backbone (mmpretrain ViTs) and add {SFP}")
    channels = [int(o.shape[1]) for o in outs]
    strides = []
    for o in outs:
        h, w = o.shape[-2:]
        if size % h or size % w or size // h != size // w:
            raise ValueError(f'{what} returned maps {shapes} for a {size}x{size} image: {size}/{h} is not an '
                             'integer stride; the pixel decoder needs maps at integer strides (a patch-14 ViT: '
                             f'add {SFP}, which resamples its grid to stride 16)')
        strides.append(size // h)
    if len(outs) < min_maps:
        raise ValueError(f'{what} returned {len(outs)} feature map(s) {shapes} (strides {strides}) for a '
                         f'{size}x{size} image; the pixel decoder needs at least {min_maps} maps of increasing '
                         f'stride (e.g. 4, 8, 16, 32): ' + (f'add {SFP} (plain ViTs)' if len(outs) == 1 else
                                                            'return more stages (out_indices=(0, 1, 2, 3))'))
    if any(b <= a for a, b in zip(strides, strides[1:])):
        raise ValueError(f'{what} returned maps of strides {strides} (shapes {shapes}); the pixel decoder needs '
                         'strictly increasing strides, highest resolution first (e.g. 4, 8, 16, 32): pick '
                         f'out_indices of distinct stages, or for a plain ViT add {SFP}')
    return FeatureSpec(channels, strides)


def check_or_fill(cfg: ConfigDict, spec: FeatureSpec, where: str) -> ConfigDict:
    """A copy of head config ``cfg`` with ``in_channels`` / ``strides`` filled from ``spec`` where left out
    (None), and checked against it where given.

    Raises:
        ValueError: naming the key, both values and what to change on a mismatch.
    """
    cfg = ConfigDict(copy.deepcopy(cfg))
    for key, found in zip(('in_channels', 'strides'), spec):
        given = cfg.get(key)
        if given is None:
            cfg[key] = list(found)
        elif list(given) != list(found):
            raise ValueError(f'{where}.{key}={list(given)} but the backbone (+ neck) returns maps with {key} '
                             f'{list(found)}; set {where}.{key}={list(found)}, or leave it out (None): it is '
                             'found from the backbone')
    return cfg


def fill_neck(cfg: ConfigDict, outs: Sequence[Tensor], size: int, registry) -> ConfigDict:
    """A copy of neck config ``cfg`` with the backbone-dependent arguments it leaves out filled from the backbone's
    dry-forward outputs ``outs``: ``in_channels`` (a list, one per map) and, for necks that take it,
    ``backbone_stride`` (the stride of the last map, e.g. 14 for a patch-14 ViT)."""
    cfg = ConfigDict(copy.deepcopy(cfg))
    neck_cls = registry.get(cfg['type']) if isinstance(cfg['type'], str) else cfg['type']
    params = inspect.signature(neck_cls.__init__).parameters if neck_cls is not None else {}
    maps = [o for o in outs if isinstance(o, Tensor) and o.dim() == 4]
    if 'in_channels' in params and cfg.get('in_channels') is None and maps:
        cfg['in_channels'] = [int(o.shape[1]) for o in maps]
    if 'backbone_stride' in params and cfg.get('backbone_stride') is None and maps:
        h, w = maps[-1].shape[-2:]
        if size % h or size % w:
            raise ValueError(f'the backbone returned maps {_describe(outs)} for a {size}x{size} image: no integer '
                             f'stride; set neck.backbone_stride (the patch size)')
        cfg['backbone_stride'] = size // h
    return cfg


def resolve_head_inputs(head_cfg: ConfigDict, backbone: nn.Module, neck: Optional[nn.Module], where: str,
                        size: int = PROBE_SIZE) -> ConfigDict:
    """``head_cfg`` with ``in_channels`` / ``strides`` found from (or checked against) ``backbone`` and ``neck``
    with one dry forward (see :func:`dry_forward`, :func:`feature_spec`), or, without a neck, from the backbone's
    ``output_spec()`` where it declares its exact outputs (our DiNAT: a dry forward of large dilations is costly)."""
    if neck is None and callable(getattr(backbone, 'output_spec', None)):
        channels, strides = backbone.output_spec()
        return check_or_fill(head_cfg, FeatureSpec(list(channels), list(strides)), where)
    try:
        _, outs = dry_forward([backbone, neck], size)
    except Exception as err:  # a backbone that cannot run at the probe size: only given values can be used
        if head_cfg.get('in_channels') is None or head_cfg.get('strides') is None:
            raise RuntimeError(f'{where}.in_channels / strides are left out, so they are found with a dry forward '
                               f'of the backbone on a {size}x{size} image, which failed ({err!r}); give both in '
                               'the config') from err
        warnings.warn(f'{where}.in_channels / strides could not be checked against the backbone: its dry forward '
                      f'on a {size}x{size} image failed ({err!r}); using the values of the config')
        return head_cfg
    what = 'the backbone + neck' if neck is not None else 'the backbone'
    return check_or_fill(head_cfg, feature_spec(outs, size, what, min_levels(head_cfg)), where)


def min_levels(head_cfg: ConfigDict) -> int:
    """Maps the pixel decoder needs: its deformable encoder's levels (3 in every OneFormer config)."""
    try:
        return int(head_cfg['pixel_decoder']['encoder']['layer_cfg']['self_attn_cfg']['num_levels'])
    except (KeyError, TypeError):
        return 3


def fill_head_inputs(model_cfg: ConfigDict, head_key: str = 'panoptic_head', registry=None) -> ConfigDict:
    """A copy of a model config whose ``head_key`` has its ``in_channels`` / ``strides`` filled (or checked) from
    its built backbone and neck: for heads built by models that cannot find them themselves (e.g. mmdet's
    Mask2Former peers of the benchmarks, built from a OneFormer config)."""
    if registry is None:
        from mmdet.registry import MODELS as registry
    cfg = ConfigDict(copy.deepcopy(model_cfg))
    backbone = registry.build(cfg.backbone)
    neck = None
    if cfg.get('neck') is not None:
        outs, _ = dry_forward([backbone])
        cfg.neck = fill_neck(cfg.neck, outs, PROBE_SIZE, registry)
        neck = registry.build(cfg.neck)
    cfg[head_key] = resolve_head_inputs(cfg[head_key], backbone, neck, f'model.{head_key}')
    return cfg
