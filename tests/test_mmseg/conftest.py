"""mmseg-side fixtures: mmseg's default scope per test, class names and the real config (builders:
``oneformer.testing``)."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MMSEG_CONFIGS = osp.join(REPO, 'configs', 'mmseg')
ADE_R50 = osp.join(MMSEG_CONFIGS, 'oneformer_r50_8xb2-160k_ade20k-512x512.py')
CLASS_NAMES = ('sky', 'road', 'car', 'tree')


@pytest.fixture(autouse=True)
def mmseg_scope():
    """Run each test under mmseg's default scope, then restore the previous scopes (the session default is mmdet,
    and ``Runner`` registers a new current scope that must not leak into the other tests)."""
    import oneformer  # noqa: F401
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


def load_config(path: str = ADE_R50) -> Config:
    import oneformer  # noqa: F401
    return Config.fromfile(path)
