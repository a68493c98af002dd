"""Plain-python views of OneFormer predictions and their files (used by :class:`OneFormerInferencer`)."""
import os.path as osp
from typing import Dict, Optional, Sequence

import mmcv
import mmengine
import numpy as np
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.structures import DetDataSample
from mmdet.structures.mask import encode_mask_results

from ..structures import write_panoptic_png
from ..tasks import PRED_FIELDS


def panoptic_segments(ids: np.ndarray, classes: Sequence[str], num_things: int) -> list:
    """``segments_info`` of a panoptic id map (``label + instance * INSTANCE_OFFSET``; ``len(classes)`` = void).

    Returns one dict per segment, in id order: ``id``, ``label``, ``category`` (class name), ``isthing``, ``area``.
    """
    num_classes = len(classes)
    seg_ids, areas = np.unique(ids, return_counts=True)
    segments = []
    for seg_id, area in zip(seg_ids.tolist(), areas.tolist()):
        label = seg_id % INSTANCE_OFFSET
        if label == num_classes:  # void
            continue
        if label > num_classes:
            raise ValueError(f'panoptic id {seg_id} has label {label} >= {num_classes} classes')
        segments.append(dict(id=seg_id, label=label, category=classes[label], isthing=label < num_things,
                             area=area))
    return segments


def sample_to_dict(sample: DetDataSample, classes: Sequence[str], num_things: int) -> Dict:
    """The predictions present in ``sample`` as numpy arrays, keyed by task.

    Returns:
        dict: ``img_path`` (when known) and, for each predicted task,

        - ``panoptic``: ``seg`` (H, W) int64 ids ``label + instance_id * INSTANCE_OFFSET`` (void =
          ``len(classes)``, stuff has instance id 0) and ``segments_info`` (see :func:`panoptic_segments`);
        - ``instance``: ``labels`` (n,) int64, ``scores`` (n,) float32, ``bboxes`` (n, 4) float32 x1y1x2y2,
          ``masks`` (n, H, W) bool, ``categories`` (n class names);
        - ``semantic``: ``seg`` (H, W) int64 class labels.
    """
    out = {}
    if sample.get('img_path', None):
        out['img_path'] = sample.img_path
    if PRED_FIELDS['panoptic'] in sample:
        ids = sample.pred_panoptic_seg.sem_seg[0].cpu().numpy().astype(np.int64)
        out['panoptic'] = dict(seg=ids, segments_info=panoptic_segments(ids, classes, num_things))
    if PRED_FIELDS['instance'] in sample:
        inst = sample.pred_instances.cpu()
        labels = inst.labels.numpy().astype(np.int64)
        out['instance'] = dict(
            labels=labels,
            scores=inst.scores.numpy().astype(np.float32),
            bboxes=inst.bboxes.numpy().astype(np.float32).reshape(-1, 4),
            masks=inst.masks.numpy().astype(bool),
            categories=[classes[i] for i in labels.tolist()])
    if PRED_FIELDS['semantic'] in sample:
        out['semantic'] = dict(seg=sample.pred_sem_seg.sem_seg[0].cpu().numpy().astype(np.int64))
    return out


def save_prediction(pred: Dict, out_dir: str, stem: str, classes: Sequence[str]) -> Dict:
    """Write ``pred`` (from :func:`sample_to_dict`) under ``out_dir`` and return the JSON record written.

    Files (only for the predicted tasks):

    - ``{stem}_panoptic.png``: COCO panoptic PNG, segment id = R + 256 G + 256^2 B = the id of ``seg`` (void -> 0),
      described by ``segments_info`` in the JSON;
    - ``{stem}_semantic.png``: class labels (uint8, or uint16 for more than 255 classes);
    - ``{stem}.json``: ``img_path``, ``classes`` and per task the PNG path / ``segments_info``, instance
      ``labels``, ``scores``, ``bboxes`` and ``masks`` as COCO RLE (``counts`` as str).
    """
    record = dict(classes=list(classes))
    if 'img_path' in pred:
        record['img_path'] = pred['img_path']
    if 'panoptic' in pred:
        ids = pred['panoptic']['seg'].copy()
        ids[ids % INSTANCE_OFFSET == len(classes)] = 0  # COCO panoptic void
        path = osp.join(out_dir, f'{stem}_panoptic.png')
        write_panoptic_png(ids, path)
        record['panoptic'] = dict(png=path, segments_info=pred['panoptic']['segments_info'])
    if 'instance' in pred:
        inst = pred['instance']
        rles = encode_mask_results(inst['masks'])
        for rle in rles:
            if isinstance(rle['counts'], bytes):
                rle['counts'] = rle['counts'].decode()
        record['instance'] = dict(labels=inst['labels'].tolist(), categories=list(inst['categories']),
                                  scores=inst['scores'].tolist(), bboxes=inst['bboxes'].tolist(), masks=rles)
    if 'semantic' in pred:
        dtype = np.uint8 if len(classes) <= 255 else np.uint16
        path = osp.join(out_dir, f'{stem}_semantic.png')
        mmcv.imwrite(pred['semantic']['seg'].astype(dtype), path)
        record['semantic'] = dict(png=path)
    mmengine.dump(record, osp.join(out_dir, f'{stem}.json'), indent=2)
    return record


def unique_stem(name: str, used: set, index: Optional[int] = None) -> str:
    """File stem for an input: its basename without extension (``{index:08d}`` for arrays), made unique."""
    stem = osp.splitext(osp.basename(name))[0] if name else f'{index:08d}'
    candidate, k = stem, 1
    while candidate in used:
        candidate, k = f'{stem}_{k}', k + 1
    used.add(candidate)
    return candidate
