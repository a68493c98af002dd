"""The OneFormer detector: one model, three tasks, switched by the task token."""
import copy
from typing import List, Optional, Sequence, Tuple

from mmdet.models.detectors import MaskFormer, SingleStageDetector
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.config import ConfigDict
from torch import Tensor

from ...tasks import PRED_FIELDS, parse_test_cfg, prediction_plan
from ..utils import PROBE_SIZE, checkpoint_blocks, dry_forward, fill_neck, freeze, resolve_head_inputs


@MODELS.register_module()
class OneFormer(MaskFormer):
    """OneFormer in mmdet's MaskFormer layout (``backbone``, optional ``neck``, ``panoptic_head``,
    ``panoptic_fusion_head``, ``data_preprocessor``).

    Training: the task of each image is its data sample's metainfo ``task`` (set by ``OneFormerTaskTargets``).
    Test: ``test_cfg.tasks`` says which predictions to return (default all three; ``'all'`` or a task name also
    work), exactly those. The backbone and pixel decoder run once, the decoder once per task (the tasks' passes
    batched into one call), each output from the token of its own task (``pred_panoptic_seg`` from "the task is
    panoptic", ...), as the paper evaluates.
    ``test_cfg.task_token='panoptic'`` (a task name) instead makes that one token produce every requested output in
    one decoder pass, as the official evaluation with ``MODEL.TEST.TASK`` does. The rule is
    :func:`oneformer.tasks.prediction_plan`. ``predict(..., tasks=..., task_token=...)`` overrides both for one call.

    ``panoptic_head.in_channels`` / ``strides`` may be left out (None): they are found from the built backbone
    (and neck) with one dry forward at build time; given values are checked against it. A neck config may leave out
    ``in_channels`` (and ``backbone_stride`` for :class:`SimpleFeaturePyramid`) too. Backbone outputs the pixel
    decoder cannot take (ViT tokens, a single map, strides not increasing) fail here with what to change.

    ``freeze_backbone=True`` trains everything but the backbone (its parameters get no gradient and it stays in
    eval mode: linear-probe style, for large foundation ViTs). ``backbone_checkpoint=True`` recomputes each block
    of ``backbone.layers`` in the backward pass (activation checkpointing) for backbones without their own
    ``with_cp`` (mmpretrain's ``VisionTransformer``, ``ViTEVA02``, ``ViTSAM``, ``BEiTViT``); backbones that take
    ``with_cp`` (ResNet, Swin, ConvNeXt, DiNAT, ...) get it in their own dict.

    ``load_mismatch`` controls checkpoints whose tensors differ in shape from the model (e.g. another class or
    query count): 'error' (default) raises naming the mismatched tensors and both shapes; 'reinit_cls' keeps
    the model's freshly initialised class head (the keys of ``OneFormerHead.class_head_keys``) when only it differs
    (fine-tuning a checkpoint of another dataset's classes, as the COCO- / Mapillary-pretrained zoo configs do).

    Sizes are configured once, on ``panoptic_head``: unless set, ``panoptic_fusion_head`` takes its
    ``num_things_classes`` / ``num_stuff_classes`` and ``test_cfg.max_per_image`` (the instance top-k, official
    ``TEST.DETECTIONS_PER_IMAGE``) its ``num_queries``.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: OptConfigType = None,
                 panoptic_head: OptConfigType = None,
                 panoptic_fusion_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 load_mismatch: str = 'error',
                 freeze_backbone: bool = False,
                 backbone_checkpoint: bool = False) -> None:
        # Mirrored from mmdet 3.3 MaskFormer.__init__, which builds the head right after the backbone with no hook
        # in between: here the head's in_channels / strides are found from (or checked against) the built backbone
        # and neck first (one dry forward, see models/utils/feature_spec.py).
        panoptic_fusion_head, test_cfg = self.follow_head_sizes(panoptic_head, panoptic_fusion_head, test_cfg)
        super(SingleStageDetector, self).__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            backbone_outs, _ = dry_forward([self.backbone])
            self.neck = MODELS.build(fill_neck(neck, backbone_outs, PROBE_SIZE, MODELS))
        head_cfg = resolve_head_inputs(panoptic_head, self.backbone, getattr(self, 'neck', None),
                                       'model.panoptic_head')
        head_cfg.update(train_cfg=train_cfg, test_cfg=test_cfg)
        self.panoptic_head = MODELS.build(head_cfg)
        fusion_cfg = ConfigDict(copy.deepcopy(panoptic_fusion_head), test_cfg=test_cfg)
        self.panoptic_fusion_head = MODELS.build(fusion_cfg)
        self.num_things_classes = self.panoptic_head.num_things_classes
        self.num_stuff_classes = self.panoptic_head.num_stuff_classes
        self.num_classes = self.panoptic_head.num_classes
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        # training recipes for large backbones (models/utils/backbone_options.py)
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            freeze(self.backbone)
        if backbone_checkpoint:
            checkpoint_blocks(self.backbone)
        head, fusion = self.panoptic_head, getattr(self, 'panoptic_fusion_head', None)
        counts = [(h.num_things_classes, h.num_stuff_classes) for h in (head, fusion)]
        if fusion is not None and counts[0] != counts[1]:
            raise ValueError(
                f'model.panoptic_head has num_things_classes={counts[0][0]}, num_stuff_classes={counts[0][1]} but '
                f'model.panoptic_fusion_head has num_things_classes={counts[1][0]}, num_stuff_classes={counts[1][1]}; '
                'set both heads to the dataset\'s counts (the shipped configs pass the variables num_things_classes '
                '/ num_stuff_classes to both)')
        if load_mismatch not in ('error', 'reinit_cls'):
            raise ValueError(f"load_mismatch must be 'error' or 'reinit_cls', got {load_mismatch!r}")
        self.load_mismatch = load_mismatch
        #: the default predictions and the optional single token producing them (``test_cfg.tasks`` / ``task_token``)
        self.test_tasks, self.test_task_token = parse_test_cfg(self.test_cfg)

    def train(self, mode: bool = True) -> 'OneFormer':
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()  # BN statistics and dropout of a frozen backbone stay as pretrained
        return self

    @staticmethod
    def follow_head_sizes(panoptic_head: OptConfigType, panoptic_fusion_head: OptConfigType,
                          test_cfg: OptConfigType) -> Tuple[OptConfigType, OptConfigType]:
        """Copies of the fusion head config and ``test_cfg`` with what they leave unset taken from the head
        config: the class counts, and ``max_per_image = num_queries``."""
        head = panoptic_head or {}
        if panoptic_fusion_head is not None:
            panoptic_fusion_head = ConfigDict(copy.deepcopy(panoptic_fusion_head))
            for key in ('num_things_classes', 'num_stuff_classes'):
                if key not in panoptic_fusion_head and key in head:
                    panoptic_fusion_head[key] = head[key]
        if 'num_queries' in head:
            test_cfg = ConfigDict(copy.deepcopy(test_cfg) if test_cfg is not None else {})
            test_cfg.setdefault('max_per_image', head['num_queries'])
        return panoptic_fusion_head, test_cfg

    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList, rescale: bool = True,
                tasks: Optional[Sequence[str]] = None, task_token: Optional[str] = None) -> SampleList:
        """Predict exactly ``tasks`` for a batch.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) normalised, padded images.
            batch_data_samples (list[DetDataSample]): B samples with ``img_shape`` / ``ori_shape`` metainfo.
            rescale (bool): Predictions at the original image size. Defaults to True.
            tasks (Sequence[str] | str, optional): The predictions to return. None: ``test_cfg.tasks`` (and, unless
                ``task_token`` is given, ``test_cfg.task_token``).
            task_token (str, optional): One task token producing every requested output (official
                ``MODEL.TEST.TASK`` evaluation); None: each output from its own task's token.

        Returns:
            list[DetDataSample]: ``batch_data_samples`` with, per requested task, its field of
            ``tasks.PRED_FIELDS``: ``pred_panoptic_seg.sem_seg`` (1, H, W) ids, ``pred_instances`` (``masks``
            (n, H, W) bool, ``labels`` (n,), ``scores`` (n,), ``bboxes`` (n, 4)), ``pred_sem_seg.sem_seg`` (1, H, W).
        """
        return self.predict_by_pixel_feats(self.extract_pixel_feats(batch_inputs), batch_data_samples, rescale,
                                           tasks, task_token)

    def extract_pixel_feats(self, batch_inputs: Tensor):
        """Backbone (+ neck) and pixel decoder: the features every task token's decoder pass reads.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) normalised, padded images.

        Returns:
            tuple: ``OneFormerHead.forward_pixel``'s output: mask features (B, C, H/4, W/4) and the multi-scale
            memories of the decoder.
        """
        return self.panoptic_head.forward_pixel(self.extract_feat(batch_inputs))

    def semantic_score_maps(self, pixel_feats, batch_data_samples: SampleList, rescale: bool = True) -> List[Tensor]:
        """Semantic scores Σ_q softmax(cls)[:K] · sigmoid(mask) per image, before the argmax: what test-time
        augmentation averages (official ``SemanticSegmentorWithTTA``).

        The token is the one the semantic prediction comes from under ``test_cfg`` ("the task is semantic", or
        ``test_cfg.task_token``).

        Args:
            pixel_feats (tuple): :meth:`extract_pixel_feats` of the batch.
            batch_data_samples (list[DetDataSample]): B samples with their metainfo.
            rescale (bool): Maps at the original image size. Defaults to True.

        Returns:
            list[Tensor]: per image, (K, H, W) scores.
        """
        (token, _), = prediction_plan(('semantic', ), self.test_task_token)
        mask_cls, mask_pred = self.panoptic_head.predict_by_pixel_feats(pixel_feats,
                                                                       [token] * len(batch_data_samples))
        return self.panoptic_fusion_head.semantic_score_maps(mask_cls, mask_pred, batch_data_samples, rescale)

    def predict_by_pixel_feats(self, pixel_feats, batch_data_samples: SampleList, rescale: bool = True,
                               tasks: Optional[Sequence[str]] = None,
                               task_token: Optional[str] = None) -> SampleList:
        """:meth:`predict` from the output of :meth:`extract_pixel_feats` (same arguments and return)."""
        if tasks is None:
            tasks, task_token = self.test_tasks, task_token or self.test_task_token
        plan = prediction_plan(tasks, task_token)
        # every pass of the plan in one batched decoder call (T tokens per image, image-major); the decoder's
        # task-independent keys are computed once per image (OneFormerHead.forward_decoder)
        mask_cls, mask_pred = self.panoptic_head.predict_by_pixel_feats(
            pixel_feats, [token for _ in batch_data_samples for token, _ in plan])
        num_passes = len(plan)
        results = [dict() for _ in batch_data_samples]
        for i, (_, outputs) in enumerate(plan):
            for merged, res in zip(results, self.panoptic_fusion_head.predict(
                    mask_cls[i::num_passes], mask_pred[i::num_passes], batch_data_samples, rescale=rescale,
                    tasks=outputs)):
                merged.update(res)
        return self.add_pred_to_datasample(batch_data_samples, results)

    def add_pred_to_datasample(self, data_samples: SampleList, results_list: List[dict]) -> SampleList:
        """Write ``results_list`` (per sample, ``{task: prediction}``) to the tasks' fields (``tasks.PRED_FIELDS``).

        Returns:
            list[DetDataSample]: ``data_samples``, with the predictions set.
        """
        for sample, res in zip(data_samples, results_list):
            for task, pred in res.items():
                setattr(sample, PRED_FIELDS[task], pred)
        return data_samples

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        """Refuse silently skipping tensors of another shape (mmengine only warns)."""
        own = self.state_dict()
        mismatched = [(k, tuple(state_dict[prefix + k].shape), tuple(v.shape)) for k, v in own.items()
                      if prefix + k in state_dict and state_dict[prefix + k].shape != v.shape]
        if mismatched:
            cls_keys = {f'panoptic_head.{k}' for k in self.panoptic_head.class_head_keys()}  # the head's to say
            only_cls = {k for k, _, _ in mismatched} <= cls_keys
            if self.load_mismatch == 'reinit_cls' and only_cls:
                for k in cls_keys:
                    state_dict.pop(prefix + k, None)
            else:
                shown = 5
                lines = '\n'.join(f'  {k}: checkpoint {c}, model {m}' for k, c, m in mismatched[:shown])
                if len(mismatched) > shown:
                    lines += f'\n  ... and {len(mismatched) - shown} more'
                if only_cls:
                    hint = ("Only the class head differs: to fine-tune on other classes set "
                            "model.load_mismatch='reinit_cls'.")
                else:
                    hint = ('Tensors beyond the class head differ: the checkpoint is of another architecture or size '
                            '(backbone, hidden / feed-forward widths, number of queries or layers); use the config '
                            "the checkpoint was trained with (load_mismatch='reinit_cls' only re-initialises the "
                            'class head).')
                raise ValueError(f'checkpoint does not fit the model: {len(mismatched)} tensors differ in shape, '
                                 f'e.g.\n{lines}\n{hint}')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
