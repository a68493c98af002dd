"""Shared fixture of the deployment tests beyond plain export: a tiny model on a tiny synthetic dataset (config,
checkpoint, PyTorch model) and its dynamic-size fp32 graph."""
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from ..conftest import REPO
from ..test_apis.conftest import demo_config_path


@pytest.fixture(scope='session')
def deploy_env(tmp_path_factory):
    """Synthetic data (4 val images of 64x64), the demo config pointed at it with the tiny model, a checkpoint
    made to predict varied segments, the PyTorch model and a dynamic-size graph exported from it."""
    from oneformer.dataset_converters import generate_synthetic_panoptic
    from oneformer.deployment import export_onnx

    from .test_onnx_export import _tiny_model_files
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import demo
    root = tmp_path_factory.mktemp('deploy')
    data = str(root / 'data')
    generate_synthetic_panoptic(data, num_train=2, num_val=4, img_size=64, seed=3)
    cfg = demo.point_config_at(Config.fromfile(demo_config_path()), data, str(root / 'work'))
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    config, ckpt, model, model_cfg = _tiny_model_files(cfg, root)
    onnx_file = str(root / 'tiny.onnx')
    export_onnx(model, onnx_file, model_cfg, model.dataset_meta, shape=(64, 64), dynamic=True, checkpoint=ckpt)
    return dict(root=root, data=data, config=config, ckpt=ckpt, model=model, cfg=model_cfg, onnx=onnx_file)
