"""The shared backbone: every run gets the same one (the demo OneFormer's ResNet-18 from scratch, or ``--backbone``),
and the modules reading its features (the neck, or the heads where there is none) get its channel counts.

Both backbones are probed (built without weights, one forward on a 128x128 zero image): the recipe's outputs give
the stride and width each consumer expects, the new backbone's stages are picked to give the same strides, and every
``in_channels`` / ``c1_in_channels`` that named a recipe width is rewritten to the new width at that position. What
cannot be matched (a stride the new backbone has no stage for, a width that is not one of the recipe backbone's
outputs) is refused with the key at fault.
"""
import ast
import copy
from typing import Dict, List, Sequence, Tuple

from .common import CompareError

# ResNet flavours whose strides / dilations (the output stride of dilated "D8" recipes) carry over to a ResNet
RESNETS = ('ResNet', 'ResNetV1c', 'ResNetV1d', 'mmdet.ResNet', 'mmseg.ResNet', 'mmpretrain.ResNet')
RESNET_LAYOUT_KEYS = {'mmdet': ('strides', 'dilations'), 'mmseg': ('strides', 'dilations', 'contract_dilation')}
PROBE_SIZE = 128


def demo_backbone(oneformer_cfg, library: str) -> Dict:
    """The demo OneFormer's backbone as ``library`` builds it (type without scope; the stem width written out:
    mmseg's ResNet defaults it to 64 where mmdet's follows ``base_channels``)."""
    bb = copy.deepcopy(dict(oneformer_cfg.model.backbone))
    bb['type'] = bb['type'].split('.')[-1]
    if bb['type'] == 'ResNet':
        bb.setdefault('stem_channels', bb.get('base_channels', 64))
    return bb


def _literal(node):
    """A Python literal where ``dict(key=value, ...)`` calls are allowed too (config style), nested."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'dict' and not node.args:
        return {kw.arg: _literal(kw.value) for kw in node.keywords}
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(v) for v in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    return ast.literal_eval(node)


def parse_backbone(text: str) -> Dict:
    """``--backbone``: a dict literal (``dict(type='ResNet', depth=50, ...)`` or ``{...}``) or an mmpretrain model
    name (its backbone config, ``mmpretrain.`` scope, ImageNet weights of that model as ``init_cfg``)."""
    text = text.strip()
    if text.startswith('dict(') or text.startswith('{'):
        try:
            value = _literal(ast.parse(text, mode='eval').body)
        except (ValueError, SyntaxError) as e:
            raise CompareError(f'--backbone {text!r} is not a dict literal: {e}') from e
        if 'type' not in value:
            raise CompareError(f'--backbone {text!r} has no type')
        return value
    try:
        from mmpretrain.apis import ModelHub
        cfg = ModelHub.get(text)
    except Exception as e:  # noqa: BLE001  (mmpretrain raises ValueError / KeyError for unknown names)
        raise CompareError(f'--backbone {text!r}: neither a dict literal nor an mmpretrain model name ({e})') from e
    bb = copy.deepcopy(dict(cfg.model.backbone))
    bb['type'] = 'mmpretrain.' + bb['type']
    weights = cfg.get('load_from') or getattr(cfg, 'weights', None)
    bb['init_cfg'] = dict(type='Pretrained', checkpoint=weights, prefix='backbone.') if weights else None
    return bb


def probe(bb_cfg: Dict, library: str) -> List[Tuple[int, int]]:
    """(channels, stride) of each output of backbone ``bb_cfg`` built by ``library``'s registry, without weights.

    Raises:
        CompareError: The backbone cannot be built or run.
    """
    import torch
    from mmengine.registry import DefaultScope
    if library == 'mmseg':
        from mmseg.registry import MODELS
    else:
        from mmdet.registry import MODELS
    if bb_cfg['type'].startswith('mmpretrain.'):
        import mmpretrain.models  # noqa: F401  (registers the mmpretrain scope)
    cfg = copy.deepcopy(dict(bb_cfg))
    cfg['init_cfg'] = None
    cfg.pop('pretrained', None)
    try:
        with DefaultScope.overwrite_default_scope(library):
            model = MODELS.build(cfg)
        model.eval()  # not chained: mmdet's ResNet.train() returns None
        with torch.no_grad():
            outs = model(torch.zeros(1, 3, PROBE_SIZE, PROBE_SIZE))
    except Exception as e:  # noqa: BLE001  (any build / forward failure is reported with the config)
        raise CompareError(f'backbone {bb_cfg} cannot be built / run by {library}: {type(e).__name__}: {e}') from e
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    return [(int(o.shape[1]), PROBE_SIZE // int(o.shape[-1])) for o in outs]


def _consumers(model, library: str) -> List[Tuple[str, Dict]]:
    """(key path, config) of the modules reading the backbone's outputs: the neck (its first module), or else the
    heads (mmseg: decode / auxiliary heads and K-Net's kernel-generating head; mmdet: every ``*head``)."""
    neck = model.get('neck')
    if neck:
        return [('model.neck', neck[0] if isinstance(neck, (list, tuple)) else neck)]
    out = []
    for key in model:
        if not key.endswith('head') or not model[key]:
            continue
        heads = model[key] if isinstance(model[key], (list, tuple)) else [model[key]]
        for i, head in enumerate(heads):
            path = f'model.{key}' + (f'[{i}]' if isinstance(model[key], (list, tuple)) else '')
            out.append((path, head))
            if library == 'mmseg' and head.get('kernel_generate_head'):
                out.append((path + '.kernel_generate_head', head['kernel_generate_head']))
    return out


def _match_strides(old: Sequence[Tuple[int, int]], new: Sequence[Tuple[int, int]], what: str) -> List[int]:
    """For each recipe output the index of the new backbone's output of the same stride (in order)."""
    chosen: List[int] = []
    for c, s in old:
        j = next((j for j, (_, s2) in enumerate(new) if s2 == s and j not in chosen and
                  (not chosen or j > chosen[-1])), None)
        if j is None:
            raise CompareError(f'{what}: the recipe backbone gives features at strides {[s for _, s in old]}; the new '
                               f'backbone has strides {[s for _, s in new]} (no stage of stride {s})')
        chosen.append(j)
    return chosen


def swap_backbone(model, library: str, new_backbone: Dict, what: str) -> Dict:
    """Replace ``model.backbone`` (a config dict, edited in place) by ``new_backbone`` and rewrite the input
    widths of the modules reading it.

    Args:
        model: The model config.
        library: ``mmdet`` / ``mmseg`` (whose registry builds the backbones).
        new_backbone: The shared backbone's config.
        what: The run, for error messages.

    Returns:
        dict: ``old`` / ``new`` (channels, stride) per output and the rewritten keys (``changed``).

    Raises:
        CompareError: A stride or width that cannot be matched.
    """
    old_cfg = model.backbone
    old = probe(old_cfg, library)
    new_cfg = copy.deepcopy(dict(new_backbone))
    if old_cfg['type'] in RESNETS and new_cfg['type'] in RESNETS:
        for key in RESNET_LAYOUT_KEYS.get(library, ()):
            if key in old_cfg:
                new_cfg[key] = copy.deepcopy(old_cfg[key])
        new_cfg['out_indices'] = tuple(range(new_cfg.get('num_stages', 4)))
    all_indices = tuple(new_cfg.get('out_indices', ()))
    new_all = probe(new_cfg, library)
    chosen = _match_strides(old, new_all, what)
    if all_indices and len(all_indices) == len(new_all):
        new_cfg['out_indices'] = tuple(all_indices[j] for j in chosen)
    elif len(chosen) != len(new_all):
        raise CompareError(f'{what}: the new backbone {new_cfg["type"]} has no out_indices to pick its stages with')
    widths = {}
    for (c0, _), j in zip(old, chosen):
        c1 = new_all[j][0]
        if widths.get(c0, c1) != c1:
            raise CompareError(f'{what}: the recipe backbone has two outputs of width {c0} mapping to different new '
                               'widths; cannot tell which one a head reads')
        widths[c0] = c1
    changed = []
    for path, cfg in _consumers(model, library):
        for key in ('in_channels', 'c1_in_channels'):
            if key not in cfg:
                continue
            value = cfg[key]
            values = list(value) if isinstance(value, (list, tuple)) else [value]
            missing = [v for v in values if v not in widths]
            if missing:
                raise CompareError(f'{what}: {path}.{key} = {value} is not made of the recipe backbone\'s output '
                                   f'widths {[c for c, _ in old]}; cannot adapt it to the new backbone')
            mapped = [widths[v] for v in values]
            cfg[key] = mapped if isinstance(value, (list, tuple)) else mapped[0]
            if cfg[key] != value:
                changed.append(f'{path}.{key}')
    model.backbone = new_cfg
    return dict(old=old, new=[new_all[j] for j in chosen], changed=changed)
