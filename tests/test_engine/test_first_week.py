"""Issue 13 leftovers: inference inputs (folders with unreadable files, float / bool arrays), drawings of small
images, checkpoint mismatch summaries and the log line of the last iteration."""
import glob
import os.path as osp
import sys

import mmcv
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import InstanceData, PixelData

from oneformer.apis import OneFormerInferencer
from oneformer.testing import config_path, synthetic_runner_cfg, tiny_model_cfg
from oneformer.visualization import OneFormerVisualizer
from oneformer.visualization.panels import title_height

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def infer_cfg(tmp_path_factory):
    """The demo config with the tiny model (no weights: a random model is enough to exercise the inputs)."""
    demo = sorted(glob.glob(osp.join(REPO, 'configs/oneformer/oneformer_r18-tiny_*synthetic*.py')))[0]
    cfg = Config.fromfile(demo)
    cfg.model = tiny_model_cfg()
    path = str(tmp_path_factory.mktemp('infer') / 'config.py')
    cfg.dump(path)
    return path


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    rng = np.random.RandomState(0)
    for name in ('a.png', 'c.jpg'):
        mmcv.imwrite((rng.rand(24, 32, 3) * 255).astype(np.uint8), str(folder / name))
    (folder / 'b_broken.jpg').write_bytes(b'\xff\xd8 truncated')
    return str(folder)


@pytest.mark.slow
def test_folder_inference_skips_unreadable_files(infer_cfg, folder, tmp_path):
    with pytest.warns(UserWarning, match='no weights'):
        inferencer = OneFormerInferencer(infer_cfg, device='cpu', task='semantic')
    with pytest.warns(UserWarning, match=r'1 of 3 files of .* could not be read and were skipped: .*b_broken.jpg'):
        out = inferencer(folder, return_vis=True)
    assert [osp.basename(p['img_path']) for p in out['predictions']] == ['a.png', 'c.jpg']
    # the inferencer's drawings of these 24x32 images are upscaled 16x (DEFAULT_MIN_DRAW_SIZE 512)
    assert inferencer.visualizer.min_draw_size == 512
    assert out['visualization'][0]['semantic'].shape == (24 * 16, 32 * 16, 3)
    assert out['skipped'] == [osp.join(folder, 'b_broken.jpg')]
    with pytest.raises(ValueError, match='cannot read image .*b_broken.jpg'):  # named explicitly: an error
        inferencer(osp.join(folder, 'b_broken.jpg'))

    sys.path.insert(0, osp.join(REPO, 'demo'))
    import image_demo
    results = image_demo.main([folder, infer_cfg, '--task', 'semantic', '--out-dir', str(tmp_path / 'out')])
    assert len(results['predictions']) == 2 and results['skipped'] == out['skipped']


@pytest.mark.parametrize('array, match', [
    (np.random.rand(8, 8, 3).astype(np.float32), r'got float32, values 0\.0.*\(img \* 255\)\.round\(\)'),
    (np.ones((8, 8), bool), r'got bool, values True\.\.True'),
    (np.zeros((8, 8, 3), np.uint16), r'got uint16.*img.astype\(np.uint8\)'),
])
def test_non_uint8_arrays_are_rejected(array, match):
    if array.dtype == np.float32:
        array[0, 0, 0] = 0.0
    with pytest.raises(ValueError, match=r'image arrays must be uint8 BGR \(values 0\.\.255\)'):
        OneFormerInferencer.load_image(array)
    with pytest.raises(ValueError, match=match):
        OneFormerInferencer.load_image(array)
    assert OneFormerInferencer.load_image(np.zeros((8, 8), np.uint8)).shape == (8, 8, 3)


def test_small_images_are_upscaled_before_drawing():
    vis = OneFormerVisualizer(name='upscale_test', min_draw_size=128)
    vis.dataset_meta = dict(classes=('a', 'b', 'c'), palette=[(255, 0, 0), (0, 255, 0), (0, 0, 255)])
    assert (vis.draw_scale(32, 24), vis.draw_scale(100, 60), vis.draw_scale(200, 100)) == (4, 1, 1)
    sem = torch.zeros(1, 32, 24, dtype=torch.int64)
    sem[:, :16] = 2
    masks = torch.zeros(1, 32, 24, dtype=torch.bool)
    masks[0, 4:8, 4:10] = True
    sample = DetDataSample()
    sample.pred_sem_seg = PixelData(sem_seg=sem)
    sample.pred_instances = InstanceData(masks=masks, labels=torch.tensor([1]), scores=torch.tensor([0.9]),
                                         bboxes=torch.tensor([[4., 4., 10., 8.]]))
    image = np.full((32, 24, 3), 128, np.uint8)
    panels = vis.draw_tasks(image, sample)
    assert panels['semantic'].shape == panels['instance'].shape == (128, 96, 3)
    # the upscaled mask is drawn where the original one is, four times larger
    changed = (panels['instance'] != 128).any(-1)
    ys, xs = np.nonzero(changed)
    assert ys.min() >= 4 * 4 - 4 and xs.min() >= 4 * 4 - 4 and ys.max() <= 8 * 4 + 4
    vis.add_datasample('x', image, sample, draw_gt=False)
    assert vis.get_image().shape == (title_height(96) + 128, 3 * 96, 3)  # input | instance | semantic, titled
    assert OneFormerVisualizer(name='upscale_off', min_draw_size=0).draw_scale(8, 8) == 1
    assert OneFormerVisualizer(name='upscale_default').draw_scale(8, 8) == 1  # off unless configured / inferencer


def test_foreign_checkpoint_mismatch_is_summarised():
    init_default_scope('mmdet')
    src = MODELS.build(tiny_model_cfg(hidden=64))
    dst = MODELS.build(tiny_model_cfg(hidden=32))
    with pytest.raises(ValueError) as e:
        dst.load_state_dict(src.state_dict(), strict=False)
    msg = str(e.value)
    n = int(msg.split('checkpoint does not fit the model: ')[1].split(' tensors')[0])
    assert n > 20 and msg.count(': checkpoint (') == 5 and f'... and {n - 5} more' in msg
    assert "Tensors beyond the class head differ" in msg and "set model.load_mismatch='reinit_cls'" not in msg
    # only the class head differs: the hint is reinit_cls
    other = MODELS.build(tiny_model_cfg(num_things=4))
    with pytest.raises(ValueError, match=r"2 tensors differ(.*\n)+.*cls_embed.bias.*\nOnly the class head differs: "
                                         r".*model.load_mismatch='reinit_cls'"):
        other.load_state_dict(dst.state_dict(), strict=False)


@pytest.mark.slow
def test_run_shorter_than_the_log_interval_logs_its_last_iteration(synthetic_root, tmp_path):
    init_default_scope('mmdet')
    cfg = synthetic_runner_cfg(synthetic_root, str(tmp_path), max_iters=2, log_interval=50)
    cfg.custom_hooks = [dict(type='LogLastIterHook')]
    cfg.log_level = 'INFO'
    runner = Runner.from_cfg(cfg)
    runner.train()
    log = open(glob.glob(osp.join(runner.log_dir, '*.log'))[0]).read()
    lines = [line for line in log.splitlines() if 'Iter(train)' in line]
    assert len(lines) == 1 and '[2/2]' in lines[0] and 'loss: ' in lines[0]
    assert config_path('configs/_base_/default_runtime.py')  # the hook is added by tools/train.py, not the config
