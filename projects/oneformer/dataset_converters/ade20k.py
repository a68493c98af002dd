"""ADE20K-150 scene parsing + instance annotations -> COCO panoptic (things first) + COCO instance JSON.

Inputs under ``ADEChallengeData2016/`` (split folder ``training`` or ``validation``):

- ``images/{split}/*.jpg``;
- ``annotations/{split}/*.png``: semantic label maps, 0 = unlabeled, ``k`` = class ``k - 1`` of
  :data:`ADE20K_SEMANTIC_CLASSES` (objectInfo150 order);
- ``annotations_instance/{split}/*.png``: RGB, R = instance-challenge category (1..100, 0 = none),
  B = instance id (0 = none);
- ``categoryMapping.txt`` (instance category -> 150-class index, both 1-based, one header line then
  ``<instance id> <semantic id> <name>`` rows). Without it, each instance takes the thing class that covers most
  of its pixels in the semantic map.

Stuff segments (one per stuff class present) come from the semantic map, then thing instances are pasted on top;
semantic pixels of thing classes not covered by an instance are void. Output (``out_dir`` defaults to the ADE
root): ``ade20k_panoptic_{train,val}.json``, ``ade20k_panoptic_{train,val}/*.png``,
``ade20k_instance_{train,val}.json``; category id = label + 1, labels in
``ADE20KPanopticDataset.METAINFO['classes']`` order (100 things, then 50 stuff).
"""
import os.path as osp
from glob import glob
from typing import Dict, Optional, Sequence

import numpy as np
from PIL import Image

from ..structures import write_panoptic_png
from .common import dump_json, segment_entry
from .panoptic2instance import panoptic_to_instance

SPLITS = {'train': 'training', 'val': 'validation'}


def read_category_mapping(path: str) -> Dict[int, int]:
    """``categoryMapping.txt`` -> ``{instance category (1-based): semantic index (0-based)}``."""
    mapping = {}
    with open(path) as f:
        for line_no, line in enumerate(f):
            parts = line.split()
            if line_no == 0 or not parts:
                continue  # header
            try:
                mapping[int(parts[0])] = int(parts[1]) - 1
            except (ValueError, IndexError) as e:
                raise ValueError(f'{path}:{line_no + 1}: expected "<instance id> <semantic id> <name>", '
                                 f'got {line.strip()!r}') from e
    return mapping


def _read(path: str, what: str) -> np.ndarray:
    if not osp.isfile(path):
        raise FileNotFoundError(f'ADE20K {what} not found: {path}')
    return np.asarray(Image.open(path))


def convert_ade20k_panoptic(root: str, splits: Sequence[str] = ('train', 'val'),
                            mapping_file: Optional[str] = None, out_dir: Optional[str] = None,
                            instance_channel: int = 2) -> dict:
    """Convert ``splits`` of ``ADEChallengeData2016`` at ``root``; returns ``{split: number of images}``.

    Args:
        root: The ``ADEChallengeData2016`` folder.
        splits: Any of 'train', 'val'.
        mapping_file: ``categoryMapping.txt``; defaults to ``{root}/categoryMapping.txt`` if it exists, else the
            majority-vote fallback described in the module docstring.
        out_dir: Output folder (default: ``root``).
        instance_channel: Channel of the instance PNG holding instance ids (2 = B, as documented).
    """
    from ..datasets.ade20k_panoptic import ADE20K_PANOPTIC_METAINFO, ADE20K_SEMANTIC_CLASSES
    classes = ADE20K_PANOPTIC_METAINFO['classes']
    num_things = len(ADE20K_PANOPTIC_METAINFO['thing_classes'])
    sem2label = np.full(256, -1, np.int64)  # semantic index (0-based) -> our label
    for sem_idx, name in enumerate(ADE20K_SEMANTIC_CLASSES):
        sem2label[sem_idx] = classes.index(name)
    out_dir = out_dir or root
    mapping_file = mapping_file or osp.join(root, 'categoryMapping.txt')
    ins2label = None
    if osp.isfile(mapping_file):
        ins2label = {k: int(sem2label[v]) for k, v in read_category_mapping(mapping_file).items()}
        not_things = {k: classes[v] for k, v in ins2label.items() if not 0 <= v < num_things}
        if not_things:
            raise ValueError(f'{mapping_file} maps instance categories to non-thing classes: {not_things}')
    categories = [dict(id=i + 1, name=n, isthing=int(i < num_things)) for i, n in enumerate(classes)]

    counts = {}
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f'Unknown ADE20K split {split!r}; use {sorted(SPLITS)}')
        sub = SPLITS[split]
        files = sorted(glob(osp.join(root, 'images', sub, '*.jpg')))
        if not files:
            raise FileNotFoundError(f'No images found in {osp.join(root, "images", sub)}')
        pan_dir = osp.join(out_dir, f'ade20k_panoptic_{split}')
        images, annotations = [], []
        for idx, img_path in enumerate(files, start=1):
            stem = osp.splitext(osp.basename(img_path))[0]
            sem_path = osp.join(root, 'annotations', sub, stem + '.png')
            ins_path = osp.join(root, 'annotations_instance', sub, stem + '.png')
            sem = _read(sem_path, 'semantic map').astype(np.int64)
            ins = _read(ins_path, 'instance map')
            if ins.ndim != 3 or ins.shape[:2] != sem.shape:
                raise ValueError(f'{ins_path}: expected an RGB map of shape {sem.shape}, got {ins.shape}')
            with Image.open(img_path) as im:
                width, height = im.size
            if (height, width) != sem.shape:
                raise ValueError(f'{sem_path} has shape {sem.shape} but {img_path} is {(height, width)}')
            if sem.max() > len(ADE20K_SEMANTIC_CLASSES):
                raise ValueError(f'{sem_path} has label {sem.max()} > {len(ADE20K_SEMANTIC_CLASSES)}')
            labels = np.where(sem > 0, sem2label[np.maximum(sem - 1, 0)], -1)

            ids = np.zeros(sem.shape, np.int64)
            seg_cat = {}
            for label in np.unique(labels):
                if label >= num_things:  # stuff from the semantic map
                    seg_id = (int(label) + 1) * 1000
                    ids[labels == label] = seg_id
                    seg_cat[seg_id] = int(label)
            ins_cat, ins_id = ins[..., 0].astype(np.int64), ins[..., instance_channel].astype(np.int64)
            for k, inst in enumerate(np.unique(ins_id[ins_id > 0]), start=1):
                mask = ins_id == inst
                cats = np.unique(ins_cat[mask])
                if len(cats) != 1 or cats[0] == 0:
                    raise ValueError(f'{ins_path}: instance {inst} has category values {cats.tolist()} '
                                     '(expected one non-zero R value)')
                if ins2label is not None:
                    if int(cats[0]) not in ins2label:
                        raise ValueError(f'{ins_path}: instance category {cats[0]} missing from {mapping_file}')
                    label = ins2label[int(cats[0])]
                else:  # majority thing class of the semantic map under the instance
                    votes = labels[mask]
                    votes = votes[(votes >= 0) & (votes < num_things)]
                    if votes.size == 0:
                        continue
                    label = int(np.bincount(votes).argmax())
                seg_id = (label + 1) * 1000 + k
                ids[mask] = seg_id
                seg_cat[seg_id] = label
            segments = [segment_entry(sid, seg_cat[sid] + 1, ids == sid)
                        for sid in np.unique(ids).tolist() if sid != 0]
            write_panoptic_png(ids, osp.join(pan_dir, stem + '.png'))
            images.append(dict(id=idx, file_name=osp.basename(img_path), height=height, width=width))
            annotations.append(dict(image_id=idx, file_name=stem + '.png', segments_info=segments))
        panoptic = dict(images=images, annotations=annotations, categories=categories)
        dump_json(panoptic, osp.join(out_dir, f'ade20k_panoptic_{split}.json'))
        panoptic_to_instance(panoptic, pan_dir, osp.join(out_dir, f'ade20k_instance_{split}.json'))
        counts[split] = len(images)
    return counts
