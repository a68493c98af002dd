"""The embedded default (`make demo`): generate a synthetic panoptic dataset, train a small OneFormer on it jointly
for the three tasks on CPU, evaluate PQ / AP / mIoU in one pass and draw each task's prediction.

Outputs (under --work-dir, default work_dirs/demo): the training log and checkpoint, metrics.json (PQ, AP, mIoU and
details) and vis/<image>.png panels: input | ground truth | panoptic | instance | semantic prediction.
"""
import argparse
import os
import os.path as osp
import time

import oneformer  # noqa: F401  registers the project modules; first, before torch: idle OpenMP threads sleep

# isort: split
import mmcv
import torch
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.runner import Runner

from oneformer.dataset_converters import generate_synthetic_panoptic
from oneformer.visualization import DEFAULT_MIN_DRAW_SIZE

REPO = osp.dirname(osp.dirname(osp.realpath(__file__)))
DEFAULT_CONFIG = osp.join(REPO, 'configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--work-dir', default=osp.join(REPO, 'work_dirs/demo'))
    parser.add_argument('--data-root', default=osp.join(REPO, 'data/synthetic'))
    parser.add_argument('--max-iters', type=int, default=None, help='override the config (for quick checks)')
    parser.add_argument('--num-vis', type=int, default=4, help='val images to draw')
    return parser.parse_args(argv)


def point_config_at(cfg: Config, data_root: str, work_dir: str, max_iters: int = None) -> Config:
    """Use ``data_root`` in every dataloader and evaluator, train without intermediate validation."""
    root = data_root.rstrip('/') + '/'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
    for evaluator in ('val_evaluator', 'test_evaluator'):
        for metric in cfg[evaluator]:
            for key in ('ann_file', 'seg_prefix'):
                if key in metric:
                    metric[key] = root + metric[key].split('data/synthetic/', 1)[-1]
    if max_iters is not None:
        cfg.train_cfg.max_iters = max_iters
        cfg.param_scheduler[0].end = max_iters
        cfg.default_hooks.checkpoint.interval = max_iters
    # evaluate once, after training, with runner.test() (mmengine validates at the last iteration otherwise)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.work_dir = work_dir
    return cfg


def draw_panels(runner: Runner, out_dir: str, num: int) -> list:
    """input | ground truth | panoptic | instance | semantic, for the first ``num`` val images: the visualizer's
    :meth:`~oneformer.visualization.OneFormerVisualizer.draw_panels`, as ``tools/test.py --show-dir`` draws."""
    model, dataset = runner.model, runner.test_dataloader.dataset
    visualizer = runner.visualizer
    visualizer.dataset_meta = dataset.metainfo
    visualizer.min_draw_size = visualizer.min_draw_size or DEFAULT_MIN_DRAW_SIZE  # 128 px images: 4x
    os.makedirs(out_dir, exist_ok=True)
    model.eval()
    paths = []
    for idx in range(min(num, len(dataset))):
        data = runner.test_dataloader.collate_fn([dataset[idx]])
        with torch.no_grad():
            sample = model.test_step(data)[0]
        image = mmcv.imread(sample.img_path, channel_order='rgb')
        path = osp.join(out_dir, osp.splitext(osp.basename(sample.img_path))[0] + '.png')
        mmcv.imwrite(visualizer.draw_panels(image, sample, pred_score_thr=0.5)[..., ::-1], path)
        paths.append(path)
    return paths


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    register_all_modules(init_default_scope=False)
    if not osp.exists(osp.join(args.data_root, 'annotations', 'panoptic_val.json')):
        print(f'[demo] generating the synthetic panoptic dataset in {args.data_root} ...', flush=True)
        generate_synthetic_panoptic(args.data_root)
    else:
        print(f'[demo] using the synthetic dataset in {args.data_root}', flush=True)

    cfg = point_config_at(Config.fromfile(args.config), args.data_root, args.work_dir, args.max_iters)
    print(f'[demo] training {osp.basename(args.config)} for {cfg.train_cfg.max_iters} iterations on CPU, jointly on '
          'the three tasks (progress, losses and ETA every 25 iterations) ...', flush=True)
    runner = Runner.from_cfg(cfg)
    runner.train()
    print('[demo] one-pass evaluation: PQ (panoptic token), mask AP (instance token), mIoU (semantic token) ...',
          flush=True)
    metrics = runner.test()
    vis = draw_panels(runner, osp.join(args.work_dir, 'vis'), args.num_vis)

    # the summary hook wrote metrics.json; repeat the headline so it is the last thing printed
    pq, ap, miou = metrics.get('coco_panoptic/PQ'), metrics.get('coco/segm_mAP'), metrics.get('mIoU')
    print(f'\n[demo] done in {(time.time() - start) / 60:.1f} min: PQ {pq:.1f}  AP {100 * ap:.1f}  mIoU {miou:.1f}')
    print(f'[demo] metrics: {osp.join(args.work_dir, "metrics.json")}')
    print(f'[demo] pictures (input | ground truth | panoptic | instance | semantic): {osp.dirname(vis[0])}/')
    return metrics


if __name__ == '__main__':
    main()
