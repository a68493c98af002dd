"""Palettes: every form (a name, none, a short list, a tuple of tuples, one colour) draws every panel alike."""
import numpy as np
import pytest
import torch
from mmdet.datasets import CocoPanopticDataset
from mmdet.structures import DetDataSample
from mmdet.visualization.palette import get_palette
from mmengine.structures import InstanceData, PixelData

from oneformer.visualization import OneFormerVisualizer, resolve_palette
from oneformer.visualization.palette import name_colour
from oneformer.visualization.panels import title_height

CLASSES = ('a', 'b', 'c', 'd')
META = dict(classes=CLASSES, thing_classes=('a', 'b'), stuff_classes=('c', 'd'))


def test_names_and_missing_palettes_become_one_colour_per_class():
    random4 = get_palette('random', 4)
    assert resolve_palette('random', CLASSES) == random4
    assert resolve_palette(None, CLASSES) == resolve_palette('none', CLASSES) == random4
    coco = resolve_palette('coco', [f'c{i}' for i in range(140)])  # COCO has 133 colours
    assert coco[:133] == [tuple(c) for c in CocoPanopticDataset.METAINFO['palette']]
    assert coco[133:] == [name_colour(f'c{i}') for i in range(133, 140)]
    assert resolve_palette('red', CLASSES) == [(255, 0, 0)] * 4
    assert resolve_palette((10, 20, 30), CLASSES) == [(10, 20, 30)] * 4
    assert resolve_palette(((1, 2, 3), (4, 5, 6)), CLASSES) == [(1, 2, 3), (4, 5, 6), name_colour('c'),
                                                                 name_colour('d')]
    assert resolve_palette(np.arange(15).reshape(5, 3), CLASSES) == [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 10, 11)]
    with pytest.raises(ValueError, match=r"palette entry 1 of ckpt is \(1, 2\): a colour must be 3 integers"):
        resolve_palette([(1, 2, 3), (1, 2)], CLASSES, source='ckpt')
    with pytest.raises(ValueError, match=r"palette 'no-such-colour' of x: not a palette name"):
        resolve_palette('no-such-colour', CLASSES, source='x')


def _sample() -> DetDataSample:
    """Predictions of the three tasks and the ground truth of a 32 x 48 image (classes 0 and 2 present)."""
    sem = torch.zeros(1, 32, 48, dtype=torch.int64)
    sem[:, :, 24:] = 2
    pan = torch.full((1, 32, 48), 2, dtype=torch.int64)  # stuff 'c': label 2 (mmdet: label + id * INSTANCE_OFFSET)
    pan[:, 8:24, 8:20] = 0 + 1 * 1000
    masks = torch.zeros(1, 32, 48, dtype=torch.bool)
    masks[0, 8:24, 8:20] = True
    sample = DetDataSample(metainfo=dict(img_shape=(32, 48), ori_shape=(32, 48)))
    sample.pred_sem_seg = PixelData(sem_seg=sem)
    sample.pred_panoptic_seg = PixelData(sem_seg=pan)
    sample.pred_instances = InstanceData(masks=masks, labels=torch.tensor([0]), scores=torch.tensor([0.9]),
                                         bboxes=torch.tensor([[8., 8., 20., 24.]]))
    sample.gt_sem_seg = PixelData(sem_seg=sem.clone())  # what the test pipelines pack (PackDetInputs)
    sample.gt_instances = InstanceData(masks=masks.numpy(), labels=torch.tensor([0]),
                                       bboxes=torch.tensor([[8., 8., 20., 24.]]))
    return sample


@pytest.mark.parametrize('palette', [None, 'random', 'none', [(9, 9, 9)], ((200, 0, 0), (0, 200, 0)), 'coco'],
                         ids=['missing', 'random', 'none', 'short-list', 'tuple-of-tuples', 'coco'])
def test_every_drawing_path_resolves_the_palette_the_same_way(palette):
    """The visualizer resolves the palette whenever its dataset_meta is set (the inferencer, demo/image_demo.py,
    tools/test.py --show-dir via mmdet's DetVisualizationHook and tools/demo.py all set it): each panel - ground
    truth, panoptic, instance, semantic - is drawn with exactly the colours of the resolved list."""
    image = np.full((32, 48, 3), 100, np.uint8)
    vis = OneFormerVisualizer(name=f'palette_{palette!s}')
    vis.dataset_meta = dict(META, palette=palette)
    resolved = resolve_palette(palette, CLASSES)
    assert vis.dataset_meta['palette'] == resolved
    np.random.seed(0)  # mmdet jitters instance colours with np.random
    panels = vis.draw_tasks(image, _sample())
    assert set(panels) == {'panoptic', 'instance', 'semantic'}
    vis.add_datasample('x', image, _sample(), draw_gt=True)  # what --show-dir draws: input, ground truth, tasks
    assert vis.get_image().shape == (title_height(48) + 32, 5 * 48, 3)

    explicit = OneFormerVisualizer(name=f'palette_explicit_{palette!s}')
    explicit.dataset_meta = dict(META, palette=resolved)
    np.random.seed(0)
    for task, panel in explicit.draw_tasks(image, _sample()).items():
        np.testing.assert_array_equal(panel, panels[task])
    # the semantic panel blends the class colour into the image: stuff 'c' (label 2) on the right half
    right = panels['semantic'][1, 46].astype(float)  # (away from the class name written at the centre)
    expected = (1 - vis.alpha) * 100 + vis.alpha * np.array(resolved[2], float)
    np.testing.assert_allclose(right, expected, atol=1.5)
