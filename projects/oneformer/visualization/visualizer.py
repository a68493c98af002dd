"""Visualizer that draws each task's prediction in its own panel."""
from typing import Dict, Optional

import mmcv
import numpy as np
from mmdet.registry import VISUALIZERS
from mmdet.structures import DetDataSample
from mmdet.visualization import DetLocalVisualizer

# (task, data-sample field) in panel order
TASK_FIELDS = (('panoptic', 'pred_panoptic_seg'), ('instance', 'pred_instances'), ('semantic', 'pred_sem_seg'))


@VISUALIZERS.register_module()
class OneFormerVisualizer(DetLocalVisualizer):
    """mmdet's :class:`DetLocalVisualizer`, but panoptic, instance and semantic predictions are drawn side by side
    (mmdet overlays them all on one image), and an all-void panoptic map draws nothing instead of crashing."""

    def _draw_panoptic_seg(self, image: np.ndarray, panoptic_seg, classes, palette) -> np.ndarray:
        ids = np.unique(panoptic_seg.sem_seg[0])
        if (ids != len(classes)).sum() == 0:  # nothing but void: mmdet's version fails on np.stack([])
            self.set_image(image)
            return image
        return super()._draw_panoptic_seg(image, panoptic_seg, classes, palette)

    def draw_tasks(self, image: np.ndarray, data_sample: DetDataSample,
                   pred_score_thr: float = 0.3) -> Dict[str, np.ndarray]:
        """One RGB image per predicted task present in ``data_sample``: {'panoptic': ..., 'instance': ...}."""
        classes = self.dataset_meta.get('classes', None)
        palette = self.dataset_meta.get('palette', None)
        data_sample = data_sample.cpu()
        drawn = {}
        for task, field in TASK_FIELDS:
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
        """Panels: [ground truth (if drawn)] + one per predicted task."""
        image = image.clip(0, 255).astype(np.uint8)
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
            panels.extend(self.draw_tasks(image, data_sample, pred_score_thr).values())
        drawn = np.concatenate(panels, axis=1) if panels else image
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)
