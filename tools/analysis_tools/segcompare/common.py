"""Paths, task vocabulary, the tool's error type and JSON helpers shared by every part of the comparison."""
import json
import os
import os.path as osp
from typing import Dict, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.realpath(__file__)))))
DEFAULT_DATASET = osp.join(REPO, 'configs', '_base_', 'datasets', 'synthetic_panoptic.py')
DEFAULT_ONEFORMER = osp.join(REPO, 'configs', 'oneformer', 'oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py')
COMPARE_CONFIGS = osp.join(REPO, 'configs', 'compare')
DEFAULT_ITERS = 300  # per training run: the 13 default runs in about an hour on 2 CPU cores (docs/compare.md)
# RoIs per image of the two-stage peers on the synthetic 128x128 data (a few objects per image): the recipes' 512 are
# sized for 1333x800 COCO images; with them the mask head's positive RoIs took most of a CPU iteration (docs/compare.md)
SYNTHETIC_ROIS_PER_IMAGE = 64
SCHEMA_VERSION = 2
METRICS = ('PQ', 'AP', 'mIoU')
TASK_METRIC = {'panoptic': 'PQ', 'instance': 'AP', 'semantic': 'mIoU'}
ALL_TASKS = ('panoptic', 'instance', 'semantic')
PANOPTIC2INSTANCE = 'tools/dataset_converters/panoptic2instance.py'


class CompareError(RuntimeError):
    """A comparison that cannot run as asked (missing annotation, a peer that cannot be adapted, stale work dir)."""


def load_json(path: str) -> Optional[Dict]:
    """The JSON at ``path``, None if there is no such file."""
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def dump_json(obj, path: str) -> None:
    """Write ``obj`` as JSON atomically (a temporary file renamed over ``path``)."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)  # a killed run never leaves half a result


def strip_root(path: str, root: str) -> str:
    """``path`` relative to ``root`` when it starts with it (config evaluators spell ``data_root + 'file'``)."""
    root = root.rstrip('/') + '/'
    return path[len(root):] if path.startswith(root) else path
