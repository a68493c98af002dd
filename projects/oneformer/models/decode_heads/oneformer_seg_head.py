"""OneFormer as an mmseg decode head (semantic task only), for benchmarks next to mmseg's segmentors."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample, SampleList
from mmdet.utils import ConfigType
from mmengine.structures import InstanceData
from mmseg.registry import DATASETS as SEG_DATASETS
from mmseg.registry import MODELS as SEG_MODELS
from torch import Tensor

from ...tasks import TEXT_TEMPLATE, tokenize
from ..dense_heads.oneformer_head import OneFormerHead
from ..seg_heads.oneformer_fusion_head import semantic_scores

TASK = 'semantic'  # the only task of an mmseg segmentor


def resolve_class_names(class_names: Union[None, str, Sequence[str]], num_classes: int) -> Tuple[str, ...]:
    """Class names in class-id order.

    Args:
        class_names (str | Sequence[str] | None): the names; or the name of a dataset class in mmseg's
            ``DATASETS`` registry (e.g. ``'ADE20KDataset'``), whose ``METAINFO['classes']`` is used; or None
            for placeholders ``c0, c1, ...``.
        num_classes (int): Expected number of names.
    """
    if class_names is None:
        return tuple(f'c{i}' for i in range(num_classes))
    if isinstance(class_names, str):
        dataset_cls = SEG_DATASETS.get(class_names)
        if dataset_cls is None:
            raise KeyError(f'class_names={class_names!r} is neither a list of names nor a dataset registered in '
                           "mmseg's DATASETS (e.g. 'ADE20KDataset', 'CityscapesDataset')")
        names = dataset_cls.METAINFO.get('classes')
        if names is None:
            raise KeyError(f"{class_names}.METAINFO has no 'classes'; pass class_names as a list of names")
    else:
        names = class_names
    names = tuple(str(n) for n in names)
    if len(names) != num_classes:
        source = f' (from {class_names}.METAINFO)' if isinstance(class_names, str) else ''
        raise ValueError(f'class_names has {len(names)} names{source} but num_classes is {num_classes}')
    return names


@SEG_MODELS.register_module()
class OneFormerSegHead(OneFormerHead):
    """OneFormer head trained and evaluated as an mmseg decode head, task fixed to "semantic".

    The mmseg counterpart of :class:`OneFormerHead`, in the way mmseg's ``Mask2FormerHead`` wraps mmdet's:
    it matches the decode-head interface of ``EncoderDecoder`` (``loss(x, data_samples, train_cfg)``,
    ``predict(x, batch_img_metas, test_cfg)``, ``num_classes`` / ``out_channels`` / ``align_corners``) and
    leaves the model itself to :class:`OneFormerHead`.

    * ``loss``: each label map ``gt_sem_seg`` gives one mask per class present (``ignore_index`` removed),
      the task token is "the task is semantic" and the text list is the one :class:`OneFormerTaskTargets`
      builds for the semantic task ("a photo with a {name}" per class present in class-id order, padded with
      "a semantic photo" to ``num_queries - num_ctx``). The samples are then handed to
      :meth:`OneFormerHead.loss` (matching, mask/dice/class losses, contrastive loss).
    * ``predict``: per-class scores Σ_q softmax(cls)[:K] · sigmoid(mask) (the fusion head's
      ``semantic_scores``) at the padded input size, (B, K, H, W).

    All classes are "stuff" (``num_things_classes=0``): the semantic task has one target per class.

    Under mmseg's default scope every mmdet / OneFormer component of the config needs the ``mmdet.`` prefix
    (``mmdet.MSDeformAttnPixelDecoder``, ``mmdet.CrossEntropyLoss``, ``mmdet.TaskEncoder``, ...).

    Args:
        num_classes (int): Number of classes K.
        align_corners (bool): ``align_corners`` used by ``EncoderDecoder`` when resizing the logits.
            Defaults to False.
        ignore_index (int): Label of ignored pixels in ``gt_sem_seg``. Defaults to 255.
        class_names (str | Sequence[str], optional): Class names for the text list, in class-id order, or the
            name of an mmseg dataset class whose ``METAINFO['classes']`` to use (e.g. ``'ADE20KDataset'``).
            None gives placeholders ``c{i}``. Defaults to None.
        task_encoder, query_transformer, text_mapper, loss_contrastive: as in :class:`OneFormerHead`
            (defaults are the ``mmdet.``-prefixed types).
        **kwargs: Other arguments of :class:`OneFormerHead` / mmdet's ``Mask2FormerHead`` (except the class
            counts, which come from ``num_classes``).
    """

    def __init__(self,
                 num_classes: int,
                 align_corners: bool = False,
                 ignore_index: int = 255,
                 class_names: Union[None, str, Sequence[str]] = None,
                 task_encoder: ConfigType = dict(type='mmdet.TaskEncoder'),
                 query_transformer: ConfigType = dict(type='mmdet.TaskGuidedQueryTransformer'),
                 text_mapper: Optional[ConfigType] = dict(type='mmdet.TextMapper'),
                 loss_contrastive: Optional[ConfigType] = dict(type='mmdet.QueryTextContrastiveLoss'),
                 **kwargs) -> None:
        for key in ('num_things_classes', 'num_stuff_classes'):
            if key in kwargs:
                raise ValueError(f'OneFormerSegHead takes num_classes only; remove {key}={kwargs[key]!r}')
        if num_classes <= 0:
            raise ValueError(f'num_classes must be positive, got {num_classes}')
        super().__init__(
            num_things_classes=0,
            num_stuff_classes=num_classes,
            task_encoder=task_encoder,
            query_transformer=query_transformer,
            text_mapper=text_mapper,
            loss_contrastive=loss_contrastive,
            **kwargs)
        self._check_losses()
        self.num_classes = num_classes
        self.out_channels = num_classes  # EncoderDecoder: channels of the seg logits
        self.align_corners = align_corners
        self.ignore_index = ignore_index
        self.class_names = resolve_class_names(class_names, num_classes)
        if self.text_mapper is not None:
            # the class texts, tokenized once: a text list is one row per class present (the head pads it)
            texts = [TEXT_TEMPLATE.format(n) for n in self.class_names]
            self.register_buffer('text_token_table', tokenize(texts), persistent=False)

    def _check_losses(self) -> None:
        """An unprefixed loss type under mmseg's scope silently builds mmseg's class of the same name."""
        for name in ('loss_cls', 'loss_mask', 'loss_dice'):
            loss = getattr(self, name, None)
            if loss is not None and type(loss).__module__.startswith('mmseg.'):
                raise TypeError(f'{name} built mmseg\'s {type(loss).__name__}; OneFormerSegHead needs the mmdet loss: '
                                f"write type='mmdet.{type(loss).__name__}' in the config")

    # ------------------------------------------------------------------ adapters
    def semantic_targets(self, gt_sem_seg: Tensor) -> InstanceData:
        """(1, H, W) label map -> ``InstanceData(labels (n,), masks bool (n, H, W))``, one per class present."""
        labels = torch.unique(gt_sem_seg)  # sorted: class-id order, as the text list needs
        labels = labels[labels != self.ignore_index]
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        if bad.numel():
            raise ValueError(f'gt_sem_seg has label(s) {bad.tolist()} outside [0, {self.num_classes}) and not '
                             f'ignore_index={self.ignore_index}')
        masks = gt_sem_seg[0][None] == labels[:, None, None]
        return InstanceData(labels=labels.long(), masks=masks)

    def class_text_tokens(self, labels: Tensor) -> Tensor:
        """Token ids (len(labels), 77) of the unpadded semantic text list of one image: one text per class present,
        in class-id order (``labels`` are sorted and unique)."""
        return self.text_token_table[labels.to(self.text_token_table.device)]

    def _to_det_samples(self, batch_data_samples: Sequence) -> SampleList:
        """mmseg ``SegDataSample`` (``gt_sem_seg.data``) -> the ``DetDataSample`` contract of OneFormerHead."""
        samples = []
        for seg_sample in batch_data_samples:
            gt = self.semantic_targets(seg_sample.gt_sem_seg.data)
            meta = dict(seg_sample.metainfo, task=TASK)
            if self.text_mapper is not None:
                meta['text_tokens'] = self.class_text_tokens(gt.labels)
            samples.append(DetDataSample(metainfo=meta, gt_instances=gt))
        return samples

    @staticmethod
    def _input_size(img_meta: dict) -> Tuple[int, int]:
        """Padded input size, as mmseg's Mask2FormerHead reads it (``pad_shape``, else ``img_shape``)."""
        size = img_meta['pad_shape'] if img_meta.get('pad_shape') is not None else img_meta['img_shape']
        return tuple(int(s) for s in size[:2])

    # ------------------------------------------------------------------ mmseg interface
    def forward(self, x: Sequence[Tensor],
                batch_data_samples: Optional[SampleList] = None) -> Tuple[List[Tensor], List[Tensor]]:
        """Class and mask logits of every prediction; the task is always semantic (``EncoderDecoder``'s
        tensor mode calls ``forward(x)`` without samples)."""
        tokens = self.get_task_tokens([TASK] * x[0].shape[0], device=x[0].device)
        cls_list, mask_list, _ = self.forward_decoder(self.forward_pixel(x), tokens)
        return cls_list, mask_list

    def loss(self, x: Sequence[Tensor], batch_data_samples: Sequence,
             train_cfg: ConfigType = None) -> Dict[str, Tensor]:
        """Losses of :meth:`OneFormerHead.loss` for mmseg samples (``train_cfg`` is unused, as in mmseg's
        Mask2FormerHead: the head's own ``train_cfg`` holds the assigner settings)."""
        return super().loss(x, self._to_det_samples(batch_data_samples))

    def predict(self, x: Sequence[Tensor], batch_img_metas: List[dict], test_cfg: ConfigType = None) -> Tensor:
        """Semantic scores (B, K, H, W) at the padded input size."""
        size = self._input_size(batch_img_metas[0])
        mask_cls, mask_pred = self.predict_by_pixel_feats(self.forward_pixel(x), [TASK] * len(batch_img_metas))
        mask_pred = F.interpolate(mask_pred, size=size, mode='bilinear', align_corners=False)
        return semantic_scores(mask_cls, mask_pred)
