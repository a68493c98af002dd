"""Titled panels (input | ground truth | one per task): the layout of ``make demo`` and ``tools/test.py --show-dir``
(issue 18, item 5)."""
import importlib.util
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import DATASETS, MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.model import BaseModel
from mmengine.structures import InstanceData, PixelData
from torch import nn

from oneformer.visualization import OneFormerVisualizer, gt_panoptic_map, titled_strip
from oneformer.visualization.panels import title_height

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLASSES = ('circle', 'square', 'sky', 'ground')  # 2 things, 2 stuff
PALETTE = [(220, 20, 60), (0, 0, 230), (135, 206, 235), (139, 69, 19)]
SIZE = 32


def _sample(with_pred=True) -> DetDataSample:
    """A 32x32 sample: sky above ground, a circle (class 0) and a square (class 1) as gt instances, void corner."""
    sem = torch.full((1, SIZE, SIZE), 2, dtype=torch.int64)
    sem[:, SIZE // 2:] = 3
    sem[:, :4, :4] = 255
    masks = np.zeros((2, SIZE, SIZE), np.uint8)
    masks[0, 4:12, 4:12] = 1
    masks[1, 18:28, 18:28] = 1
    sem[0, torch.from_numpy(masks[0].astype(bool))] = 0
    sem[0, torch.from_numpy(masks[1].astype(bool))] = 1
    sample = DetDataSample(metainfo=dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE)))
    sample.gt_sem_seg = PixelData(sem_seg=sem, metainfo=dict(ignore_index=255))
    sample.gt_instances = InstanceData(masks=BitmapMasks(masks, SIZE, SIZE), labels=torch.tensor([0, 1]),
                                       bboxes=torch.tensor([[4., 4., 12., 12.], [18., 18., 28., 28.]]))
    if with_pred:
        sample.pred_sem_seg = PixelData(sem_seg=torch.where(sem == 255, 2, sem))
    return sample


def test_titled_strip_pads_and_titles_each_panel():
    a, b = np.zeros((10, 40, 3), np.uint8), np.zeros((20, 60, 3), np.uint8)
    strip = titled_strip([a, b], ['input', 'semantic'])
    top = title_height(40)
    assert top == 28 and title_height(512) > top  # titles grow with the panels
    assert strip.shape == (top + 20, 100, 3)
    header = strip[:top]
    assert (header[:, :40] < 128).any() and (header[:, 40:] < 128).any()  # a dark title over each panel
    assert (strip[top + 10:, :40] == 255).all()  # the lower panel is padded with white
    assert (strip[top:, 40:] == 0).all()
    with pytest.raises(ValueError, match='2 panels but 1 titles'):
        titled_strip([a, b], ['input'])


def test_gt_panoptic_map_keeps_things_apart_from_classes():
    sample = _sample()
    pan = gt_panoptic_map(sample, len(CLASSES)).sem_seg[0]
    assert (pan[4:12, 4:12] == 0 + 1 * INSTANCE_OFFSET).all()
    assert (pan[18:28, 18:28] == 1 + 2 * INSTANCE_OFFSET).all()
    assert pan[0, 0] == len(CLASSES)  # void
    assert pan[2, 20] == 2 and pan[30, 2] == 3  # stuff: its class, one segment each
    assert set(np.unique(pan)) == {2, 3, len(CLASSES), INSTANCE_OFFSET, 1 + 2 * INSTANCE_OFFSET}


def test_add_datasample_draws_one_titled_strip_and_no_separate_gt_image(tmp_path):
    vis = OneFormerVisualizer(name='panels_test', min_draw_size=128, vis_backends=[dict(type='LocalVisBackend')],
                              save_dir=str(tmp_path / 'backend'))
    vis.dataset_meta = dict(classes=CLASSES, palette=PALETTE)
    image = np.full((SIZE, SIZE, 3), 100, np.uint8)
    out = tmp_path / 'out.png'
    vis.add_datasample('s', image, _sample(), out_file=str(out))
    drawn = mmcv.imread(str(out), channel_order='rgb')
    factor = 128 // SIZE
    w, top = SIZE * factor, title_height(SIZE * factor)
    assert drawn.shape == (top + SIZE * factor, 3 * SIZE * factor, 3)  # input | ground truth | semantic
    assert (drawn[top:, :w] == 100).all()  # the input panel is the (enlarged) image itself
    # the ground truth is drawn as one panoptic map: the same pixels as the panoptic drawing of gt_panoptic_map
    big_image, big_sample = vis._upscaled(image, _sample())
    expected = vis._draw_panoptic_seg(big_image, gt_panoptic_map(big_sample, len(CLASSES)), CLASSES, PALETTE)
    np.testing.assert_array_equal(drawn[top:, w:2 * w], expected)
    # nothing went to the backend (mmdet's add_datasample saved a ground-truth-only image there)
    assert not list((tmp_path / 'backend').rglob('*.png'))

    vis.add_datasample('s', image, _sample(), step=3)  # no out_file: the strip goes to the backend, once
    assert len(list((tmp_path / 'backend').rglob('*.png'))) == 1


# ------------------------------------------------------------------ tools/test.py --show-dir on a toy model
@MODELS.register_module(force=True)
class ToyPanelModel(BaseModel):
    """Predicts the GT semantic map (void as class 2)."""

    def __init__(self, test_cfg=None, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.test_cfg = test_cfg or {}
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        for ds in data_samples:
            sem = ds.gt_sem_seg.sem_seg
            ds.pred_sem_seg = PixelData(sem_seg=torch.where(sem == 255, 2, sem))
        return data_samples


@DATASETS.register_module(force=True)
class ToyPanelDataset(torch.utils.data.Dataset):
    metainfo = dict(classes=CLASSES, palette=PALETTE)

    def __init__(self, img_dir):
        self.img_dir = img_dir

    def __len__(self):
        return 2

    def __getitem__(self, i):
        sample = _sample(with_pred=False)
        sample.set_metainfo(dict(img_id=i, img_path=osp.join(self.img_dir, f'{i}.png')))
        return dict(inputs=torch.zeros(3, SIZE, SIZE), data_samples=sample)


@pytest.mark.slow
def test_show_dir_saves_one_titled_enlarged_picture_per_image(tmp_path):
    img_dir = tmp_path / 'images'
    img_dir.mkdir()
    for i in range(2):
        mmcv.imwrite(np.full((SIZE, SIZE, 3), 60 + 40 * i, np.uint8), str(img_dir / f'{i}.png'))
    cfg_file = tmp_path / 'toy_cfg.py'
    cfg_file.write_text(
        f"_base_ = '{ROOT}/configs/_base_/default_runtime.py'\n"
        "model = dict(type='ToyPanelModel')\n"
        f"test_dataloader = dict(batch_size=1, num_workers=0, dataset=dict(type='ToyPanelDataset', "
        f"img_dir='{img_dir}'), sampler=dict(type='DefaultSampler', shuffle=False))\n"
        "test_cfg = dict(type='TestLoop')\n"
        "test_evaluator = [dict(type='SemSegMetric', iou_metrics=['mIoU'])]\n")
    ckpt = tmp_path / 'toy.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}}, ckpt)
    spec = importlib.util.spec_from_file_location('oneformer_tool_test_panels', osp.join(ROOT, 'tools', 'test.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    work_dir = tmp_path / 'work'
    tool.main([str(cfg_file), str(ckpt), '--task', 'semantic', '--work-dir', str(work_dir), '--show-dir', 'vis',
               # a name of its own: mmengine returns an earlier test's instance of the runtime's 'visualizer'
               '--cfg-options', f'visualizer.name=panels_{tmp_path.name}'])

    pictures = sorted(p for p in work_dir.rglob('*.png'))
    # one picture per image, under --show-dir (mmdet puts it in the run's timestamp folder); nothing else
    assert [p.name for p in pictures] == ['0.png', '1.png'] and all(p.parent.name == 'vis' for p in pictures)
    drawn = mmcv.imread(str(pictures[1]), channel_order='rgb')
    factor = 512 // SIZE  # default_runtime.py: min_draw_size=512
    top = title_height(SIZE * factor)
    assert drawn.shape == (top + SIZE * factor, 3 * SIZE * factor, 3)
    assert (drawn[top:, :SIZE * factor] == 100).all()  # input panel: image 1 (value 100), enlarged


def test_labels_are_drawn_at_least_min_font_size():
    vis = OneFormerVisualizer(name='font_test')
    drawn = {}
    for size in (6, OneFormerVisualizer.min_font_size, 16):
        vis.set_image(np.full((64, 96, 3), 255, np.uint8))
        vis.draw_texts('circle', np.array([4, 4]), font_sizes=size, colors=(0, 0, 0))
        drawn[size] = vis.get_image()
    # mmdet's 6 px labels come out as min_font_size ones; larger sizes are kept
    np.testing.assert_array_equal(drawn[6], drawn[OneFormerVisualizer.min_font_size])
    assert (drawn[16] < 128).sum() > (drawn[6] < 128).sum() > 0
