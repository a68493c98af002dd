"""Parameter counts of OneFormer configs, built without pretrained weights (nothing is downloaded).

Prints one markdown row per config: the backbone, the pixel decoder + transformer decoder + task MLP ("head"), the
training-only text mapper (text encoder, projector, prompt context) and two totals. The official README's
"#params" counts the model the official code builds for inference (``MODEL.IS_TRAIN False``: no text mapper), which
is the ``inference`` column here; ``training`` adds the text mapper. Example::

    python tools/analysis_tools/count_params.py configs/oneformer/oneformer_dinat-l-k11-384-in21k_*.py

Building a large model takes a few seconds and ~1 GB of memory on CPU; models are built one at a time.
"""
import argparse
import gc
import os.path as osp
import sys
from typing import Dict, List, Optional

from mmengine.config import Config, DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Count the parameters of OneFormer configs')
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override settings of every config (key=value, as in tools/train.py)')
    parser.add_argument('--unit', choices=['M', 'exact'], default='M',
                        help='millions with two decimals (default) or exact integers')
    return parser.parse_args(argv)


def _no_pretrained(cfg: dict) -> None:
    """Drop every ``init_cfg`` of type Pretrained (backbone ImageNet weights) in a model config, in place."""
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for value in cfg.values():
            _no_pretrained(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _no_pretrained(value)


def count_model_params(cfg: Config) -> Dict[str, int]:
    """Build ``cfg.model`` on CPU without pretrained weights and count its parameters by part.

    Returns:
        dict: ``backbone``, ``head`` (everything but the backbone and the text mapper), ``text_mapper``,
        ``inference`` (backbone + head) and ``training`` (all parameters).
    """
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings

    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model_cfg = cfg.model.copy()
    _no_pretrained(model_cfg)
    model = MODELS.build(model_cfg)
    parts = dict(backbone=0, head=0, text_mapper=0)
    for name, param in model.named_parameters():
        if name.startswith('backbone.'):
            parts['backbone'] += param.numel()
        elif '.text_mapper.' in f'.{name}':
            parts['text_mapper'] += param.numel()
        else:
            parts['head'] += param.numel()
    parts['inference'] = parts['backbone'] + parts['head']
    parts['training'] = parts['inference'] + parts['text_mapper']
    del model
    gc.collect()
    return parts


def _fmt(n: int, unit: str) -> str:
    return f'{n / 1e6:.2f}M' if unit == 'M' else str(n)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    print('| config | backbone | head | text mapper | inference | training |')
    print('|---|---|---|---|---|---|')
    for path in args.configs:
        if not osp.isfile(path):
            print(f'{path}: no such config file', file=sys.stderr)
            return 1
        cfg = Config.fromfile(path)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        counts = count_model_params(cfg)
        cols = [_fmt(counts[k], args.unit) for k in ('backbone', 'head', 'text_mapper', 'inference', 'training')]
        name = osp.splitext(osp.basename(path))[0]
        print(f'| {name} | ' + ' | '.join(cols) + ' |', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
