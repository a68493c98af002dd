"""Compare an exported OneFormer graph with the PyTorch model on images (docs/deployment.md).

    python tools/deployment/verify_onnx.py CONFIG CHECKPOINT MODEL.onnx IMAGES... [--tasks all] [--device cpu]

Each image (a file or every image of a folder) goes through the config's test pipeline and data preprocessor once;
then, per task, prints the largest absolute and relative (to the largest logit) difference of the class and mask
logits between ONNX Runtime and PyTorch, and whether the post-processed outputs are identical (maps pixel for pixel;
instances: labels, masks and boxes equal, scores within --score-atol). The post-processed outputs are those of
``OneFormerInferencer`` with the ``.pth`` and with the ``.onnx`` file and ``task=--tasks``. Exit status 1 if any
post-processed output differs.
"""
import argparse
import copy
import os.path as osp
import sys
from typing import Optional, Sequence

import oneformer  # noqa: F401  (registers the project modules)
from oneformer.apis import OneFormerInferencer
from oneformer.deployment.compare import compare_predictions, logit_diffs
from oneformer.tasks import TASK_CHOICES, TASKS, parse_tasks


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint (.pth) the ONNX file was exported from')
    parser.add_argument('onnx', help='the exported .onnx file')
    parser.add_argument('images', nargs='+', help='image files or folders')
    parser.add_argument('--tasks', choices=TASK_CHOICES, default='all', help='task(s) to compare (default all)')
    parser.add_argument('--device', default='cpu', help='device of the PyTorch model and of the pre/post-processing')
    parser.add_argument('--score-atol', type=float, default=1e-4, help='accepted instance score difference')
    args = parser.parse_args(argv)
    for name in ('config', 'checkpoint', 'onnx'):
        if not osp.isfile(getattr(args, name)):
            parser.error(f'{name} not found: {getattr(args, name)}')
    missing = [p for p in args.images if not osp.exists(p)]
    if missing:
        parser.error(f'images not found: {", ".join(missing)}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    tasks = parse_tasks(args.tasks)
    ref = OneFormerInferencer(args.config, weights=args.checkpoint, device=args.device, task=args.tasks)
    ours = OneFormerInferencer(args.config, weights=args.onnx, device=args.device, task=args.tasks)
    items = [item for path in args.images for item in ref._inputs_to_list(path)]
    report, identical = [], True
    print(f'{"image":24s} {"task":9s} {"class |d| (rel)":>20s} {"mask |d| (rel)":>20s}  post-processed')
    for originals, data in ref.preprocess(items, batch_size=1):
        name = osp.basename(originals[0]['path'] or originals[0]['stem'])
        batch = ref.model.data_preprocessor(copy.deepcopy(data), False)
        diffs = logit_diffs(ref.model, ours.model, batch['inputs'], tasks)
        ref_pred = ref.forward(copy.deepcopy(data))[0]
        onnx_pred = ours.forward(copy.deepcopy(data))[0]
        for task in TASKS:
            if task not in tasks:
                continue
            d = diffs[task]
            same = compare_predictions(ref_pred, onnx_pred, task, score_atol=args.score_atol)
            identical &= same['identical']
            report.append(dict(image=name, task=task, **d, post=same))
            print(f'{name[:24]:24s} {task:9s} {d["cls"]["abs"]:10.2e} ({d["cls"]["rel"]:.1e}) '
                  f'{d["mask"]["abs"]:10.2e} ({d["mask"]["rel"]:.1e})  '
                  f'{"identical" if same["identical"] else "DIFFERENT"}: {same["detail"]}')
    worst = {k: max((r[k]['abs'] for r in report), default=0.0) for k in ('cls', 'mask')}
    print(f'worst |difference|: class logits {worst["cls"]:.2e}, mask logits {worst["mask"]:.2e}; post-processed '
          f'outputs {"identical" if identical else "DIFFER"} over {len(report)} (image, task) pairs')
    if not identical:
        sys.exit(1)
    return dict(rows=report, identical=identical, worst=worst)


if __name__ == '__main__':
    main()
