"""Shared fixtures (the builders live in ``oneformer.testing``)."""
import os.path as osp

import pytest

from oneformer.testing import tiny_model_cfg

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture
def tiny_cfg():
    return tiny_model_cfg()


@pytest.fixture(autouse=True, scope='session')
def mmdet_default_scope():
    """Build unscoped names (DetDataPreprocessor, ResNet, ...) in mmdet's registries, as configs do."""
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=True)
