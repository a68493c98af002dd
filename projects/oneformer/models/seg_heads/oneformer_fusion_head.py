"""OneFormer post-processors: panoptic, instance and semantic results from one set of query predictions."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.models.seg_heads.panoptic_fusion_heads import MaskFormerFusionHead
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.mask import mask2bbox
from mmengine.structures import InstanceData, PixelData
from torch import Tensor

from ...tasks import TASKS


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

    def panoptic_queries(self, mask_cls: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Best score and label per query, and which queries the panoptic output keeps (an object class with
        score > ``object_mask_thr``).

        Args:
            mask_cls (Tensor): (N, K+1) class logits of one image.

        Returns:
            tuple[Tensor]: ``scores`` (N,) and ``labels`` (N,) of the best class, ``keep`` (N,) bool.
        """
        scores, labels = F.softmax(mask_cls, dim=-1).max(-1)
        keep = labels.ne(self.num_classes) & (scores > self.test_cfg.get('object_mask_thr', 0.8))
        return scores, labels, keep

    def panoptic_postprocess(self, mask_cls: Tensor, mask_pred: Tensor) -> PixelData:
        """Panoptic segmentation of one image.

        Args:
            mask_cls (Tensor): (N, K+1) class logits.
            mask_pred (Tensor): (N, H, W) mask logits at the output size.

        Returns:
            PixelData: ``sem_seg`` (1, H, W) int32 ids ``label + instance_id * INSTANCE_OFFSET`` (stuff: instance
            id 0), void = K.
        """
        iou_thr = self.test_cfg.get('iou_thr', 0.8)
        scores, labels, keep = self.panoptic_queries(mask_cls)
        scores, labels, masks = scores[keep], labels[keep], mask_pred[keep].sigmoid()
        h, w = mask_pred.shape[-2:]
        panoptic_seg = torch.full((h, w), self.num_classes, dtype=torch.int32, device=mask_pred.device)
        if masks.shape[0] == 0:
            return PixelData(sem_seg=panoptic_seg[None])

        mask_ids = (scores[:, None, None] * masks).max(0).indices  # = argmax(0) (first maximum), 2-5x faster
        binary = masks >= 0.5
        num_kept = masks.shape[0]
        # Per-query areas in O(H·W) instead of (kept, H, W) boolean maps: a pixel belongs to the segment of its
        # argmax query when that query's own mask is >= 0.5 there (segments are disjoint by construction).
        own = binary.gather(0, mask_ids[None])[0]
        region_area = torch.bincount(mask_ids.flatten(), minlength=num_kept)
        mask_area = binary.view(torch.uint8).flatten(1).sum(1, dtype=torch.int32)  # exact, no bool->int64 copy
        seg_area = torch.bincount(mask_ids[own], minlength=num_kept)
        valid = (region_area > 0) & (mask_area > 0) & (seg_area > 0) & \
            (region_area >= iou_thr * mask_area)
        # ids of the surviving segments: things numbered 1, 2, ... in query order, stuff of one class merged
        is_thing = labels < self.num_things_classes
        instance_id = torch.cumsum((valid & is_thing).int(), 0)
        ids = torch.where(is_thing, labels + instance_id * INSTANCE_OFFSET, labels)
        lut = torch.where(valid, ids, torch.full_like(ids, self.num_classes)).to(torch.int32)
        panoptic_seg = torch.where(own, lut[mask_ids], panoptic_seg)
        return PixelData(sem_seg=panoptic_seg[None])

    semantic_scores = staticmethod(semantic_scores)

    def semantic_postprocess(self, mask_cls: Tensor, mask_pred: Tensor) -> PixelData:
        """Semantic segmentation of one image: argmax over classes of :func:`semantic_scores`.

        Args:
            mask_cls (Tensor): (N, K+1) class logits.
            mask_pred (Tensor): (N, H, W) mask logits at the output size.

        Returns:
            PixelData: ``sem_seg`` (1, H, W) int64 class labels.
        """
        return PixelData(sem_seg=semantic_scores(mask_cls, mask_pred).max(0).indices[None])  # = argmax(0)

    def instance_queries(self, mask_cls: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """The instance selection: top-k (``max_per_image``) of the N×K class probabilities, thing classes only.

        Args:
            mask_cls (Tensor): (N, K+1) class logits of one image.

        Returns:
            tuple[Tensor]: query indices (n,), labels (n,) and class scores (n,) of the selected (query, class)
            pairs, n <= ``max_per_image``.
        """
        scores = F.softmax(mask_cls, dim=-1)[:, :-1]
        k = min(self.test_cfg.get('max_per_image', 100), scores.numel())
        top_scores, top = scores.flatten().topk(k, sorted=False)
        labels = top % self.num_classes
        is_thing = labels < self.num_things_classes
        return top[is_thing] // self.num_classes, labels[is_thing], top_scores[is_thing]

    def instance_postprocess(self, mask_cls: Tensor, mask_pred: Tensor) -> InstanceData:
        """Instance segmentation of one image (the official ``instance_inference``): score = class prob × mean mask
        prob inside the binary mask (mask logit > 0), boxes from the masks.

        Args:
            mask_cls (Tensor): (N, K+1) class logits.
            mask_pred (Tensor): (N, H, W) mask logits at the output size.

        Returns:
            InstanceData: ``masks`` (n, H, W) bool, ``labels`` (n,), ``scores`` (n,), ``bboxes`` (n, 4) x1y1x2y2.
        """
        queries, labels, scores = self.instance_queries(mask_cls)
        masks = mask_pred[queries]
        binary = masks > 0
        mask_scores = (masks.sigmoid() * binary).flatten(1).sum(1) / (binary.flatten(1).sum(1) + 1e-6)
        return InstanceData(bboxes=mask2bbox(binary), labels=labels, scores=scores * mask_scores, masks=binary)

    def read_queries(self, mask_cls: Tensor, tasks: Sequence[str]) -> Optional[Tensor]:
        """Sorted indices of the queries whose masks the post-processors of ``tasks`` read.

        Args:
            mask_cls (Tensor): (N, K+1) class logits of one image.
            tasks (Sequence[str]): The outputs to produce.

        Returns:
            Tensor | None: (n,) query indices; None: all N (the semantic output reads every mask).
        """
        if 'semantic' in tasks:
            return None
        keep = []
        if 'panoptic' in tasks:
            keep.append(torch.nonzero(self.panoptic_queries(mask_cls)[2]).flatten())
        if 'instance' in tasks:
            keep.append(self.instance_queries(mask_cls)[0])
        return torch.unique(torch.cat(keep)) if keep else None

    @staticmethod
    def resize_masks(mask_pred: Tensor, queries: Optional[Tensor], pad_shape: Tuple[int, int],
                     img_shape: Tuple[int, int], out_shape: Tuple[int, int]) -> Tensor:
        """Upsample to the padded input size, crop the padding, resize to ``out_shape``, for the rows in
        ``queries`` only (others are left uninitialised: no post-processor reads them). Bilinear resizing treats
        each query on its own, so the rows equal a full resize up to float rounding (PyTorch vectorises across
        channels, ~1 ulp); same-size resizes are skipped (they are the identity).

        Args:
            mask_pred (Tensor): (N, h, w) mask logits of one image (1/4 scale or padded input size).
            queries (Tensor, optional): (n,) rows to resize; None: all.
            pad_shape, img_shape, out_shape (tuple[int, int]): from :meth:`resize_shapes`.

        Returns:
            Tensor: (N, H_out, W_out) mask logits (rows outside ``queries`` uninitialised).
        """
        if queries is not None and queries.numel() == 0:
            return mask_pred.new_empty((mask_pred.shape[0], ) + tuple(out_shape))
        masks = mask_pred if queries is None else mask_pred[queries]
        if masks.shape[-2:] != pad_shape:
            masks = F.interpolate(masks[None], size=pad_shape, mode='bilinear', align_corners=False)[0]
        masks = masks[:, :img_shape[0], :img_shape[1]]
        if masks.shape[-2:] != out_shape:
            masks = F.interpolate(masks[:, None], size=out_shape, mode='bilinear', align_corners=False)[:, 0]
        if queries is None:
            return masks
        full = masks.new_empty((mask_pred.shape[0], ) + tuple(out_shape))
        full[queries] = masks
        return full

    @staticmethod
    def resize_shapes(meta: dict, mask_pred: Tensor,
                      rescale: bool) -> Tuple[Tuple[int, int], Tuple[int, int], Tuple[int, int]]:
        """``pad_shape``, ``img_shape`` and ``out_shape`` of :meth:`resize_masks` for one sample's metainfo: the
        padded batch input size, the un-padded image size and the output size (``ori_shape`` when ``rescale``).

        Args:
            meta (dict): The sample's metainfo (``img_shape``, ``ori_shape``, ``batch_input_shape``).
            mask_pred (Tensor): (N, h, w) mask logits of the image.
            rescale (bool): Output at ``ori_shape`` (else ``img_shape``).

        Returns:
            tuple[tuple[int, int]]: ``(pad_shape, img_shape, out_shape)`` as (H, W).
        """
        img_shape = tuple(meta['img_shape'][:2])
        if 'batch_input_shape' in meta:
            pad_shape = tuple(meta['batch_input_shape'][:2])
        elif all(m >= i for m, i in zip(mask_pred.shape[-2:], img_shape)):
            pad_shape = tuple(mask_pred.shape[-2:])  # masks already at the (padded) input size
        else:
            raise KeyError(f'data sample metainfo has no "batch_input_shape" (needed to upsample '
                           f'{tuple(mask_pred.shape[-2:])} masks to an img_shape of {img_shape})')
        out_shape = tuple(meta['ori_shape'][:2]) if rescale else img_shape
        return pad_shape, img_shape, out_shape

    def semantic_score_maps(self, mask_cls_results: Tensor, mask_pred_results: Tensor,
                            batch_data_samples: SampleList, rescale: bool = True) -> List[Tensor]:
        """The semantic scores before the argmax of ``semantic_postprocess``, for test-time augmentation.

        The official ``SemanticSegmentorWithTTA`` (OneFormer ``test_time_augmentation.py``, from Mask2Former)
        averages these maps, the model's ``sem_seg`` output at the original image size, over the augmented views.

        Args:
            mask_cls_results (Tensor): (B, N, K+1) class logits.
            mask_pred_results (Tensor): (B, N, h, w) mask logits (as in :meth:`predict`).
            batch_data_samples (list[DetDataSample]): samples with ``img_shape`` / ``ori_shape`` (and
                ``batch_input_shape``) metainfo.
            rescale (bool): at the original image size (else at ``img_shape``). Defaults to True.

        Returns:
            list[Tensor]: per image, Σ_q softmax(cls_q)[:K] · sigmoid(mask_q), (K, H, W).
        """
        return [
            semantic_scores(mask_cls, self.resize_masks(mask_pred, None, *self.resize_shapes(
                sample.metainfo, mask_pred, rescale)))
            for mask_cls, mask_pred, sample in zip(mask_cls_results, mask_pred_results, batch_data_samples)
        ]

    def predict(self,
                mask_cls_results: Tensor,
                mask_pred_results: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = False,
                tasks: Sequence[str] = TASKS,
                **kwargs) -> List[Dict]:
        """Post-process a batch.

        Args:
            mask_cls_results (Tensor): (B, N, K+1) class logits.
            mask_pred_results (Tensor): (B, N, H, W) mask logits at the padded batch size, or at a lower
                resolution (the decoder's 1/4): they are then upsampled to ``batch_input_shape`` first.
            batch_data_samples (list[DetDataSample]): samples with ``img_shape``/``ori_shape`` metainfo.
            rescale (bool): resize to the original image size. Defaults to False.
            tasks (Sequence[str]): which of 'panoptic', 'instance', 'semantic' outputs to produce.

        Returns:
            list[dict]: per image, ``{task: PixelData or InstanceData}`` for the requested tasks.
        """
        results = []
        for mask_cls, mask_pred, sample in zip(mask_cls_results, mask_pred_results, batch_data_samples):
            mask_pred = self.resize_masks(mask_pred, self.read_queries(mask_cls, tasks),
                                          *self.resize_shapes(sample.metainfo, mask_pred, rescale))
            result = {}
            for task in tasks:
                post = getattr(self, f'{task}_postprocess')
                result[task] = post(mask_cls, mask_pred)
            results.append(result)
        return results
