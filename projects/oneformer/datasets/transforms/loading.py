"""Load panoptic / semantic annotations as one mask per segment (mmdet's standard keys).

Both loaders write ``gt_masks`` (one :class:`BitmapMasks` per segment, things *and* stuff), ``gt_bboxes`` (from the
masks), ``gt_bboxes_labels``, ``gt_ignore_flags`` (crowd) and ``gt_seg_map`` (255 = void). mmdet's augmentations
(flip, resize, crop, pad, photometric) transform these keys consistently; the per-task OneFormer targets are
derived afterwards by :class:`~oneformer.datasets.transforms.OneFormerTaskTargets`.
"""
from typing import List, Optional

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmdet.datasets.transforms import LoadAnnotations
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks
from mmengine.fileio import get

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


@TRANSFORMS.register_module()
class LoadPanopticSegments(BaseTransform):
    """Load a COCO-panoptic PNG as one mask per segment (things, stuff and crowd).

    The PNG encodes segment ids as ``R + 256 G + 256^2 B`` (0 = void). ``segments_info`` is the dataset's list of
    segments of the image, each a dict with ``id``, ``category`` (contiguous label, things first), ``iscrowd`` and
    optionally ``is_thing``. Loading is strict: every non-void id of the PNG must be listed in ``segments_info`` and
    every listed segment must have pixels, otherwise a ``ValueError`` names the file and the id.

    Required Keys:

    - seg_map_path
    - segments_info
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
        from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import rgb2id
        self.rgb2id = rgb2id
        self.num_classes = num_classes
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args

    def _read_ids(self, path: str) -> np.ndarray:
        try:
            img_bytes = get(path, backend_args=self.backend_args)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'Panoptic annotation PNG not found: {path}') from e
        png = mmcv.imfrombytes(img_bytes, flag='color', channel_order='rgb', backend=self.imdecode_backend)
        if png is None:
            raise ValueError(f'Cannot decode panoptic annotation PNG {path}')
        return self.rgb2id(png)

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
        listed = [int(s['id']) for s in segments]
        dup = sorted({i for i in listed if listed.count(i) > 1})
        if dup:
            raise ValueError(f'segments_info of {path} lists segment id(s) {dup} more than once')
        present = np.unique(ids)
        unlisted = sorted(set(present.tolist()) - {0} - set(listed))
        if unlisted:
            raise ValueError(f'Panoptic PNG {path} contains segment id(s) {unlisted} that are not in segments_info')

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
            if not mask.any():
                raise ValueError(f'Segment id {seg_id} is listed in segments_info but absent from the PNG {path}')
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
class LoadSemSegAsSegments(LoadAnnotations):
    """Load a semantic label map as one (non-crowd) segment per class present, for semantic-only data.

    The label map is read by mmdet's :class:`LoadAnnotations` (so ``reduce_zero_label`` and a dataset
    ``label_map`` apply); pixels equal to ``ignore_index`` are void and belong to no segment. The keys written are
    those of :class:`LoadPanopticSegments`, with ``gt_seg_map`` using 255 as void.

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
        super().__init__(
            with_bbox=False, with_label=False, with_mask=False, with_seg=True, reduce_zero_label=reduce_zero_label,
            ignore_index=ignore_index, imdecode_backend=imdecode_backend, backend_args=backend_args)
        self.num_classes = num_classes

    def transform(self, results: dict) -> dict:
        path = results.get('seg_map_path')
        if path is None:
            raise KeyError(f"LoadSemSegAsSegments needs 'seg_map_path' (image {results.get('img_path')})")
        try:
            self._load_seg_map(results)
        except FileNotFoundError as e:
            raise FileNotFoundError(f'Semantic label map not found: {path}') from e
        labels_map = np.asarray(results['gt_seg_map']).astype(np.int64)
        if labels_map.ndim != 2:
            raise ValueError(f'Semantic label map {path} must be single-channel, got shape {labels_map.shape}')
        valid = labels_map != self.ignore_index
        present = np.unique(labels_map[valid])
        num_classes = _num_classes_from(results, self.num_classes)
        bad = present[(present < 0) | (present >= num_classes)] if num_classes is not None else present[present < 0]
        if bad.size:
            raise ValueError(f'Semantic label map {path} has label(s) {bad.tolist()} outside '
                             f'[0, {num_classes}) (ignore_index={self.ignore_index})')
        max_label = int(present.max()) if present.size else 0
        seg_map = np.where(valid, labels_map, IGNORE_INDEX).astype(_seg_map_dtype(num_classes, max_label))
        masks = [labels_map == c for c in present]
        _pack_segments(results, masks, present.tolist(), [False] * len(masks), seg_map)
        results['ignore_index'] = IGNORE_INDEX
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_classes={self.num_classes}, '
                f'reduce_zero_label={self.reduce_zero_label}, ignore_index={self.ignore_index})')
