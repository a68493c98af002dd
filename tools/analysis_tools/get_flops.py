# Copyright (c) OpenMMLab. All rights reserved.
"""FLOPs and parameters of a OneFormer model, per task and for the three-task pass (mmdet's ``get_flops.py``).

    python tools/analysis_tools/get_flops.py CONFIG [--num-images 100] [--shape H W] [--task all|panoptic|...]
        [--cfg-options k=v ...]

As mmdet's tool: images from the config's test dataloader (``--num-images``, FLOPs averaged over them) through the
model's data preprocessor, or a random image of ``--shape H W`` (a model-only config, e.g. a converted one, has no
dataset); mmengine's ``FlopAnalyzer`` counts the network from the normalised, padded batch to the class and mask
logits, without pre- and post-processing (a multiply-add is one FLOP; ops it has no handle for, such as the
deformable attention's ``grid_sample``, are listed and not counted). mmdet's own tool cannot run OneFormer: its
forward needs the task of each image, which a test sample does not carry.

One row per task token (``panoptic``, ``instance``, ``semantic``: backbone + pixel decoder + the task-conditioned
decoder) and, for ``--task all`` (the default), the three-task pass that evaluation runs (backbone and pixel decoder
once, the decoder once per task). The model is counted in its plain formulation (the memory-efficient attention
and the CPU gather deformable attention switched to the stock ops they equal) so that the numbers count the
model's arithmetic, not the implementation's shortcuts. Parameters exclude the training-only text mapper.
"""
import argparse
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config, DictAction

TASKS = ('panoptic', 'instance', 'semantic')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='FLOPs of a OneFormer model per task and for the three-task pass')
    parser.add_argument('config', help='config file')
    parser.add_argument('--num-images', type=int, default=100, help='test images to average over (mmdet default)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'), default=None,
                        help='count on one random H x W image instead of the test images (no dataset needed)')
    parser.add_argument('--task', choices=TASKS + ('all', ), default='all',
                        help="one task token, or 'all': each task and the three-task pass")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args(argv)
    if args.num_images < 1:
        parser.error(f'--num-images must be >= 1, got {args.num_images}')
    if args.shape is not None and min(args.shape) < 1:
        parser.error(f'--shape must be positive, got {args.shape}')
    return args


class TaskPass(nn.Module):
    """The network of a OneFormer detector as a tensor function for the FLOP counter: backbone + pixel decoder
    once, then the decoder once per task of ``tasks`` (final class logits and 1/4-scale mask logits)."""

    def __init__(self, detector: nn.Module, tasks: Sequence[str]) -> None:
        super().__init__()
        self.detector = detector
        self.tasks = tuple(tasks)

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        feats = self.detector.extract_pixel_feats(inputs)
        outs = []
        for task in self.tasks:
            outs.extend(self.detector.panoptic_head.predict_by_pixel_feats(feats, [task] * inputs.shape[0]))
        return tuple(outs)


def inference_params(model: nn.Module) -> int:
    """Parameters inference uses (the text mapper only serves the training loss)."""
    text = getattr(getattr(model, 'panoptic_head', None), 'text_mapper', None)
    return sum(p.numel() for p in model.parameters()) - (sum(p.numel() for p in text.parameters()) if text else 0)


def count(model: nn.Module, inputs: torch.Tensor, tasks: Sequence[str]) -> Tuple[int, Dict[str, int]]:
    """(FLOPs, {op: count of uncounted calls}) of :class:`TaskPass` on one preprocessed batch."""
    from mmengine.analysis import FlopAnalyzer

    from oneformer.models import reference_formulation
    with torch.no_grad(), reference_formulation(model):
        analyzer = FlopAnalyzer(TaskPass(model, tasks).eval(), (inputs, ))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        return int(analyzer.total()), dict(analyzer.unsupported_ops())


def batches(cfg: Config, model: nn.Module, args) -> List[torch.Tensor]:
    """Preprocessed input batches (one image each): the test images, or one random image of ``--shape``."""
    if args.shape is not None:
        from mmdet.structures import DetDataSample
        h, w = args.shape
        img = torch.randint(0, 256, (3, h, w), dtype=torch.uint8)
        meta = dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1., 1.))
        return [model.data_preprocessor(dict(inputs=[img], data_samples=[DetDataSample(metainfo=meta)]),
                                        False)['inputs']]
    if cfg.get('test_dataloader', None) is None:
        raise SystemExit(f'{args.config} has no test_dataloader (a model-only config): give --shape H W')
    from mmengine.runner import Runner
    loader_cfg = cfg.test_dataloader.copy()
    loader_cfg.update(batch_size=1, num_workers=0, persistent_workers=False)
    loader = Runner.build_dataloader(loader_cfg)
    out = []
    for data in loader:
        out.append(model.data_preprocessor(data, False)['inputs'])
        if len(out) >= args.num_images:
            break
    if not out:
        raise SystemExit(f'the test dataset of {args.config} has no images')
    return out


def _fmt(value: float, unit: str = '') -> str:
    for scale, suffix in ((1e12, 'T'), (1e9, 'G'), (1e6, 'M'), (1e3, 'K')):
        if abs(value) >= scale:
            return f'{value / scale:.3f}{suffix}{unit}'
    return f'{value:.0f}{unit}'


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    args = parse_args(argv)
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    import oneformer  # noqa: F401  (registers the project's modules)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.default_scope = cfg.get('default_scope', None) or 'mmdet'
    from mmengine.registry import init_default_scope
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model).eval()
    for name in ('extract_pixel_feats', 'panoptic_head'):
        if not hasattr(model, name):
            raise SystemExit(f'{args.config}: {type(model).__name__} is not a OneFormer detector (no {name}); this '
                             'tool counts mmdet-style OneFormer models')
    runs = [(t, (t, )) for t in (TASKS if args.task == 'all' else (args.task, ))]
    if args.task == 'all':
        runs.append(('all (one pass)', TASKS))
    inputs = batches(cfg, model, args)
    results, shapes, skipped = {}, set(), {}
    for name, tasks in runs:
        total = 0
        for x in inputs:
            flops, unsupported = count(model, x, tasks)
            total += flops
            shapes.add(tuple(x.shape[-2:]))
            for op, n in unsupported.items():
                skipped[op] = max(skipped.get(op, 0), n)
        results[name] = total / len(inputs)
    params = inference_params(model)
    split = '=' * 40
    source = (f'random image {args.shape[0]}x{args.shape[1]}' if args.shape else
              f'{len(inputs)} test image(s), padded input sizes {sorted(shapes)}')
    print(f'{split}\nCompute type: {source}\nParams (inference, no text mapper): {_fmt(params)}')
    for name, flops in results.items():
        print(f'Flops [{name}]: {_fmt(flops)}')
    if skipped:
        print('Not counted (no FLOP handle): ' + ', '.join(f'{op} x{n}' for op, n in sorted(skipped.items())))
    print(f'{split}\n!!!Please be cautious if you use the results in papers. You may need to check if all ops are '
          'supported and verify that the flops computation is correct.')
    sys.stdout.flush()
    return dict(params=params, **{f'flops_{k}': v for k, v in results.items()})


if __name__ == '__main__':
    main()
