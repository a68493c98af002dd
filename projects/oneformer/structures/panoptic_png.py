"""The COCO panoptic PNG codec: segment id <-> RGB, read / write, and the check against ``segments_info``.

A panoptic PNG stores segment id ``R + 256 G + 256^2 B`` per pixel (0 = void) and the JSON's ``segments_info``
lists the segments. Datasets, evaluation, the inferencer's output files, the annotation converters and the
``panopticapi`` alias of ``compat`` all use this one codec.
"""
import os
import os.path as osp
from typing import Iterable, Optional

import mmcv
import numpy as np
from mmengine.fileio import get

#: ids are three bytes
MAX_ID = 256**3


def rgb2id(rgb):
    """Segment ids ``R + 256 G + 256^2 B`` of an (..., 3) RGB array (int64, (...)), or of one colour (int)."""
    if isinstance(rgb, np.ndarray) and rgb.ndim >= 1:
        if rgb.shape[-1] != 3:
            raise ValueError(f'rgb2id takes (..., 3) RGB arrays, got shape {rgb.shape}')
        rgb = rgb.astype(np.int64)
        return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]
    return int(rgb[0]) + 256 * int(rgb[1]) + 256 * 256 * int(rgb[2])


def id2rgb(ids):
    """Inverse of :func:`rgb2id`: an integer array (...) -> uint8 RGB (..., 3); one id -> ``[R, G, B]``.

    Raises:
        ValueError: if an id is outside ``[0, 256^3)`` (it would wrap to another segment's colour).
    """
    scalar = np.ndim(ids) == 0
    arr = np.asarray(ids)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f'panoptic segment ids must be integers, got dtype {arr.dtype}')
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= MAX_ID):
        raise ValueError(f'panoptic segment ids must be in [0, 256^3), got [{arr.min()}, {arr.max()}]')
    rgb = np.stack([arr % 256, arr // 256 % 256, arr // 65536], axis=-1).astype(np.uint8)
    return [int(c) for c in rgb] if scalar else rgb


def read_panoptic_png(path: str, backend_args: Optional[dict] = None, imdecode_backend: str = 'cv2') -> np.ndarray:
    """Segment ids (int64, (H, W)) of a COCO panoptic PNG; errors name the file.

    Unlike mmdet's loader the decoded (H, W, 3) array is not squeezed, so 1-pixel-high or -wide PNGs work.

    Args:
        path (str): The PNG (any mmengine file backend).
        backend_args (dict, optional): File backend arguments of :func:`mmengine.fileio.get`.
        imdecode_backend (str): Backend of :func:`mmcv.imfrombytes`. Defaults to 'cv2'.
    """
    try:
        img_bytes = get(path, backend_args=backend_args)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'Panoptic annotation PNG not found: {path}') from e
    try:
        png = mmcv.imfrombytes(img_bytes, flag='color', channel_order='rgb', backend=imdecode_backend)
    except Exception as e:  # cv2 / PIL errors on truncated or non-image files
        raise ValueError(f'Cannot decode panoptic annotation PNG {path}: {e}') from e
    if png is None:
        raise ValueError(f'Cannot decode panoptic annotation PNG {path}')
    return rgb2id(png)


def write_panoptic_png(ids: np.ndarray, path: str) -> None:
    """Write segment ids (H, W) as a COCO panoptic PNG (creating its folder)."""
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    if not mmcv.imwrite(id2rgb(ids)[..., ::-1], path):  # imwrite takes BGR
        raise OSError(f'could not write panoptic PNG {path}')


def check_panoptic_ids(ids: np.ndarray, segment_ids: Iterable[int], path: str,
                       void_ids: Iterable[int] = ()) -> None:
    """The strict COCO-panoptic check shared by training, test-time loading, evaluation and ``check_dataset``.

    Every non-void id of the PNG must be listed (in ``segment_ids`` or ``void_ids``, the segments of categories
    that are deliberately ignored), no id may be listed twice, and every listed segment must have pixels.

    Args:
        ids (np.ndarray): Segment ids of the PNG (0 = void).
        segment_ids (Iterable[int]): Ids listed in ``segments_info``.
        path (str): The PNG, named in the errors.
        void_ids (Iterable[int]): Listed ids whose pixels count as void (categories outside the dataset classes).

    Raises:
        ValueError: naming the file and the offending id(s).
    """
    listed = [int(i) for i in segment_ids]
    void_ids = {int(i) for i in void_ids}
    dup = sorted({i for i in listed if listed.count(i) > 1} | (set(listed) & void_ids))
    if dup:
        raise ValueError(f'segments_info of {path} lists segment id(s) {dup} more than once')
    present = set(np.unique(ids).tolist()) - {0}
    unlisted = sorted(present - set(listed) - void_ids)
    if unlisted:
        raise ValueError(f'Panoptic PNG {path} contains segment id(s) {unlisted} that are not in segments_info')
    absent = [i for i in listed if i not in present]
    if absent:
        which = f'id {absent[0]} is' if len(absent) == 1 else f'ids {absent} are'
        raise ValueError(f'Segment {which} listed in segments_info but absent from the PNG {path}')
