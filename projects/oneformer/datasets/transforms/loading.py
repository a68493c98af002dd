"""Load panoptic / semantic annotations as one mask per segment (mmdet's standard keys).

Both loaders write ``gt_masks`` (one :class:`BitmapMasks` per segment, things *and* stuff), ``gt_bboxes`` (from the
masks), ``gt_bboxes_labels``, ``gt_ignore_flags`` (crowd) and ``gt_seg_map`` (255 = void). mmdet's augmentations
(flip, resize, crop, pad, photometric) transform these keys consistently; the per-task OneFormer targets are
derived afterwards by :class:`~oneformer.datasets.transforms.OneFormerTaskTargets`.

The test-time loaders (:class:`LoadPanopticTestAnnotations`, :class:`LoadSemSegMap`) decode the annotation files the
same way as the training loaders and apply the same checks, so data that trains also validates.
"""
from typing import List, Optional, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.datasets.transforms import LoadPanopticAnnotations
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks
from mmengine.fileio import get

from ...structures import check_panoptic_ids, read_panoptic_png

IGNORE_INDEX = 255


def _num_classes_from(results: dict, num_classes: Optional[int]) -> Optional[int]:
    """The configured number of classes, else the dataset's (``results['classes']``), else None."""
    if num_classes is not None:
        return num_classes
    classes = results.get('classes')
    return len(classes) if classes is not None else None


def _seg_map_dtype(num_classes: Optional[int], max_label: int):
    # uint8 like mmdet's semantic maps whenever every label fits below the 255 void value
    bound = num_classes if num_classes is not None else max_label + 1
    return np.uint8 if bound <= IGNORE_INDEX else np.int32


def _pack_segments(results: dict, masks: List[np.ndarray], labels: List[int], crowd: List[bool],
                   seg_map: np.ndarray) -> None:
    """Write the per-segment annotation in mmdet's keys."""
    h, w = seg_map.shape
    gt_masks = BitmapMasks(np.stack(masks).astype(np.uint8) if masks else [], h, w)
    results['gt_masks'] = gt_masks
    results['gt_bboxes'] = HorizontalBoxes.from_instance_masks(gt_masks)
    results['gt_bboxes_labels'] = np.asarray(labels, dtype=np.int64).reshape(-1)
    results['gt_ignore_flags'] = np.asarray(crowd, dtype=bool).reshape(-1)
    results['gt_seg_map'] = seg_map


def read_label_map(path: str, backend_args: Optional[dict] = None, imdecode_backend: str = 'pillow') -> np.ndarray:
    """A semantic label map as a 2-D integer array (palette / grayscale / 16-bit PNGs), errors naming the file.

    Pillow returns the palette *indices* of palette PNGs (mmseg / VOC label format); cv2 would return their
    colours, so every semantic loader of this package reads label maps here.
    """
    try:
        img_bytes = get(path, backend_args=backend_args)
    except FileNotFoundError as e:
        raise FileNotFoundError(f'Semantic label map not found: {path}') from e
    try:
        label = mmcv.imfrombytes(img_bytes, flag='unchanged', backend=imdecode_backend)
    except Exception as e:  # PIL.UnidentifiedImageError, cv2 errors on truncated files
        raise ValueError(f'Cannot decode semantic label map {path}: {e}') from e
    if label is None:
        raise ValueError(f'Cannot decode semantic label map {path}')
    label = np.asarray(label)
    if label.ndim == 3 and label.shape[2] == 1:
        label = label[..., 0]
    if label.ndim != 2:
        raise ValueError(f'Semantic label map {path} must be single-channel (class index per pixel: a palette, '
                         f'grayscale or 16-bit PNG), got shape {label.shape}; convert colour-coded maps to indices')
    if not np.issubdtype(label.dtype, np.integer):
        raise ValueError(f'Semantic label map {path} must hold integer class indices, got {label.dtype}')
    return label


@TRANSFORMS.register_module()
class LoadPanopticSegments(BaseTransform):
    """Load a COCO-panoptic PNG as one mask per segment (things, stuff and crowd).

    The PNG encodes segment ids as ``R + 256 G + 256^2 B`` (0 = void). ``segments_info`` is the dataset's list of
    segments of the image, each a dict with ``id``, ``category`` (contiguous label, things first), ``iscrowd`` and
    optionally ``is_thing``. Loading is strict: every non-void id of the PNG must be listed in ``segments_info`` and
    every listed segment must have pixels, otherwise a ``ValueError`` names the file and the id. Ids in
    ``ignored_segment_ids`` (segments of JSON categories outside the dataset's classes, see
    :class:`~oneformer.datasets.OneFormerPanopticDataset`) are void.

    Required Keys:

    - seg_map_path
    - segments_info
    - ignored_segment_ids (optional)
    - classes (optional, gives ``num_classes`` when not configured)
    - num_things_classes (optional, checks ``is_thing``)

    Added Keys:

    - gt_masks (BitmapMasks): one mask per segment, in ``segments_info`` order
    - gt_bboxes (HorizontalBoxes): boxes of the masks
    - gt_bboxes_labels (np.int64): segment labels
    - gt_ignore_flags (bool): True for crowd segments
    - gt_seg_map (np.uint8 or np.int32): semantic labels, 255 = void (crowd pixels keep their class)

    Args:
        num_classes (int, optional): Number of classes; labels must lie in ``[0, num_classes)``. Defaults to the
            length of ``results['classes']`` (set by the OneFormer datasets); unchecked if neither is known.
        imdecode_backend (str): Backend of :func:`mmcv.imfrombytes`. Defaults to 'cv2'.
        backend_args (dict, optional): File backend arguments of :func:`mmengine.fileio.get`.
    """

    def __init__(self,
                 num_classes: Optional[int] = None,
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        self.num_classes = num_classes
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args

    def _read_ids(self, path: str) -> np.ndarray:
        return read_panoptic_png(path, self.backend_args, self.imdecode_backend)

    def transform(self, results: dict) -> dict:
        path = results.get('seg_map_path')
        if path is None:
            raise KeyError(f"LoadPanopticSegments needs 'seg_map_path' (image {results.get('img_path')}); "
                           'set data_prefix.seg of the dataset.')
        if 'segments_info' not in results:
            raise KeyError(f"LoadPanopticSegments needs 'segments_info' for {path}")
        ids = self._read_ids(path)
        ori_shape = results.get('ori_shape')
        if ori_shape is not None and tuple(ori_shape[:2]) != ids.shape:
            raise ValueError(f'Panoptic PNG {path} has shape {ids.shape} but the image '
                             f"{results.get('img_path')} has shape {tuple(ori_shape[:2])}")
        num_classes = _num_classes_from(results, self.num_classes)
        num_things = results.get('num_things_classes')

        segments = results['segments_info']
        check_panoptic_ids(ids, [s['id'] for s in segments], path, results.get('ignored_segment_ids', ()))

        masks, labels, crowd = [], [], []
        max_label = max([int(s['category']) for s in segments], default=0)
        seg_map = np.full(ids.shape, IGNORE_INDEX, dtype=_seg_map_dtype(num_classes, max_label))
        for seg in segments:
            seg_id, label = int(seg['id']), seg['category']
            if not isinstance(label, (int, np.integer)) or label < 0 or (
                    num_classes is not None and label >= num_classes):
                raise ValueError(f'Segment {seg_id} of {path} has category {label!r} outside '
                                 f'[0, {num_classes if num_classes is not None else "num_classes"})')
            if num_things is not None and 'is_thing' in seg and bool(seg['is_thing']) != (label < num_things):
                raise ValueError(f"Segment {seg_id} of {path} has is_thing={seg['is_thing']} but category {label} "
                                 f'is a {"thing" if label < num_things else "stuff"} class '
                                 f'(num_things_classes={num_things})')
            mask = ids == seg_id
            masks.append(mask)
            labels.append(int(label))
            crowd.append(bool(seg.get('iscrowd', 0)))
            seg_map[mask] = label  # crowd pixels keep their class, like the official semantic GT
        _pack_segments(results, masks, labels, crowd, seg_map)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_classes={self.num_classes}, '
                f'imdecode_backend={self.imdecode_backend!r})')


@TRANSFORMS.register_module()
class LoadPanopticTestAnnotations(LoadPanopticAnnotations):
    """mmdet's :class:`LoadPanopticAnnotations` (same arguments and keys) with the checks of training, for test
    pipelines.

    - The PNG must match ``segments_info`` in both directions (:func:`check_panoptic_ids`); a ``ValueError`` names
      the file and the id, where mmdet's loader silently evaluates against a broken annotation.
    - 1-pixel-high or -wide images work (mmdet squeezes the decoded PNG and fails with ``OverflowError``).
    - ``ignored_segment_ids`` (segments of JSON categories outside the dataset's classes) are void.

    Keys as mmdet's: ``gt_masks`` holds the thing segments (``is_thing``), ``gt_seg_map`` every segment's class
    (255 = void), boxes and labels come from the dataset's ``instances``.

    Args:
        check (bool): Apply the strict PNG / ``segments_info`` check. Defaults to True.
        **kwargs: Arguments of mmdet's :class:`LoadPanopticAnnotations`.
    """

    def __init__(self, check: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.check = check

    def _load_masks_and_semantic_segs(self, results: dict) -> None:
        path = results.get('seg_map_path', None)
        if path is None:  # inference on images without annotations
            return
        if 'segments_info' not in results:
            raise KeyError(f"LoadPanopticTestAnnotations needs 'segments_info' for {path}")
        ids = read_panoptic_png(path, self.backend_args, self.imdecode_backend)
        segments = results['segments_info']
        if self.check:
            check_panoptic_ids(ids, [s['id'] for s in segments], path, results.get('ignored_segment_ids', ()))
        ori_shape = results.get('ori_shape')
        if ori_shape is not None and tuple(ori_shape[:2]) != ids.shape:
            raise ValueError(f'Panoptic PNG {path} has shape {ids.shape} but the image '
                             f"{results.get('img_path')} has shape {tuple(ori_shape[:2])}")
        gt_seg = np.full(ids.shape, IGNORE_INDEX, dtype=np.int32)
        gt_masks = []
        for seg in segments:
            mask = ids == seg['id']
            gt_seg[mask] = seg['category']
            if seg.get('is_thing'):
                gt_masks.append(mask.astype(np.uint8))
        if self.with_mask:
            h, w = ids.shape
            results['gt_masks'] = BitmapMasks(gt_masks, h, w)
        if self.with_seg:
            max_label = max([int(s['category']) for s in segments], default=0)
            results['gt_seg_map'] = gt_seg.astype(_seg_map_dtype(None, max_label))

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, check={self.check})'


@TRANSFORMS.register_module()
class LoadSemSegMap(BaseTransform):
    """Load a semantic label map into ``gt_seg_map`` (255 = void): the test-time counterpart of
    :class:`LoadSemSegAsSegments`, with the same decoder and checks.

    Label maps are decoded by :func:`read_label_map` (Pillow: palette PNGs give their indices, as in mmseg / VOC;
    mmdet's ``LoadAnnotations(with_seg=True)`` decodes them with cv2 into colours). ``reduce_zero_label`` and a
    dataset ``label_map`` (``results['label_map']``) apply as in mmdet; labels outside ``[0, num_classes)`` raise
    a ``ValueError`` naming the file.

    Required Keys: ``seg_map_path``; optional ``classes`` (gives ``num_classes``), ``label_map``.

    Added Keys: ``gt_seg_map`` (np.uint8, or np.int32 with more than 255 classes), ``ignore_index`` (255).

    Args:
        num_classes (int, optional): Labels must lie in ``[0, num_classes)``; defaults to
            ``len(results['classes'])`` when the dataset provides it.
        reduce_zero_label (bool): Map label 0 to void and shift the others down by one (ADE-style maps).
        ignore_index (int): Void value of the label map. Defaults to 255.
        imdecode_backend (str): Backend of :func:`mmcv.imfrombytes`. Defaults to 'pillow' (palette PNGs).
        backend_args (dict, optional): File backend arguments.
    """

    def __init__(self,
                 num_classes: Optional[int] = None,
                 reduce_zero_label: bool = False,
                 ignore_index: int = IGNORE_INDEX,
                 imdecode_backend: str = 'pillow',
                 backend_args: Optional[dict] = None) -> None:
        self.num_classes = num_classes
        self.reduce_zero_label = reduce_zero_label
        self.ignore_index = ignore_index
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args

    def _read_labels(self, results: dict) -> Tuple[np.ndarray, np.ndarray, Optional[int]]:
        """(labels int64 with void = ``self.ignore_index``, sorted classes present, num_classes) of the map."""
        path = results.get('seg_map_path')
        if path is None:
            raise KeyError(f"{type(self).__name__} needs 'seg_map_path' (image {results.get('img_path')})")
        labels = read_label_map(path, self.backend_args, self.imdecode_backend).astype(np.int64)
        void = labels == self.ignore_index
        if self.reduce_zero_label:
            void |= labels == 0
            labels = labels - 1
        label_map = results.get('label_map', None)
        if label_map:
            mapped = labels.copy()
            for old_id, new_id in label_map.items():
                mapped[labels == old_id] = new_id
            labels = mapped
        labels[void] = self.ignore_index
        present = np.unique(labels[labels != self.ignore_index])
        num_classes = _num_classes_from(results, self.num_classes)
        bad = present[(present < 0) | (present >= num_classes)] if num_classes is not None else present[present < 0]
        if bad.size:
            raise ValueError(f'Semantic label map {path} has label(s) {bad.tolist()} outside '
                             f'[0, {num_classes}) (ignore_index={self.ignore_index}, '
                             f'reduce_zero_label={self.reduce_zero_label})')
        return labels, present, num_classes

    def _seg_map(self, labels: np.ndarray, present: np.ndarray, num_classes: Optional[int]) -> np.ndarray:
        max_label = int(present.max()) if present.size else 0
        return np.where(labels != self.ignore_index, labels, IGNORE_INDEX).astype(
            _seg_map_dtype(num_classes, max_label))

    def transform(self, results: dict) -> dict:
        labels, present, num_classes = self._read_labels(results)
        results['gt_seg_map'] = self._seg_map(labels, present, num_classes)
        results['ignore_index'] = IGNORE_INDEX
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_classes={self.num_classes}, '
                f'reduce_zero_label={self.reduce_zero_label}, ignore_index={self.ignore_index}, '
                f'imdecode_backend={self.imdecode_backend!r})')


@TRANSFORMS.register_module()
class LoadSemSegAsSegments(LoadSemSegMap):
    """Load a semantic label map as one (non-crowd) segment per class present, for semantic-only data.

    The label map is read like :class:`LoadSemSegMap` (the test-time loader: same decoder, ``reduce_zero_label``,
    dataset ``label_map`` and range check); pixels equal to ``ignore_index`` are void and belong to no segment.
    The keys written are those of :class:`LoadPanopticSegments`, with ``gt_seg_map`` using 255 as void.

    Args:
        num_classes (int, optional): Labels must lie in ``[0, num_classes)``; defaults to
            ``len(results['classes'])`` when the dataset provides it.
        reduce_zero_label (bool): Map label 0 to void and shift the others down by one (ADE-style maps).
        ignore_index (int): Void value of the label map. Defaults to 255.
        imdecode_backend (str): Backend of :func:`mmcv.imfrombytes`. Defaults to 'pillow' (palette PNGs).
        backend_args (dict, optional): File backend arguments.
    """

    def transform(self, results: dict) -> dict:
        labels, present, num_classes = self._read_labels(results)
        masks = [labels == c for c in present]
        _pack_segments(results, masks, present.tolist(), [False] * len(masks), self._seg_map(labels, present,
                                                                                           num_classes))
        results['ignore_index'] = IGNORE_INDEX
        return results
