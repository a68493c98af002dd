"""OneFormer post-processors: panoptic, instance and semantic results from one set of query predictions."""
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.models.seg_heads.panoptic_fusion_heads import MaskFormerFusionHead
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmengine.structures import PixelData
from torch import Tensor

from ..utils import TASKS

# which post-processor serves which task, and the mmdet result key it fills
RESULT_KEYS = {'panoptic': 'pan_results', 'instance': 'ins_results', 'semantic': 'sem_results'}


def semantic_scores(mask_cls: Tensor, mask_pred: Tensor) -> Tensor:
    """Per-class scores Σ_q softmax(cls_q)[:K] · sigmoid(mask_q): (..., N, K+1), (..., N, H, W) -> (..., K, H, W)."""
    return torch.einsum('...qc,...qhw->...chw', F.softmax(mask_cls, dim=-1)[..., :-1], mask_pred.sigmoid())


@MODELS.register_module()
class OneFormerFusionHead(MaskFormerFusionHead):
    """Turns final query predictions into ``pred_panoptic_seg``, ``pred_instances`` and ``pred_sem_seg``.

    ``test_cfg`` keys: ``object_mask_thr`` (panoptic query score threshold: COCO/Cityscapes 0.8, ADE20K 0.5),
    ``iou_thr`` (overlap threshold, 0.8), ``max_per_image`` (instance top-k over N×K, official: N).

    * panoptic: keep queries whose best class is not "no object" and scores > ``object_mask_thr``; pixels go to
      argmax_q(score_q · mask_q); a query's segment is its argmax region ∩ (mask ≥ 0.5), dropped if the region
      covers < ``iou_thr`` of the mask; segments of one stuff class are merged.
    * instance: top-k of the N×K class probabilities, thing classes only, score = class prob × mean mask prob
      inside the binary mask (mmdet's ``instance_postprocess``), boxes from masks.
    * semantic: Σ_q softmax(cls)[:K] · sigmoid(mask), argmax.
    """

    def panoptic_postprocess(self, mask_cls: Tensor, mask_pred: Tensor) -> PixelData:
        """(N, K+1) logits, (N, H, W) mask logits -> ids ``label + instance_id * INSTANCE_OFFSET``, void = K."""
        object_mask_thr = self.test_cfg.get('object_mask_thr', 0.8)
        iou_thr = self.test_cfg.get('iou_thr', 0.8)
        scores, labels = F.softmax(mask_cls, dim=-1).max(-1)
        keep = labels.ne(self.num_classes) & (scores > object_mask_thr)
        scores, labels, masks = scores[keep], labels[keep], mask_pred[keep].sigmoid()
        h, w = mask_pred.shape[-2:]
        panoptic_seg = torch.full((h, w), self.num_classes, dtype=torch.int32, device=mask_pred.device)
        if masks.shape[0] == 0:
            return PixelData(sem_seg=panoptic_seg[None])

        mask_ids = (scores[:, None, None] * masks).argmax(0)
        binary = masks >= 0.5
        region = mask_ids[None] == torch.arange(masks.shape[0], device=masks.device)[:, None, None]
        # areas for all kept queries at once; the loop below only writes the surviving segments
        region_area = region.flatten(1).sum(1)
        mask_area = binary.flatten(1).sum(1)
        segments = region & binary
        seg_area = segments.flatten(1).sum(1)
        valid = (region_area > 0) & (mask_area > 0) & (seg_area > 0) & \
            (region_area >= iou_thr * mask_area)
        instance_id = 1
        for k in valid.nonzero().flatten().tolist():
            label = int(labels[k])
            if label < self.num_things_classes:
                panoptic_seg[segments[k]] = label + instance_id * INSTANCE_OFFSET
                instance_id += 1
            else:  # stuff segments of one class share id = label, i.e. they are merged
                panoptic_seg[segments[k]] = label
        return PixelData(sem_seg=panoptic_seg[None])

    semantic_scores = staticmethod(semantic_scores)

    def semantic_postprocess(self, mask_cls: Tensor, mask_pred: Tensor) -> PixelData:
        return PixelData(sem_seg=semantic_scores(mask_cls, mask_pred).argmax(0)[None])

    def predict(self,
                mask_cls_results: Tensor,
                mask_pred_results: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = False,
                outputs: Sequence[str] = TASKS,
                **kwargs) -> List[Dict]:
        """Post-process a batch.

        Args:
            mask_cls_results (Tensor): (B, N, K+1) class logits.
            mask_pred_results (Tensor): (B, N, H, W) mask logits at the padded batch size.
            batch_data_samples (list[DetDataSample]): samples with ``img_shape``/``ori_shape`` metainfo.
            rescale (bool): resize to the original image size. Defaults to False.
            outputs (Sequence[str]): which of 'panoptic', 'instance', 'semantic' to produce.

        Returns:
            list[dict]: per image, ``pan_results`` / ``ins_results`` / ``sem_results`` as requested.
        """
        results = []
        for mask_cls, mask_pred, sample in zip(mask_cls_results, mask_pred_results, batch_data_samples):
            meta = sample.metainfo
            h, w = meta['img_shape'][:2]
            mask_pred = mask_pred[:, :h, :w]
            if rescale:
                mask_pred = F.interpolate(
                    mask_pred[:, None], size=tuple(meta['ori_shape'][:2]), mode='bilinear',
                    align_corners=False)[:, 0]
            result = {}
            for task in outputs:
                post = getattr(self, f'{task}_postprocess')
                result[RESULT_KEYS[task]] = post(mask_cls, mask_pred)
            results.append(result)
        return results
