"""Visualizer that draws each task's prediction in its own panel."""
from typing import Dict, Optional

import mmcv
import numpy as np
import torch
from mmdet.registry import VISUALIZERS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import BaseBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import InstanceData, PixelData

from ..tasks import PRED_FIELDS  # panel order = task order
from .palette import resolve_dataset_meta

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


@VISUALIZERS.register_module()
class OneFormerVisualizer(DetLocalVisualizer):
    """mmdet's :class:`DetLocalVisualizer`, but panoptic, instance and semantic predictions are drawn side by side
    (mmdet overlays them all on one image), an all-void panoptic map draws nothing instead of crashing, and small
    images are upscaled before drawing.

    mmdet writes the class labels in a fixed 6-13 px font, so on small images they cover each other and the
    objects. With ``min_draw_size`` set, images whose longer side is below it are enlarged by an integer factor
    (nearest neighbour, masks and boxes alike) before drawing; the drawings are then that many times larger than the
    input (:meth:`draw_scale` gives the factor). :class:`~oneformer.apis.OneFormerInferencer` (and so
    ``demo/image_demo.py``) uses :data:`DEFAULT_MIN_DRAW_SIZE` unless the config sets it; a config enables it for
    ``tools/test.py --show-dir`` with ``visualizer=dict(type='OneFormerVisualizer', min_draw_size=512, ...)``.

    Args:
        name (str): Instance name (mmengine's ``ManagerMixin``). Defaults to 'visualizer'.
        min_draw_size (int, optional): Longer side below which images are upscaled for drawing; None or 0: never
            (the drawing has the image's size). Defaults to None.
        *args, **kwargs: Further arguments of :class:`DetLocalVisualizer`.
    """

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
        """Panels: [ground truth (if drawn)] + one per predicted task (upscaled when the image is small)."""
        image = image.clip(0, 255).astype(np.uint8)
        if data_sample is not None:
            image, data_sample = self._upscaled(image, data_sample.cpu())
        panels = []
        if data_sample is not None and draw_gt:
            gt = DetDataSample(metainfo=data_sample.metainfo)
            for field in ('gt_instances', 'gt_sem_seg', 'gt_panoptic_seg'):
                if field in data_sample:
                    gt.set_field(data_sample.get(field), field)
            if len(gt.keys()) > 0:
                super().add_datasample(name, image, gt, draw_gt=True, draw_pred=False, show=False, out_file=None,
                                       step=step)
                panels.append(self.get_image())
        if data_sample is not None and draw_pred:
            panels.extend(self._draw_task_panels(image, data_sample, pred_score_thr).values())
        drawn = np.concatenate(panels, axis=1) if panels else image
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)
