# Copyright (c) OpenMMLab. All rights reserved.
"""Run OneFormer on an image or on every image of a folder, and save drawings and predictions.

    python demo/image_demo.py INPUT CONFIG --weights CKPT|MODEL.onnx [--task panoptic|instance|semantic|all]
        [--out-dir outputs] [--device cpu] [--batch-size 1] [--pred-score-thr 0.3] [--palette none]
        [--show] [--no-save-vis] [--no-save-pred]

Writes ``OUT_DIR/vis/<image>_<task>.png`` (one drawing per task) and ``OUT_DIR/preds/<image>.json`` with
``<image>_panoptic.png`` (COCO panoptic PNG) / ``<image>_semantic.png`` (class ids); see
``oneformer.apis.OneFormerInferencer``.
"""
import argparse
import os.path as osp
from typing import Optional, Sequence

import oneformer  # noqa: F401  registers the project modules; first, before torch: idle OpenMP threads sleep

# isort: split
import torch

from oneformer.apis import OneFormerInferencer
from oneformer.tasks import TASK_CHOICES


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('inputs', help='an image file or a folder of images')
    parser.add_argument('config', help='model config file')
    parser.add_argument('--weights', default=None, help='checkpoint file (class names are read from its meta), '
                        'or an .onnx file from tools/deployment/pytorch2onnx.py (run by ONNX Runtime)')
    parser.add_argument('--task', choices=TASK_CHOICES, default='panoptic',
                        help="task token to run; 'all' = the three tasks in one backbone pass")
    parser.add_argument('--out-dir', default='outputs', help='output folder (vis/ and preds/)')
    parser.add_argument('--device', default='cuda:0' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--pred-score-thr', type=float, default=0.3, help='minimum score of drawn instances')
    parser.add_argument('--palette', default='none', help="drawing colours: 'none' (from checkpoint/config), "
                        "'random', 'coco', 'citys', 'voc'")
    parser.add_argument('--show', action='store_true', help='show the drawings in a window')
    parser.add_argument('--no-save-vis', action='store_true', help='do not save the drawings')
    parser.add_argument('--no-save-pred', action='store_true', help='do not save the predictions')
    args = parser.parse_args(argv)
    if not osp.exists(args.inputs):
        parser.error(f'input not found: {args.inputs}')
    if not osp.isfile(args.config):
        parser.error(f'config not found: {args.config}')
    if args.weights is not None and not osp.isfile(args.weights) and '://' not in args.weights:
        parser.error(f'checkpoint not found: {args.weights}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    folder = osp.isdir(args.inputs)
    inferencer = OneFormerInferencer(args.config, weights=args.weights, device=args.device, task=args.task,
                                     palette=args.palette, show_progress=folder)  # progress bar on folders
    results = inferencer(args.inputs, batch_size=args.batch_size, out_dir=args.out_dir, show=args.show,
                         no_save_vis=args.no_save_vis, no_save_pred=args.no_save_pred,
                         pred_score_thr=args.pred_score_thr)
    for pred in results['predictions']:
        parts = []
        if 'panoptic' in pred:
            parts.append(f"{len(pred['panoptic']['segments_info'])} panoptic segments")
        if 'instance' in pred:
            parts.append(f"{int((pred['instance']['scores'] > args.pred_score_thr).sum())} instances "
                         f'(score > {args.pred_score_thr})')
        if 'semantic' in pred:
            parts.append(f"{len(set(pred['semantic']['seg'].ravel().tolist()))} semantic classes")
        print(f"{pred.get('img_path', '<array>')}: {', '.join(parts)}")
    saved = [d for d, skip in (('vis', args.no_save_vis), ('preds', args.no_save_pred)) if not skip]
    if saved and args.out_dir:
        print(f'results saved under {osp.abspath(args.out_dir)}/{{{",".join(saved)}}}')
    if results.get('skipped'):
        print(f"{len(results['skipped'])} unreadable file(s) skipped:")
        for path in results['skipped']:
            print(f'  {path}')
    return results


if __name__ == '__main__':
    main()
