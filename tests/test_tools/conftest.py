"""Fixtures of the tool tests: the comparison package on the path, a tiny generated panoptic dataset."""
import os.path as osp
import sys

import pytest

TOOLS = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'tools', 'analysis_tools')
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)


@pytest.fixture(scope='session')
def compare_data(tmp_path_factory):
    """8 train / 4 val synthetic 64x64 images with panoptic PNGs and COCO instance JSONs."""
    from oneformer.dataset_converters import generate_synthetic_panoptic
    root = tmp_path_factory.mktemp('compare_data')
    generate_synthetic_panoptic(str(root), num_train=8, num_val=4, img_size=64, seed=1)
    return root
