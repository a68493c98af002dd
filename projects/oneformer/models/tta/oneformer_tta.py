"""Multi-scale + flip test-time augmentation of the semantic task (the "mIoU ms+flip" column of the paper).

OneFormer (Jain et al., CVPR 2023) reports mIoU single-scale and multi-scale + flip on ADE20K, Cityscapes and
Mapillary Vistas (the "ms" column of its result tables and README); PQ and AP are single-scale only. The official
evaluation (``train_net.py`` with ``TEST.AUG.ENABLED``) wraps the model in ``SemanticSegmentorWithTTA`` (OneFormer
``oneformer/test_time_augmentation.py``, taken from Mask2Former): for each short-edge size of ``TEST.AUG.MIN_SIZES``
(long edge <= ``TEST.AUG.MAX_SIZE``) and, with ``TEST.AUG.FLIP``, its horizontal flip
(``oneformer/datasetmapper_tta.py``), the model's ``sem_seg`` output -- the per-class scores
Σ_q softmax(cls_q)[:K] · sigmoid(mask_q) at the original image size -- is flipped back and the maps are averaged;
the evaluator takes the argmax.
"""
from typing import List, Optional, Sequence

import torch
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmengine.model import BaseTTAModel
from mmengine.structures import PixelData
from torch import Tensor

#: data-sample field that carries a view's semantic scores (flip undone, original size) into :meth:`merge_preds`
SCORES_FIELD = 'sem_seg_scores'


def undo_flip(scores: Tensor, meta: dict) -> Tensor:
    """Flip a (..., H, W) map of a flipped view back to the orientation of the original image.

    Args:
        scores (Tensor): The view's map at the original image size.
        meta (dict): The view's metainfo: ``flip`` and ``flip_direction`` as mmdet's ``RandomFlip`` writes them.

    Returns:
        Tensor: ``scores`` in the original orientation.
    """
    if not meta['flip']:
        return scores
    dims = {'horizontal': (-1, ), 'vertical': (-2, ), 'diagonal': (-2, -1)}[meta['flip_direction']]
    return scores.flip(dims)


@MODELS.register_module()
class OneFormerTTAModel(BaseTTAModel):
    """Multi-scale + flip semantic segmentation of an mmdet :class:`OneFormer`, single-scale panoptic / instance.

    Each augmented view (mmcv ``TestTimeAug``) runs the backbone and pixel decoder once and the decoder with the
    token "the task is semantic"; its semantic scores Σ_q softmax(cls)[:K] · sigmoid(mask) are resized to the
    original image size, flipped back and averaged over the views, and ``pred_sem_seg`` is their argmax (official
    ``SemanticSegmentorWithTTA``). The *single-scale view* -- the un-flipped view resized to ``single_scale`` --
    additionally runs the detector's normal prediction (its ``test_cfg.tasks``), and its ``pred_panoptic_seg`` /
    ``pred_instances`` are the outputs, so one evaluation pass gives PQ and AP single-scale and mIoU ms+flip, as
    the paper reports them.

    The single-scale view equals the one of the plain test pipeline when the long-edge cap of the test pipeline
    is not reached at that size (the official caps: ``MAX_SIZE_TEST`` 4 × ``MIN_SIZE_TEST`` on ADE20K, 2 × on
    Cityscapes, whose images are all 2:1); the TTA pipeline caps the long edge at ``TEST.AUG.MAX_SIZE``.

    The TTA pipeline must pack ``flip`` and ``flip_direction`` (and ``scale`` when ``single_scale`` is set) into the
    metainfo (``PackDetInputs(meta_keys=...)``); see ``configs/_base_/tta/oneformer_tta_ade20k.py``.

    Args:
        module (dict | nn.Module): The :class:`OneFormer` detector (config or module).
        single_scale (Sequence[int], optional): The ``scale`` (long edge, short edge) of the ``Resize`` of the
            single-scale view, e.g. ``(4480, 640)``. None takes the first un-flipped view. Defaults to None.
        data_preprocessor (dict | nn.Module, optional): Overrides the module's data preprocessor.
    """

    def __init__(self, module, single_scale: Optional[Sequence[int]] = None, data_preprocessor=None) -> None:
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        self.single_scale = None if single_scale is None else tuple(int(s) for s in single_scale)
        for name in ('extract_pixel_feats', 'predict_by_pixel_feats', 'semantic_score_maps'):
            if not hasattr(self.module, name):
                raise TypeError(f'OneFormerTTAModel wraps an mmdet OneFormer detector; {type(self.module).__name__} '
                                f'has no {name}() (for the mmseg EncoderDecoder use OneFormerSegTTAModel)')

    @staticmethod
    def split_views(data: dict) -> List[dict]:
        """The ``TestTimeAug`` batch (``pseudo_collate``: ``inputs`` / ``data_samples``, one list per view) as one
        batch per view, the way :meth:`BaseTTAModel.test_step` splits it."""
        if not isinstance(data, dict):
            raise TypeError(f'OneFormerTTAModel expects the dict batch of pseudo_collate, got {type(data)}')
        num_views = len(data[next(iter(data))])
        return [{key: value[idx] for key, value in data.items()} for idx in range(num_views)]

    def single_scale_view(self, view_metas: Sequence[dict]) -> int:
        """Index of the single-scale view among the views of one image (their metainfo, in view order).

        Raises:
            KeyError: if the views lack the ``flip`` (or, with ``single_scale``, ``scale``) metainfo.
            ValueError: if no un-flipped view has the ``single_scale``.
        """
        for meta in view_metas:
            missing = [k for k in ('flip', 'scale') if k not in meta and (k == 'flip' or self.single_scale)]
            if missing:
                raise KeyError(f'OneFormerTTAModel: the views have no {missing} metainfo; add '
                               f"{missing + ['flip_direction'] * ('flip' in missing)} to the meta_keys of "
                               'PackDetInputs in tta_pipeline')
        for idx, meta in enumerate(view_metas):
            if not meta['flip'] and (self.single_scale is None or
                                     tuple(int(s) for s in meta['scale']) == self.single_scale):
                return idx
        found = [(tuple(m['scale']) if 'scale' in m else None, bool(m['flip'])) for m in view_metas]
        raise ValueError(f'OneFormerTTAModel: no un-flipped view with scale {self.single_scale} among the views '
                         f'(scale, flip) {found}; set tta_model.single_scale to one of the Resize scales of '
                         'tta_pipeline')

    def test_step(self, data: dict) -> SampleList:
        """Predict every view, average the semantic scores, keep the single-scale panoptic / instance outputs.

        The running sum keeps one (K, H, W) map per image in memory whatever the number of views.

        Args:
            data: A ``TestTimeAug`` batch (``inputs`` / ``data_samples`` with one entry per view).

        Returns:
            list[DetDataSample]: Per image, the single-scale view's sample with ``pred_sem_seg`` from the
            averaged scores.
        """
        views = self.split_views(data)
        # every image of the batch goes through the same views in the same order: the first image's metainfo
        main = self.single_scale_view([view['data_samples'][0].metainfo for view in views])
        sums: Optional[List[Tensor]] = None
        for idx, view in enumerate(views):
            view = self.module.data_preprocessor(view, False)
            inputs, samples = view['inputs'], view['data_samples']
            pixel_feats = self.module.extract_pixel_feats(inputs)
            if idx == main:
                main_samples = self.module.predict_by_pixel_feats(pixel_feats, samples, rescale=True)
            scores = [undo_flip(s, sample.metainfo)
                      for s, sample in zip(self.module.semantic_score_maps(pixel_feats, samples), samples)]
            sums = scores if sums is None else [total + s for total, s in zip(sums, scores)]
        for sample, total in zip(main_samples, sums):
            sample.set_field(PixelData(data=total / len(views)), SCORES_FIELD)
        return self.merge_preds([[sample] for sample in main_samples])

    def merge_preds(self, data_samples_list: Sequence[SampleList]) -> SampleList:
        """Merge the views of each image.

        Args:
            data_samples_list (list[list[DetDataSample]]): Per image, its views' samples, each with the field
                ``sem_seg_scores`` (the view's semantic scores, flip undone, at the original size); the
                single-scale view's sample also carries its panoptic / instance predictions.

        Returns:
            list[DetDataSample]: Per image, the single-scale view's sample with ``pred_sem_seg`` = argmax of the
            mean scores (and ``sem_seg_scores`` removed).
        """
        merged = []
        for samples in data_samples_list:
            main = samples[self.single_scale_view([s.metainfo for s in samples])] if len(samples) > 1 else samples[0]
            scores = torch.stack([s.get(SCORES_FIELD).data for s in samples]).mean(0)
            main.pred_sem_seg = PixelData(sem_seg=scores.max(0).indices[None])  # = argmax(0), as the fusion head
            if SCORES_FIELD in main:
                delattr(main, SCORES_FIELD)
            merged.append(main)
        return merged
