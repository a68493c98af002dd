# Copyright (c) OpenMMLab. All rights reserved.
"""Check a config's dataset before training on it: every image decodes, every annotation matches, classes fit.

    python tools/misc/check_dataset.py CONFIG [--split train|val|test] [--limit N] [--cfg-options k=v ...]

For every image of the split's dataset (``{split}_dataloader.dataset``):

- the image file exists and decodes, with the height / width the annotation gives;
- panoptic annotations (COCO-panoptic PNG + ``segments_info``): every PNG id is listed and every listed segment is
  drawn (the check training and evaluation apply), categories are in range, the PNG has the image's size;
- semantic label maps: single-channel, labels in ``[0, num_classes)`` after ``reduce_zero_label`` (taken from the
  pipeline), the image's size;
- instance annotations: labels in range;
- with ``--split val|test``: the ground-truth PNG each panoptic metric of ``{split}_evaluator`` will read (its
  ``seg_prefix`` + the ``file_name`` of its ``ann_file``, :meth:`OneFormerPanopticMetric.gt_png_name`) is the PNG the
  dataset reads and checked above, so evaluation at the end of training reads what was checked.

First it prints the classes the dataset uses, and reports a top-level ``metainfo`` of the config that the dataset
does not use (one assigned after a ``_base_`` defined the datasets). Then the model's class counts
(``model.panoptic_head`` / ``panoptic_fusion_head``) are compared with the dataset's ``metainfo``. Prints a progress
bar and a summary; exits with status 1 listing the problems if there are any.
"""
import argparse
import os.path as osp
import sys
from collections import Counter
from typing import List, Optional, Sequence, Tuple

import mmcv
from mmdet.registry import DATASETS, METRICS
from mmengine.config import Config, DictAction
from mmengine.fileio import get
from mmengine.registry import init_default_scope
from rich.progress import track

import oneformer  # noqa: F401  (registers the project modules)
from oneformer.datasets import LoadPanopticSegments, LoadSemSegMap
from oneformer.engine.dataset_classes import describe_classes, unapplied_metainfo_problems
from oneformer.engine.hooks import class_count_problems, config_class_counts

#: pipeline transforms whose ``reduce_zero_label`` applies to semantic label maps
_SEM_LOADERS = ('LoadSemSegAsSegments', 'LoadSemSegMap', 'LoadAnnotations')
Problem = Tuple[str, str]  # (kind, message)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file (the dataset of --split and the model are checked)')
    parser.add_argument('--split', choices=['train', 'val', 'test'], default='train', help='which dataloader')
    parser.add_argument('--limit', type=int, default=None, help='check only the first N images')
    parser.add_argument('--max-listed', type=int, default=50, help='problems listed in full (default 50)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, xxx=yyy format (as tools/train.py)')
    return parser.parse_args(argv)


def _base_datasets(dataset) -> list:
    """The datasets holding the annotations (``ConcatDataset`` / ``RepeatDataset``-like wrappers unwrapped)."""
    if hasattr(dataset, 'datasets'):
        return [d for sub in dataset.datasets for d in _base_datasets(sub)]
    if hasattr(dataset, 'dataset'):
        return _base_datasets(dataset.dataset)
    return [dataset]


def _reduce_zero_label(pipeline) -> bool:
    for t in pipeline or ():
        if str(t.get('type', '')).rsplit('.', 1)[-1] in _SEM_LOADERS and 'reduce_zero_label' in t:
            return bool(t['reduce_zero_label'])
    return False


def _check_image(info: dict, backend_args) -> Tuple[Optional[Tuple[int, int]], List[Problem]]:
    path = info.get('img_path')
    try:
        img = mmcv.imfrombytes(get(path, backend_args=backend_args), flag='color')
    except FileNotFoundError:
        return None, [('image missing', f'{path}: not found')]
    except Exception as e:  # cv2 / PIL errors on broken files
        return None, [('image unreadable', f'{path}: {e}')]
    if img is None:
        return None, [('image unreadable', f'{path}: not a decodable image')]
    shape = img.shape[:2]
    expected = (info.get('height'), info.get('width'))
    if None not in expected and tuple(expected) != tuple(shape):
        return shape, [('image size', f'{path}: {shape[0]}x{shape[1]} pixels but the annotation says '
                                      f'{expected[0]}x{expected[1]}')]
    return shape, []


def check_sample(info: dict, shape: Optional[Tuple[int, int]], num_classes: int, reduce_zero_label: bool,
                 backend_args=None) -> List[Problem]:
    """Problems of one image's annotation (``info`` = the dataset's ``get_data_info``)."""
    path = info.get('seg_map_path')
    try:
        if path is not None and 'segments_info' in info:
            results = dict(info)
            if shape is not None:
                results['ori_shape'] = shape
            LoadPanopticSegments(num_classes=num_classes, backend_args=backend_args)(results)
        elif path is not None:
            out = LoadSemSegMap(num_classes=num_classes, reduce_zero_label=reduce_zero_label,
                                backend_args=backend_args)(dict(info))
            if shape is not None and out['gt_seg_map'].shape != tuple(shape):
                return [('annotation size', f'{path}: {out["gt_seg_map"].shape} but the image '
                                            f"{info.get('img_path')} is {tuple(shape)}")]
    except FileNotFoundError as e:
        return [('annotation missing', str(e))]
    except (ValueError, KeyError) as e:
        return [('annotation', str(e).strip("'\""))]
    bad = sorted({i['bbox_label'] for i in info.get('instances', ()) if not 0 <= i['bbox_label'] < num_classes})
    if bad and 'segments_info' not in info:
        return [('annotation', f"{info.get('img_path')}: instance label(s) {bad} outside [0, {num_classes})")]
    return []


def _panoptic_metrics(cfg: Config, split: str) -> Tuple[list, List[Problem]]:
    """The built panoptic metrics (those with a ``seg_prefix``) of ``{split}_evaluator``."""
    evaluator = cfg.get(f'{split}_evaluator')
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        evaluator = evaluator['metrics']
    metrics, problems = [], []
    for m_cfg in evaluator if isinstance(evaluator, (list, tuple)) else [evaluator] if evaluator else []:
        if not isinstance(m_cfg, dict) or not m_cfg.get('seg_prefix'):
            continue
        try:
            metrics.append(METRICS.build(m_cfg))
        except Exception as e:  # annotation file missing, ...
            problems.append(('evaluator', f'{split}_evaluator {m_cfg.get("type")} cannot be built: '
                                          f'{type(e).__name__}: {e}'))
    return metrics, problems


def check_evaluation_png(info: dict, metric) -> List[Problem]:
    """The PNG ``metric`` will read for this image must be the one the dataset reads (checked by
    :func:`check_sample`)."""
    try:
        if hasattr(metric, 'gt_png_name'):
            name = metric.gt_png_name(info)
        else:  # mmdet's CocoPanopticMetric: named after the image
            name = osp.basename(info['img_path']).replace('.jpg', '.png')
    except KeyError as e:
        return [('evaluation annotation', str(e).strip("'\""))]
    path = osp.join(metric.seg_prefix, name)
    seg_map_path = info.get('seg_map_path')
    if seg_map_path is not None and osp.normpath(path) == osp.normpath(seg_map_path):
        return []
    return [('evaluation annotation', f'{type(metric).__name__} reads {path} for {info.get("img_path")} (its '
                                      f'seg_prefix + PNG name) but the dataset reads {seg_map_path}: set the '
                                      'evaluator\'s seg_prefix / ann_file to the dataset\'s')]


def check_dataset(cfg: Config, split: str = 'train', limit: Optional[int] = None,
                  progress: bool = True) -> Tuple[int, List[Problem]]:
    """Check the ``split`` dataset of ``cfg``; returns (number of images checked, problems)."""
    init_default_scope(cfg.get('default_scope', None) or 'mmdet')
    key = f'{split}_dataloader'
    loader = cfg.get(key)
    if not loader or not loader.get('dataset'):
        return 0, [('config', f'the config has no {key}.dataset')]
    # a top-level metainfo the dataset never received (often also why the dataset cannot be built)
    problems: List[Problem] = [('classes', p) for p in unapplied_metainfo_problems(cfg, loaders=(key, ))]
    ds_cfg = loader.dataset.copy()
    pipeline = ds_cfg.get('pipeline', [])
    ds_cfg['pipeline'] = []
    try:
        dataset = DATASETS.build(ds_cfg)
    except Exception as e:  # annotation file missing, metainfo errors, ...
        return 0, problems + [('dataset', f'{key}.dataset cannot be built: {type(e).__name__}: {e}')]
    if progress:  # which classes the data really use (a class subset set in the wrong place shows here)
        print(f'{key}.dataset uses {describe_classes(dataset.metainfo)}')
    if cfg.get('model'):
        problems += [('classes', p) for p in class_count_problems(dataset.metainfo, config_class_counts(cfg.model),
                                                                  key)]
    num_classes = len(dataset.metainfo.get('classes') or ())
    reduce_zero_label = _reduce_zero_label(pipeline)
    backend_args = ds_cfg.get('backend_args')
    metrics = []
    if split in ('val', 'test'):
        metrics, found = _panoptic_metrics(cfg, split)
        problems += found
    items = [(d, i) for d in _base_datasets(dataset) for i in range(len(d))]
    if limit is not None:
        items = items[:limit]
    iterator = track(items, description=f'checking {len(items)} {split} images') if progress else items
    for sub, idx in iterator:
        info = sub.get_data_info(idx)
        shape, found = _check_image(info, backend_args)
        problems += found
        problems += check_sample(info, shape, num_classes, reduce_zero_label, backend_args)
        for metric in metrics:
            problems += check_evaluation_png(info, metric)
    return len(items), problems


def format_report(split: str, num_images: int, problems: List[Problem], max_listed: int = 50) -> str:
    lines = [f'{split}: {num_images} images checked, {len(problems)} problem(s)']
    if problems:
        counts = Counter(kind for kind, _ in problems)
        lines.append('  ' + ', '.join(f'{kind}: {n}' for kind, n in counts.most_common()))
        lines += [f'  [{kind}] {msg}' for kind, msg in problems[:max_listed]]
        if len(problems) > max_listed:
            lines.append(f'  ... and {len(problems) - max_listed} more (--max-listed)')
    else:
        lines.append('  every image decodes, every annotation matches, the classes fit the model')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> List[Problem]:
    """Run the check; returns the problems (the script exits with 1 when there are any)."""
    args = parse_args(argv)
    if not osp.isfile(args.config):
        raise SystemExit(f'config not found: {args.config}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    num_images, problems = check_dataset(cfg, args.split, args.limit)
    print(format_report(args.split, num_images, problems, args.max_listed))
    return problems


if __name__ == '__main__':
    sys.exit(1 if main() else 0)
