"""The synthetic panoptic data at 64 px for the tiny training runs (``oneformer.testing.synthetic_runner_cfg``)."""
import pytest

from oneformer.dataset_converters import generate_synthetic_panoptic
from oneformer.testing import SYNTHETIC_RUNNER_SIZE as SIZE


@pytest.fixture(scope='module')
def synthetic_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synthetic'))
    generate_synthetic_panoptic(root, num_train=6, num_val=2, img_size=SIZE, seed=2)
    return root
