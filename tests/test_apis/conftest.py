"""Fixtures of the inference tests: the demo config with a tiny model, checkpoints and images in tmp dirs."""
import glob
import os.path as osp
from types import SimpleNamespace

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config

from oneformer.testing import tiny_model_cfg

from ..conftest import REPO

CKPT_CLASSES = dict(classes=('a', 'b', 'c', 'd', 'e'), thing_classes=('a', 'b', 'c'), stuff_classes=('d', 'e'))


def demo_config_path() -> str:
    """The synthetic demo config (its name encodes the schedule, which may change)."""
    found = sorted(glob.glob(osp.join(REPO, 'configs/oneformer/oneformer_r18-tiny_*synthetic*.py')))
    assert found, 'no configs/oneformer/oneformer_r18-tiny_*synthetic*.py'
    return found[0]


def _write_images(folder) -> dict:
    """Three images of different sizes (PNG colour, PNG grey, JPG) plus a non-image file."""
    rng = np.random.RandomState(0)
    folder.mkdir()
    imgs = {'b_color.png': (rng.rand(48, 64, 3) * 255).astype(np.uint8),
            'a_gray.png': (rng.rand(40, 40) * 255).astype(np.uint8),
            'c_photo.jpg': (rng.rand(36, 52, 3) * 255).astype(np.uint8)}
    for name, img in imgs.items():
        mmcv.imwrite(img, str(folder / name))
    (folder / 'notes.txt').write_text('not an image')
    return imgs


@pytest.fixture(scope='session')
def infer_env(tmp_path_factory):
    """config.py (demo config + tiny model), checkpoints with / without class names, an image folder."""
    from mmdet.registry import MODELS

    import oneformer  # noqa: F401
    root = tmp_path_factory.mktemp('infer')
    cfg = Config.fromfile(demo_config_path())
    cfg.model = tiny_model_cfg()
    cfg_path = str(root / 'config.py')
    cfg.dump(cfg_path)

    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    state = model.state_dict()
    # a random model predicts (nearly) nothing: make class 'a' (a thing) and 'd' (stuff) likely, so that instances
    # survive the thing filter and the semantic map is not empty
    bias = state['panoptic_head.cls_embed.bias']
    bias[:] = -5.0
    bias[0], bias[3] = 8.0, 6.0
    ckpt = str(root / 'with_meta.pth')
    # as mmengine's runner saves it: class names in meta, the config text in the message hub
    torch.save(dict(state_dict=state, meta=dict(dataset_meta=dict(CKPT_CLASSES)),
                    message_hub=dict(runtime_info=dict(cfg=cfg.pretty_text))), ckpt)
    ckpt_nometa = str(root / 'no_meta.pth')
    torch.save(dict(state_dict=state, meta=dict()), ckpt_nometa)
    ckpt_4cls = str(root / 'four_classes.pth')
    torch.save(dict(state_dict=state, meta=dict(dataset_meta=dict(classes=('a', 'b', 'c', 'd')))), ckpt_4cls)
    imgs = _write_images(root / 'images')
    return SimpleNamespace(root=root, config=cfg_path, ckpt=ckpt, ckpt_nometa=ckpt_nometa, ckpt_4cls=ckpt_4cls,
                           folder=str(root / 'images'), images=imgs)


@pytest.fixture(scope='session')
def inferencer_all(infer_env):
    from oneformer.apis import OneFormerInferencer
    return OneFormerInferencer(infer_env.config, weights=infer_env.ckpt, device='cpu', task='all')
