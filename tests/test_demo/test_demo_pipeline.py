"""`make demo` end to end on a tiny generated dataset: train through the mmengine runner, one-pass evaluation,
metrics.json, pictures, and resume from the saved checkpoint."""
import json
import os.path as osp
import sys

import pytest

from oneformer.dataset_converters import generate_synthetic_panoptic

sys.path.insert(0, osp.join(osp.dirname(__file__), '..', '..', 'tools'))
import demo  # noqa: E402


@pytest.mark.slow
def test_demo_trains_evaluates_draws_and_resumes(tmp_path):
    data = tmp_path / 'data'
    generate_synthetic_panoptic(str(data), num_train=8, num_val=4, img_size=64, seed=1)
    work = tmp_path / 'work'
    metrics = demo.main(['--data-root', str(data), '--work-dir', str(work), '--max-iters', '4', '--num-vis', '2'])

    for key in ('coco_panoptic/PQ', 'coco/segm_mAP', 'mIoU'):
        assert key in metrics
    summary = json.loads((work / 'metrics.json').read_text())
    assert {'PQ', 'AP', 'mIoU', 'PQ_th', 'PQ_st', 'SQ', 'RQ'} <= set(summary)
    assert summary['PQ'] == pytest.approx(metrics['coco_panoptic/PQ'])
    assert summary['mIoU'] == pytest.approx(metrics['mIoU'])
    assert 0 <= summary['mIoU'] <= 100
    pictures = sorted((work / 'vis').glob('*.png'))
    assert len(pictures) == 2
    import mmcv
    img = mmcv.imread(str(pictures[0]))
    from oneformer.visualization.panels import title_height
    assert img.shape[:2] == (title_height(512) + 512, 5 * 512)  # five titled panels, 64 px images enlarged 8x
    assert (work / 'iter_4.pth').exists()

    # resume the run for two more iterations from its checkpoint
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = demo.point_config_at(Config.fromfile(demo.DEFAULT_CONFIG), str(data), str(work), 6)
    cfg.resume = True
    cfg.load_from = str(work / 'iter_4.pth')
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 6
