"""A converted model with a model-only config (``oneformer_hf_to_mm.py HF_DIR OUT``, no ``--dataset``) draws every
task: its checkpoint has class names but no palette, its config no dataset."""
import importlib.util
import os
import os.path as osp

import mmcv
import numpy as np
import pytest
from mmengine.config import Config

from oneformer.apis import OneFormerInferencer
from oneformer.testing.hf_models import make_hf_model
from oneformer.visualization import resolve_palette

from ..conftest import REPO


def _load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    pytest.importorskip('transformers')
    root = tmp_path_factory.mktemp('converted')
    make_hf_model('resnet').save_pretrained(root / 'hf')
    tool = _load(osp.join(REPO, 'tools', 'model_converters', 'oneformer_hf_to_mm.py'), 'oneformer_hf_to_mm')
    assert tool.main([str(root / 'hf'), str(root / 'mm')]) in (0, None)
    cfg = Config.fromfile(str(root / 'mm' / 'config.py'))
    assert cfg.get('test_dataloader') is None  # model only, as the README allows for inference
    image = str(root / 'img.png')
    mmcv.imwrite((np.random.RandomState(0).rand(64, 96, 3) * 255).astype(np.uint8), image)
    return root, image


@pytest.mark.slow
def test_image_demo_draws_every_task_of_a_converted_model(converted, tmp_path):
    root, image = converted
    demo = _load(osp.join(REPO, 'demo', 'image_demo.py'), 'image_demo')
    demo.main([image, str(root / 'mm' / 'config.py'), '--weights', str(root / 'mm' / 'model.pth'), '--task', 'all',
               '--out-dir', str(tmp_path), '--device', 'cpu'])
    assert sorted(os.listdir(tmp_path / 'vis')) == ['img_instance.png', 'img_panoptic.png', 'img_semantic.png']


@pytest.mark.slow
@pytest.mark.parametrize('palette', ['none', 'random', 'coco'])
def test_inferencer_resolves_the_palette_once_for_every_task(converted, palette):
    root, image = converted
    inferencer = OneFormerInferencer(str(root / 'mm' / 'config.py'), weights=str(root / 'mm' / 'model.pth'),
                                     device='cpu', task='all', palette=palette)
    classes = inferencer.model.dataset_meta['classes']
    expected = resolve_palette(palette, classes)
    # the model's and the visualizer's dataset_meta carry the same list of colours, never a name
    assert inferencer.model.dataset_meta['palette'] == expected == inferencer.visualizer.dataset_meta['palette']
    out = inferencer(image, return_vis=True)
    assert set(out['visualization'][0]) == {'panoptic', 'instance', 'semantic'}
