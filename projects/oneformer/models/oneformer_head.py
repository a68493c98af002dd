"""OneFormer head: Mask2Former's pixel decoder and masked decoder, driven by task-conditioned queries."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.dense_heads import Mask2FormerHead
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.mask import BitmapMasks
from mmdet.utils import ConfigType, OptConfigType
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import Tensor

from ..utils import check_task, task_tokens
from .cpu_deform_attn import cpu_deform_attn

PixelFeats = Tuple[Tensor, List[Tensor]]


@MODELS.register_module()
class OneFormerHead(Mask2FormerHead):
    """OneFormer head (`OneFormer: One Transformer to Rule Universal Image Segmentation
    <https://arxiv.org/abs/2211.06220>`_).

    Differences from :class:`Mask2FormerHead`, which provides the pixel decoder, masked-attention decoder,
    prediction heads, matching and mask losses:

    * no learnable content queries: the task token (task encoder over "the task is {task}", normalised by the
      decoder's final LayerNorm) initialises N-1 queries refined by the query transformer over the 1/4-scale
      features, and is appended as query N;
    * during training a text mapper turns the per-image text list into N text queries, contrasted with the
      object queries (before the masked decoder) by ``loss_contrastive``.

    Args:
        task_encoder (dict): Config of the task encoder.
        query_transformer (dict): Config of the task-guided query transformer.
        text_mapper (dict, optional): Config of the text mapper; None builds an inference-only head.
        loss_contrastive (dict, optional): Config of the query-text contrastive loss.
        no_object_weight (float): CE weight of the "no object" class when ``loss_cls.class_weight`` is None.
            Defaults to 0.1.
        cpu_deform_attn (bool): off CUDA, run the pixel decoder's deformable attention as one weighted gather
            (:mod:`.cpu_deform_attn`, same values up to float rounding, several times faster) instead of
            mmcv's ``grid_sample`` fallback. CUDA always uses mmcv's kernel. Defaults to True.
        **kwargs: Arguments of :class:`Mask2FormerHead`. ``test_cfg.task`` is the task used when a data
            sample carries none (defaults to 'panoptic').
    """

    def __init__(self,
                 *args,
                 task_encoder: ConfigType = dict(type='TaskEncoder'),
                 query_transformer: ConfigType = dict(type='TaskGuidedQueryTransformer'),
                 text_mapper: OptConfigType = dict(type='TextMapper'),
                 loss_contrastive: OptConfigType = dict(type='QueryTextContrastiveLoss'),
                 no_object_weight: float = 0.1,
                 cpu_deform_attn: bool = True,
                 **kwargs) -> None:
        loss_cls = kwargs.get('loss_cls')
        if loss_cls is not None and loss_cls.get('class_weight') is None:
            # derive the per-class CE weights here so configs that change the class count cannot get them wrong
            num_classes = kwargs['num_things_classes'] + kwargs['num_stuff_classes']
            kwargs['loss_cls'] = ConfigDict(loss_cls, class_weight=[1.0] * num_classes + [no_object_weight])
        super().__init__(*args, **kwargs)
        del self.query_feat  # content queries come from the task token
        self.task_encoder = MODELS.build(task_encoder)
        self.query_transformer = MODELS.build(query_transformer)
        self.text_mapper = MODELS.build(text_mapper) if text_mapper is not None else None
        self.loss_contrastive = MODELS.build(loss_contrastive) if loss_contrastive is not None else None
        self.default_task = check_task((self.test_cfg or {}).get('task', 'panoptic'))
        self.use_cpu_deform_attn = cpu_deform_attn

    def init_weights(self) -> None:
        super().init_weights()
        self.query_transformer.init_weights()
        if self.text_mapper is not None:
            self.text_mapper.init_weights()

    # ------------------------------------------------------------------ forward
    def get_task_tokens(self, batch_data_samples: SampleList, tasks: Optional[Sequence[str]] = None,
                        device=None) -> Tensor:
        """(B, 77) token ids of each sample's task (``tasks`` > metainfo ``task`` > ``test_cfg.task``)."""
        if tasks is None:
            tasks = [s.metainfo.get('task', self.default_task) for s in batch_data_samples]
        return torch.stack([task_tokens(t) for t in tasks]).to(device)

    def forward_pixel(self, x: Sequence[Tensor]) -> PixelFeats:
        """Pixel decoder, task independent. Runs in fp32 under AMP, as the official code does."""
        with torch.autocast(device_type=x[0].device.type, enabled=False), cpu_deform_attn(self.use_cpu_deform_attn):
            return self.pixel_decoder([f.float() for f in x])

    def forward_decoder(self, pixel_feats: PixelFeats, task_tokens: Tensor) -> Tuple[List[Tensor], ...]:
        """Task-conditioned query initialisation + masked-attention decoder.

        Returns:
            tuple: ``cls_pred_list`` (each (B, N, K+1)), ``mask_pred_list`` (each (B, N, H/4, W/4)), one per
            supervised prediction (initial queries + every decoder layer), and the object queries before the
            masked decoder (B, N, C) used by the contrastive loss.
        """
        mask_features, multi_scale_memorys = pixel_feats
        batch_size = mask_features.shape[0]
        decoder_inputs, decoder_pos = [], []
        for i in range(self.num_transformer_feat_level):
            memory = multi_scale_memorys[i]
            decoder_input = self.decoder_input_projs[i](memory).flatten(2).permute(0, 2, 1)
            decoder_inputs.append(decoder_input + self.level_embed.weight[i].view(1, 1, -1))
            mask = memory.new_zeros((batch_size, ) + memory.shape[-2:], dtype=torch.bool)
            decoder_pos.append(self.decoder_positional_encoding(mask).flatten(2).permute(0, 2, 1))

        task = self.transformer_decoder.post_norm(self.task_encoder(task_tokens.to(mask_features.device)))
        query_pos = self.query_embed.weight
        guided = self.query_transformer(task, mask_features, query_pos[:-1])
        queries = torch.cat([guided, task[:, None]], dim=1)  # the task token is the last query
        query_embed = query_pos[None].expand(batch_size, -1, -1)

        query_feat = queries
        cls_pred, mask_pred, attn_mask = self._forward_head(query_feat, mask_features,
                                                            multi_scale_memorys[0].shape[-2:])
        cls_pred_list, mask_pred_list = [cls_pred], [mask_pred]
        for i in range(self.num_transformer_decoder_layers):
            level_idx = i % self.num_transformer_feat_level
            # a fully masked row would give NaNs: let such queries attend everywhere
            attn_mask = attn_mask & (attn_mask.sum(-1) != attn_mask.shape[-1]).unsqueeze(-1)
            query_feat = self.transformer_decoder.layers[i](
                query=query_feat,
                key=decoder_inputs[level_idx],
                value=decoder_inputs[level_idx],
                query_pos=query_embed,
                key_pos=decoder_pos[level_idx],
                cross_attn_mask=attn_mask,
                query_key_padding_mask=None,
                key_padding_mask=None)
            next_size = multi_scale_memorys[(i + 1) % self.num_transformer_feat_level].shape[-2:]
            cls_pred, mask_pred, attn_mask = self._forward_head(query_feat, mask_features, next_size)
            cls_pred_list.append(cls_pred)
            mask_pred_list.append(mask_pred)
        return cls_pred_list, mask_pred_list, queries

    def forward(self, x: Sequence[Tensor], batch_data_samples: SampleList) -> Tuple[List[Tensor], List[Tensor]]:
        """Returns ``(all_cls_scores, all_mask_preds)``, lists over predictions, last = final."""
        tokens = self.get_task_tokens(batch_data_samples, device=x[0].device)
        cls_list, mask_list, _ = self.forward_decoder(self.forward_pixel(x), tokens)
        return cls_list, mask_list

    # --------------------------------------------------------------------- loss
    def loss(self, x: Sequence[Tensor], batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Matched classification/mask/dice losses on every prediction + the contrastive loss."""
        for i, sample in enumerate(batch_data_samples):
            if 'task' not in sample.metainfo:
                raise KeyError(f'training sample {i} ({sample.metainfo.get("img_path", "?")}) has no "task" in its '
                               'metainfo: add OneFormerTaskTargets to the train pipeline and "task" to the '
                               'meta_keys of PackDetInputs')
        device = x[0].device
        tokens = self.get_task_tokens(batch_data_samples, device=device)
        cls_list, mask_list, queries = self.forward_decoder(self.forward_pixel(x), tokens)

        batch_img_metas = [s.metainfo for s in batch_data_samples]
        batch_gt_instances = [self._gt_to_tensor(s.gt_instances, device) for s in batch_data_samples]
        losses = self.loss_by_feat(cls_list, mask_list, batch_gt_instances, batch_img_metas)
        if self.text_mapper is not None and self.loss_contrastive is not None:
            text_queries = self.text_mapper(self._text_tokens(batch_data_samples, device))
            losses['loss_contrastive'] = self.loss_contrastive(queries, text_queries)
        return losses

    def _text_tokens(self, batch_data_samples: SampleList, device) -> Tensor:
        num_texts = self.num_queries - self.text_mapper.num_ctx
        tokens = []
        for i, sample in enumerate(batch_data_samples):
            if 'text_tokens' not in sample.metainfo:
                raise KeyError(f'training sample {i} has no "text_tokens" in its metainfo (needed by the text '
                               'mapper): add "text_tokens" to the meta_keys of PackDetInputs')
            t = torch.as_tensor(sample.metainfo['text_tokens'])
            if t.shape[0] != num_texts:
                raise ValueError(f'sample {i} has {t.shape[0]} text entries; num_queries {self.num_queries} - '
                                 f'{self.text_mapper.num_ctx} context embeddings = {num_texts} are expected')
            tokens.append(t)
        return torch.stack(tokens).to(device)

    @staticmethod
    def _gt_to_tensor(gt_instances: InstanceData, device) -> InstanceData:
        masks = gt_instances.masks
        if isinstance(masks, BitmapMasks):
            masks = masks.to_tensor(dtype=torch.bool, device=device)
        return InstanceData(labels=gt_instances.labels.to(device), masks=masks.to(device))

    # ------------------------------------------------------------------ predict
    def predict_by_pixel_feats(self, pixel_feats: PixelFeats, batch_data_samples: SampleList,
                               tasks: Optional[Sequence[str]] = None,
                               upsample: bool = True) -> Tuple[Tensor, Tensor]:
        """Final class logits (B, N, K+1) and mask logits upsampled to the padded batch shape (B, N, H, W), or
        left at 1/4 scale with ``upsample=False`` (the fusion head then upsamples only the queries it reads)."""
        tokens = self.get_task_tokens(batch_data_samples, tasks, device=pixel_feats[0].device)
        cls_list, mask_list, _ = self.forward_decoder(pixel_feats, tokens)
        if not upsample:
            return cls_list[-1], mask_list[-1]
        img_shape = batch_data_samples[0].metainfo['batch_input_shape']
        masks = F.interpolate(mask_list[-1], size=tuple(img_shape[:2]), mode='bilinear', align_corners=False)
        return cls_list[-1], masks

    def predict(self, x: Sequence[Tensor], batch_data_samples: SampleList,
                tasks: Optional[Sequence[str]] = None) -> Tuple[Tensor, Tensor]:
        return self.predict_by_pixel_feats(self.forward_pixel(x), batch_data_samples, tasks)
