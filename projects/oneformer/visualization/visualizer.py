"""Visualizer that draws each task's prediction in its own panel."""
from typing import Dict, Optional

import mmcv
import numpy as np
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import VISUALIZERS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import BaseBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import InstanceData, PixelData

from ..tasks import PRED_FIELDS  # panel order = task order
from .palette import resolve_dataset_meta
from .panels import GT_TITLE, INPUT_TITLE, titled_strip

#: ``min_draw_size`` of the inferencer's drawings when the config leaves it unset
DEFAULT_MIN_DRAW_SIZE = 512


def _repeat(x, factor: int):
    """Nearest-neighbour upscale of the last two axes of a tensor / array by an integer factor."""
    if isinstance(x, torch.Tensor):
        return x.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)
    return np.asarray(x).repeat(factor, axis=-2).repeat(factor, axis=-1)


def upscale_sample(sample: DetDataSample, factor: int) -> DetDataSample:
    """A copy of ``sample`` whose masks, maps and boxes (gt and pred) are ``factor`` times larger."""
    out = DetDataSample(metainfo=sample.metainfo)
    for field in sample.keys():
        value = sample.get(field)
        if isinstance(value, PixelData):
            new = PixelData(metainfo=value.metainfo)
            for key in value.keys():
                new.set_field(_repeat(value.get(key), factor), key)
        elif isinstance(value, InstanceData):
            new = value.clone()
            if 'masks' in value:
                masks = value.masks
                if isinstance(masks, (BitmapMasks, PolygonMasks)):
                    new.masks = masks.resize((masks.height * factor, masks.width * factor))
                else:
                    new.masks = _repeat(masks, factor)
            if 'bboxes' in value:
                boxes = value.bboxes
                if isinstance(boxes, BaseBoxes):
                    boxes = boxes.clone()
                    boxes.rescale_((factor, factor))
                    new.bboxes = boxes
                else:
                    new.bboxes = boxes * factor
        else:
            new = value
        out.set_field(new, field)
    return out


def gt_panoptic_map(data_sample: DetDataSample, num_classes: int) -> PixelData:
    """mmdet's panoptic encoding (``label + k * INSTANCE_OFFSET``, void = ``num_classes``) of a sample's ground
    truth given as thing masks (``gt_instances``, k = 1, 2, ...) and a class map (``gt_sem_seg``, 255 or its
    ``ignore_index`` = void): pixels of no thing keep their class (k = 0, one segment per class)."""
    sem = data_sample.gt_sem_seg.sem_seg
    sem = (sem.cpu().numpy() if isinstance(sem, torch.Tensor) else np.asarray(sem))[0].astype(np.int64)
    ignore_index = data_sample.gt_sem_seg.metainfo.get('ignore_index', 255)
    pan = np.where((sem == ignore_index) | (sem < 0) | (sem >= num_classes), num_classes, sem)
    inst = data_sample.gt_instances
    masks = inst.masks
    if isinstance(masks, (BitmapMasks, PolygonMasks)):
        masks = masks.to_ndarray()
    masks = masks.cpu().numpy() if isinstance(masks, torch.Tensor) else np.asarray(masks)
    labels = inst.labels.cpu().numpy() if isinstance(inst.labels, torch.Tensor) else np.asarray(inst.labels)
    for k, (mask, label) in enumerate(zip(masks.astype(bool), labels), start=1):
        pan[mask] = int(label) + k * INSTANCE_OFFSET
    return PixelData(sem_seg=pan[None])


@VISUALIZERS.register_module()
class OneFormerVisualizer(DetLocalVisualizer):
    """mmdet's :class:`DetLocalVisualizer`, but the input, the ground truth and each task's prediction (panoptic,
    instance, semantic) are drawn side by side under titles (mmdet overlays them all on one image), an all-void
    panoptic map draws nothing instead of crashing, and small images are upscaled before drawing.

    :meth:`add_datasample` (what mmdet's ``DetVisualizationHook`` calls for ``tools/test.py --show-dir``) saves
    one image per sample, :meth:`draw_panels` (also ``make demo``'s pictures): ``input | ground truth | panoptic |
    instance | semantic``. A ground truth with thing masks and a class map is drawn as one panoptic map (one label
    per segment, see :func:`gt_panoptic_map`).

    mmdet writes the class labels in a fixed 6-13 px font, so on small images they cover each other and the
    objects. With ``min_draw_size`` set, images whose longer side is below it are enlarged by an integer factor
    (nearest neighbour, masks and boxes alike) before drawing; the drawings are then that many times larger than the
    input (:meth:`draw_scale` gives the factor). ``configs/_base_/default_runtime.py`` sets 512 (``--show-dir``);
    :class:`~oneformer.apis.OneFormerInferencer` (and so ``demo/image_demo.py``) uses :data:`DEFAULT_MIN_DRAW_SIZE`
    unless the config sets it.

    Args:
        name (str): Instance name (mmengine's ``ManagerMixin``). Defaults to 'visualizer'.
        min_draw_size (int, optional): Longer side below which images are upscaled for drawing; None or 0: never
            (the drawing has the image's size). Defaults to None.
        *args, **kwargs: Further arguments of :class:`DetLocalVisualizer`.
    """

    #: smallest font size (px) of the labels (see :meth:`draw_texts`)
    min_font_size = 10

    def __init__(self, name: str = 'visualizer', *args, min_draw_size: Optional[int] = None, **kwargs) -> None:
        super().__init__(name, *args, **kwargs)
        if min_draw_size is not None and min_draw_size < 0:
            raise ValueError(f'min_draw_size must be >= 0 or None, got {min_draw_size}')
        self.min_draw_size = min_draw_size

    @property
    def dataset_meta(self) -> Optional[dict]:
        """Classes and palette of the drawings; on assignment the palette becomes one colour per class
        (:func:`~oneformer.visualization.palette.resolve_palette`: names, missing or short palettes)."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: Optional[dict]) -> None:
        self._dataset_meta = resolve_dataset_meta(dataset_meta, f'dataset_meta of visualizer {self.instance_name!r}')

    def draw_texts(self, texts, positions, font_sizes=None, *args, **kwargs):
        """mmengine's ``draw_texts`` with label fonts of at least :attr:`min_font_size` px: mmdet sizes a label by
        its segment's area with an integer division, so every segment under ~30000 px gets a 6 px label."""
        if font_sizes is not None:
            font_sizes = (max(int(font_sizes), self.min_font_size) if np.isscalar(font_sizes) else
                          [max(int(f), self.min_font_size) for f in font_sizes])
        return super().draw_texts(texts, positions, font_sizes, *args, **kwargs)

    def draw_scale(self, height: int, width: int) -> int:
        """Integer factor images of this size are upscaled by before drawing (1 = not upscaled)."""
        longer = max(height, width)
        if not self.min_draw_size or longer <= 0 or longer >= self.min_draw_size:
            return 1
        return max(1, int(round(self.min_draw_size / longer)))

    def _upscaled(self, image: np.ndarray, data_sample: Optional[DetDataSample]):
        factor = self.draw_scale(*image.shape[:2])
        if factor == 1:
            return image, data_sample
        image = image.repeat(factor, axis=0).repeat(factor, axis=1)
        return image, (upscale_sample(data_sample, factor) if data_sample is not None else None)

    def _draw_panoptic_seg(self, image: np.ndarray, panoptic_seg, classes, palette) -> np.ndarray:
        ids = np.unique(panoptic_seg.sem_seg[0])
        if (ids != len(classes)).sum() == 0:  # nothing but void: mmdet's version fails on np.stack([])
            self.set_image(image)
            return image
        return super()._draw_panoptic_seg(image, panoptic_seg, classes, palette)

    def draw_tasks(self, image: np.ndarray, data_sample: DetDataSample,
                   pred_score_thr: float = 0.3) -> Dict[str, np.ndarray]:
        """One RGB image per predicted task present in ``data_sample``: {'panoptic': ..., 'instance': ...}
        (upscaled by :meth:`draw_scale` when the image is small)."""
        image, data_sample = self._upscaled(image, data_sample.cpu())
        return self._draw_task_panels(image, data_sample, pred_score_thr)

    def _draw_task_panels(self, image: np.ndarray, data_sample: DetDataSample,
                          pred_score_thr: float) -> Dict[str, np.ndarray]:
        classes = self.dataset_meta.get('classes', None)
        palette = self.dataset_meta.get('palette', None)
        drawn = {}
        for task, field in PRED_FIELDS.items():
            if field not in data_sample:
                continue
            pred = data_sample.get(field)
            if task == 'instance':
                drawn[task] = self._draw_instances(image, pred[pred.scores > pred_score_thr], classes, palette)
            elif task == 'semantic':
                drawn[task] = self._draw_sem_seg(image, pred, classes, palette)
            else:
                drawn[task] = self._draw_panoptic_seg(image, pred.numpy(), classes, palette)
        return drawn

    def _draw_ground_truth(self, image: np.ndarray, data_sample: DetDataSample) -> Optional[np.ndarray]:
        """The ground truth in one panel, drawn like the panoptic prediction when it has both things and a label
        map (one label per segment; mmdet draws boxes, instance labels and class labels on top of each other);
        None when ``data_sample`` has none."""
        classes = self.dataset_meta.get('classes', None)
        palette = self.dataset_meta.get('palette', None)
        if 'gt_panoptic_seg' in data_sample:
            return self._draw_panoptic_seg(image, data_sample.gt_panoptic_seg, classes, palette)
        if 'gt_sem_seg' in data_sample and 'gt_instances' in data_sample and classes is not None:
            return self._draw_panoptic_seg(image, gt_panoptic_map(data_sample, len(classes)), classes, palette)
        if 'gt_sem_seg' in data_sample:
            return self._draw_sem_seg(image, data_sample.gt_sem_seg, classes, palette)
        if 'gt_instances' in data_sample:
            return self._draw_instances(image, data_sample.gt_instances, classes, palette)
        return None

    def draw_panels(self, image: np.ndarray, data_sample: Optional[DetDataSample], draw_gt: bool = True,
                    draw_pred: bool = True, pred_score_thr: float = 0.3) -> np.ndarray:
        """input | ground truth | one panel per predicted task, each under its title (upscaled when the image is
        small, see :meth:`draw_scale`): what ``make demo`` and ``tools/test.py --show-dir`` save."""
        image = image.clip(0, 255).astype(np.uint8)
        if data_sample is not None:
            image, data_sample = self._upscaled(image, data_sample.cpu())
        panels, titles = [image], [INPUT_TITLE]
        if data_sample is not None and draw_gt:
            gt = self._draw_ground_truth(image, data_sample)
            if gt is not None:
                panels.append(gt)
                titles.append(GT_TITLE)
        if data_sample is not None and draw_pred:
            drawn = self._draw_task_panels(image, data_sample, pred_score_thr)
            panels.extend(drawn.values())
            titles.extend(drawn.keys())
        return titled_strip(panels, titles)

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[DetDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       pred_score_thr: float = 0.3,
                       step: int = 0) -> None:
        """Draw :meth:`draw_panels`; show it, write it to ``out_file``, or (no ``out_file``) hand it to the
        visualization backends: one image per sample."""
        drawn = self.draw_panels(image, data_sample, draw_gt, draw_pred, pred_score_thr)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)
