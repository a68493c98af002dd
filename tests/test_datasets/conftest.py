"""Fixtures of the data tests: tiny hand-made panoptic annotations and generated datasets in tmp_path."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from PIL import Image

import oneformer.datasets  # noqa: F401  (registers datasets / transforms)
from oneformer.dataset_converters import panoptic_to_instance, write_panoptic_png


def _write_pair(tmp_path, ids: np.ndarray, name: str = 'img'):
    """A PNG with the given segment ids + a matching grey image; returns (img_path, png_path)."""
    png = str(tmp_path / f'{name}.png')
    write_panoptic_png(ids, png)
    img = str(tmp_path / f'{name}.jpg')
    Image.fromarray(np.full((*ids.shape, 3), 128, np.uint8)).save(img)
    return img, png


@pytest.fixture
def panoptic_results(tmp_path):
    """``make(ids, segments, **extra)`` -> results dict ready for LoadPanopticSegments."""

    def make(ids, segments, **extra):
        ids = np.asarray(ids)
        img, png = _write_pair(tmp_path, ids, extra.pop('name', 'img'))
        results = dict(img_path=img, seg_map_path=png, segments_info=segments, ori_shape=ids.shape,
                       img_shape=ids.shape, height=ids.shape[0], width=ids.shape[1])
        results.update(extra)
        return results

    return make


def _relayout_synthetic(src: str, dst: str, split: str, ann_file: str, img_prefix: str, seg_prefix: str,
                       instance_file: str = None) -> None:
    """Move one split of a generated synthetic dataset to the paths a config expects (under ``dst``)."""
    with open(osp.join(src, 'annotations', f'panoptic_{split}.json')) as f:
        data = json.load(f)
    for sub, prefix in ((split, img_prefix), (f'panoptic_{split}', seg_prefix)):
        os.makedirs(osp.join(dst, prefix), exist_ok=True)
        for name in os.listdir(osp.join(src, sub)):
            shutil.copy(osp.join(src, sub, name), osp.join(dst, prefix, name))
    os.makedirs(osp.dirname(osp.join(dst, ann_file)), exist_ok=True)
    with open(osp.join(dst, ann_file), 'w') as f:
        json.dump(data, f)
    if instance_file:
        panoptic_to_instance(data, osp.join(dst, seg_prefix), osp.join(dst, instance_file))


@pytest.fixture
def relayout():
    """``relayout(src, dst, split, ann_file, img_prefix, seg_prefix, instance_file=None)``."""
    return _relayout_synthetic
