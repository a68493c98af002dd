"""OneFormer head: Mask2Former's pixel decoder and masked decoder, driven by task-conditioned queries."""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.dense_heads import Mask2FormerHead
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.mask import BitmapMasks
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmengine.structures import InstanceData
from torch import Tensor

from ...compat import route_deform_attn
from ...tasks import CONTEXT_LENGTH, check_task, pad_text_tokens, task_tokens
from ..layers.gather_deform_attn import deform_attn

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
        in_channels (list[int], optional): Channels of the backbone (+ neck) features. None (left out): filled
            by the model (:class:`OneFormer`, :class:`OneFormerEncoderDecoder`) from the built backbone; given
            values are checked there.
        strides (list[int], optional): Their strides; None: filled likewise.
        feat_channels (int): Width of the pixel decoder and the decoders.
        out_channels (int): Channels of the mask features.
        num_things_classes (int): Thing classes (labels ``[0, num_things_classes)``).
        num_stuff_classes (int): Stuff classes (the following labels).
        num_queries (int): Object queries N; also fixes the text list length ``N - text_mapper.num_ctx``.
        num_transformer_feat_level (int): Feature levels the masked decoder cycles through.
        pixel_decoder (dict): Config of the pixel decoder (mmdet ``MSDeformAttnPixelDecoder``).
        enforce_decoder_input_project (bool): Project decoder inputs even when widths match.
        transformer_decoder (dict): Config of mmdet's ``Mask2FormerTransformerDecoder``.
        positional_encoding (dict): Sine positional encoding of the decoder keys.
        task_encoder (dict): Config of the task encoder.
        query_transformer (dict): Config of the task-guided query transformer.
        text_mapper (dict, optional): Config of the text mapper; None builds an inference-only head.
        loss_contrastive (dict, optional): Config of the query-text contrastive loss.
        loss_cls, loss_mask, loss_dice (dict): Matched losses, as Mask2Former's.
        no_object_weight (float): CE weight of the "no object" class when ``loss_cls.class_weight`` is None.
            Defaults to 0.1.
        fast_cpu_deform_attn (bool): off CUDA, run the pixel decoder's deformable attention as one weighted gather
            (same values up to float rounding, several times faster) instead of mmcv's ``grid_sample``
            fallback. CUDA always uses mmcv's kernel. Defaults to True.
        train_cfg (dict, optional): Assigner, sampler and point-sampling settings.
        test_cfg (dict, optional): Unused by the head (the detector and fusion head read theirs).
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 in_channels: Optional[List[int]] = None,
                 strides: Optional[List[int]] = None,
                 feat_channels: int = 256,
                 out_channels: int = 256,
                 num_things_classes: int = 80,
                 num_stuff_classes: int = 53,
                 num_queries: int = 150,
                 num_transformer_feat_level: int = 3,
                 pixel_decoder: ConfigType = ...,
                 enforce_decoder_input_project: bool = False,
                 transformer_decoder: ConfigType = ...,
                 positional_encoding: ConfigType = dict(num_feats=128, normalize=True),
                 task_encoder: ConfigType = dict(type='TaskEncoder'),
                 query_transformer: ConfigType = dict(type='TaskGuidedQueryTransformer'),
                 text_mapper: OptConfigType = dict(type='TextMapper'),
                 loss_contrastive: OptConfigType = dict(type='QueryTextContrastiveLoss'),
                 loss_cls: ConfigType = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=2.0,
                                             reduction='mean', class_weight=None),
                 loss_mask: ConfigType = dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='mean',
                                              loss_weight=5.0),
                 loss_dice: ConfigType = dict(type='DiceLoss', use_sigmoid=True, activate=True, reduction='mean',
                                              naive_dice=True, eps=1.0, loss_weight=5.0),
                 no_object_weight: float = 0.1,
                 fast_cpu_deform_attn: bool = True,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        if in_channels is None or strides is None:
            raise ValueError(f'{type(self).__name__}: in_channels={in_channels}, strides={strides}: left out, they '
                             'are found from the backbone by the model that builds this head (OneFormer, '
                             'OneFormerEncoderDecoder); a head built on its own needs both')
        if loss_cls is not None and loss_cls.get('class_weight') is None:
            # derive the per-class CE weights here so configs that change the class count cannot get them wrong
            num_classes = num_things_classes + num_stuff_classes
            loss_cls = ConfigDict(loss_cls, class_weight=[1.0] * num_classes + [no_object_weight])
        super().__init__(
            in_channels=in_channels, strides=strides, feat_channels=feat_channels, out_channels=out_channels,
            num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes, num_queries=num_queries,
            num_transformer_feat_level=num_transformer_feat_level, pixel_decoder=pixel_decoder,
            enforce_decoder_input_project=enforce_decoder_input_project, transformer_decoder=transformer_decoder,
            positional_encoding=positional_encoding, loss_cls=loss_cls, loss_mask=loss_mask, loss_dice=loss_dice,
            train_cfg=train_cfg, test_cfg=test_cfg, init_cfg=init_cfg)
        # Mask2Former's learnable content queries are the one part OneFormer does not have: its queries come from
        # the task token (:meth:`init_queries`). Mask2FormerHead has no hook to skip building them.
        del self.query_feat
        self.task_encoder = MODELS.build(task_encoder)
        self.query_transformer = MODELS.build(query_transformer)
        self.text_mapper = MODELS.build(text_mapper) if text_mapper is not None else None
        self.loss_contrastive = MODELS.build(loss_contrastive) if loss_contrastive is not None else None
        if self.text_mapper is not None and num_queries <= self.text_mapper.num_ctx:
            raise ValueError(f'num_queries ({num_queries}) must exceed the text mapper\'s num_ctx '
                             f'({self.text_mapper.num_ctx}): the text list has num_queries - num_ctx entries')
        self.fast_cpu_deform_attn = fast_cpu_deform_attn
        self.in_channels, self.strides = list(in_channels), list(strides)

    def class_head_keys(self) -> Tuple[str, ...]:
        """State-dict keys (relative to the head) whose shapes depend on the number of classes: ``cls_embed``'s
        (K+1 outputs). They are what ``OneFormer(load_mismatch='reinit_cls')`` re-initialises when a checkpoint of
        another dataset's classes is loaded; every other tensor is independent of the classes."""
        return tuple(f'cls_embed.{name}' for name, _ in self.cls_embed.named_parameters())

    @property
    def num_texts(self) -> int:
        """Length of the padded text list: one text query per object query minus the learnable context."""
        return self.num_queries - self.text_mapper.num_ctx

    def init_weights(self) -> None:
        super().init_weights()
        self.query_transformer.init_weights()
        if self.text_mapper is not None:
            self.text_mapper.init_weights()

    # ------------------------------------------------------------------ forward
    @staticmethod
    def get_task_tokens(tasks: Sequence[str], device=None) -> Tensor:
        """Token ids of ``"the task is {task}"`` for each task.

        Args:
            tasks (Sequence[str]): B task names.
            device (torch.device, optional): Where to put them.

        Returns:
            Tensor: (B, 77) int64.
        """
        return torch.stack([task_tokens(t) for t in tasks]).to(device)

    def forward_pixel(self, x: Sequence[Tensor]) -> PixelFeats:
        """Pixel decoder, task independent. Runs in fp32 under AMP, as the official code does.

        Args:
            x (Sequence[Tensor]): Backbone (+ neck) features, level i (B, in_channels[i], H/s_i, W/s_i).

        Returns:
            tuple: mask features (B, C, H/4, W/4) and the decoder's multi-scale memories, coarse to fine
            (``num_transformer_feat_level`` maps (B, C, h_l, w_l)).
        """
        route = deform_attn if self.fast_cpu_deform_attn else None  # mmcv's CUDA kernel is never rerouted
        with torch.autocast(device_type=x[0].device.type, enabled=False), route_deform_attn(route):
            return self.pixel_decoder([f.float() for f in x])

    def decoder_inputs(self, pixel_feats: PixelFeats) -> Tuple[List[Tensor], List[Tensor]]:
        """Per-level keys (B, HW, C) and their positional encodings, as ``Mask2FormerHead.forward`` (mmdet 3.3)
        builds them. Mirrored from mmdet: that method builds them inline.

        Args:
            pixel_feats (tuple): :meth:`forward_pixel`'s output.

        Returns:
            tuple[list[Tensor]]: keys (B, h_l·w_l, C) with their level embedding, and their sine positional
            encodings (B, h_l·w_l, C), one per level.
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
        return decoder_inputs, decoder_pos

    def init_queries(self, task_tokens: Tensor, mask_features: Tensor) -> Tensor:
        """The OneFormer step (paper §3.2): the task token (task encoder, then the decoder's final LayerNorm as in
        the official code) initialises N-1 queries refined by the query transformer over the 1/4-scale features,
        and is itself query N.

        Args:
            task_tokens (Tensor): (B, 77) token ids of the task prompts.
            mask_features (Tensor): (B, C, H/4, W/4) from :meth:`forward_pixel`.

        Returns:
            Tensor: (B, N, C) object queries.
        """
        task = self.transformer_decoder.post_norm(self.task_encoder(task_tokens.to(mask_features.device)))
        guided = self.query_transformer(task, mask_features, self.query_embed.weight[:-1])
        return torch.cat([guided, task[:, None]], dim=1)

    def decode(self, queries: Tensor, pixel_feats: PixelFeats,
               keys: Optional[Tuple[List[Tensor], List[Tensor]]] = None,
               all_layers: bool = True) -> Tuple[List[Tensor], List[Tensor]]:
        """Masked-attention decoder from given queries: predictions of the initial queries and of every layer.
        Mirrored from the layer loop of ``Mask2FormerHead.forward`` (mmdet 3.3), which takes no queries (guarded by
        ``tests/test_models/test_dense_heads/test_decode_mirrors_mask2former.py``).

        Args:
            queries (Tensor): (B, N, C) object queries.
            pixel_feats (tuple): :meth:`forward_pixel`'s output.
            keys (tuple, optional): :meth:`decoder_inputs` of ``pixel_feats`` when already computed.
            all_layers (bool): Keep the predictions of every layer (training: deep supervision). False keeps only
                the final one (inference: the earlier full-size mask logits are freed as the loop goes).

        Returns:
            tuple[list[Tensor]]: class logits (B, N, K+1) and mask logits (B, N, H/4, W/4), for the initial
            queries and after every decoder layer (last = final; only the final one if ``all_layers`` is False).
        """
        mask_features, multi_scale_memorys = pixel_feats
        decoder_inputs, decoder_pos = self.decoder_inputs(pixel_feats) if keys is None else keys
        query_embed = self.query_embed.weight[None].expand(queries.shape[0], -1, -1)
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
            if not all_layers:
                cls_pred_list.clear()
                mask_pred_list.clear()
            cls_pred_list.append(cls_pred)
            mask_pred_list.append(mask_pred)
        return cls_pred_list, mask_pred_list

    def forward_decoder(self, pixel_feats: PixelFeats, task_tokens: Tensor,
                        all_layers: bool = True) -> Tuple[List[Tensor], ...]:
        """Task-conditioned queries, then the masked-attention decoder.

        Several tokens per image decode in one batched pass: with B images in ``pixel_feats`` and T·B tokens
        (image-major: image 0's T tokens, then image 1's, ...), the decoder's task-independent keys (input
        projections, level embeddings, positional encodings) are computed once per image and shared by its T
        passes.

        Args:
            pixel_feats (tuple): :meth:`forward_pixel`'s output for B images.
            task_tokens (Tensor): (T·B, 77) token ids of the task prompts, T >= 1.
            all_layers (bool): Return every layer's predictions (True) or only the final ones (see :meth:`decode`).

        Returns:
            tuple: ``cls_pred_list`` (each (T·B, N, K+1)), ``mask_pred_list`` (each (T·B, N, H/4, W/4)), one per
            supervised prediction (initial queries + every decoder layer), and the object queries before the
            masked decoder (T·B, N, C) used by the contrastive loss.
        """
        num_images, num_tokens = pixel_feats[0].shape[0], task_tokens.shape[0]
        reps = num_tokens // num_images
        if reps * num_images != num_tokens:
            raise ValueError(f'{num_tokens} task tokens for {num_images} images: give T tokens per image (T*B)')
        keys = self.decoder_inputs(pixel_feats)
        if reps > 1:
            pixel_feats = (per_token(pixel_feats[0], reps), [per_token(m, reps) for m in pixel_feats[1]])
            keys = tuple([per_token(k, reps) for k in level] for level in keys)
        queries = self.init_queries(task_tokens, pixel_feats[0])
        cls_pred_list, mask_pred_list = self.decode(queries, pixel_feats, keys, all_layers=all_layers)
        return cls_pred_list, mask_pred_list, queries

    def forward(self, x: Sequence[Tensor], batch_data_samples: SampleList) -> Tuple[List[Tensor], List[Tensor]]:
        """The head's forward for the task of each sample (its metainfo ``task``).

        Args:
            x (Sequence[Tensor]): Backbone (+ neck) features, level i (B, in_channels[i], H/s_i, W/s_i).
            batch_data_samples (list[DetDataSample]): B samples with ``task`` metainfo.

        Returns:
            tuple[list[Tensor]]: ``all_cls_scores`` (B, N, K+1) and ``all_mask_preds`` (B, N, H/4, W/4), one per
            prediction (initial queries + every decoder layer; last = final).
        """
        tokens = self.get_task_tokens(self._sample_tasks(batch_data_samples), device=x[0].device)
        cls_list, mask_list, _ = self.forward_decoder(self.forward_pixel(x), tokens)
        return cls_list, mask_list

    @staticmethod
    def _sample_tasks(batch_data_samples: SampleList) -> List[str]:
        tasks = []
        for i, sample in enumerate(batch_data_samples):
            if 'task' not in sample.metainfo:
                raise KeyError(f'sample {i} ({sample.metainfo.get("img_path", "?")}) has no "task" in its metainfo: '
                               'add OneFormerTaskTargets to the train pipeline and "task" to the meta_keys of '
                               'PackDetInputs')
            tasks.append(check_task(sample.metainfo['task']))
        return tasks

    # --------------------------------------------------------------------- loss
    def loss(self, x: Sequence[Tensor], batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Matched classification / mask / dice losses on every prediction + the query-text contrastive loss.

        Args:
            x (Sequence[Tensor]): Backbone (+ neck) features, level i (B, in_channels[i], H/s_i, W/s_i).
            batch_data_samples (list[DetDataSample]): B samples with ``gt_instances`` (``labels`` (n,), ``masks``
                (n, H, W)) and ``task`` / ``text_tokens`` metainfo.

        Returns:
            dict[str, Tensor]: scalar losses (``loss_cls``, ``loss_mask``, ``loss_dice`` and their ``d{i}.``
            per-layer copies, ``loss_contrastive``).
        """
        device = x[0].device
        tasks = self._sample_tasks(batch_data_samples)
        tokens = self.get_task_tokens(tasks, device=device)
        cls_list, mask_list, queries = self.forward_decoder(self.forward_pixel(x), tokens)

        batch_img_metas = [s.metainfo for s in batch_data_samples]
        batch_gt_instances = [self._gt_to_tensor(s.gt_instances, device) for s in batch_data_samples]
        losses = self.loss_by_feat(cls_list, mask_list, batch_gt_instances, batch_img_metas)
        if self.text_mapper is not None and self.loss_contrastive is not None:
            text_queries = self.text_mapper(self.text_tokens(batch_data_samples, tasks, device))
            losses['loss_contrastive'] = self.loss_contrastive(queries, text_queries)
        return losses

    def text_tokens(self, batch_data_samples: SampleList, tasks: Sequence[str], device) -> Tensor:
        """(B, num_texts, 77): each sample's text tokens (metainfo ``text_tokens``, one row per target, as the
        pipeline builds them) truncated / padded with its task's pad text to ``num_queries - num_ctx``.

        Args:
            batch_data_samples (list[DetDataSample]): B samples with ``text_tokens`` (T_i, 77) metainfo.
            tasks (Sequence[str]): The B samples' tasks.
            device (torch.device): Where to put the result.

        Returns:
            Tensor: (B, num_texts, 77) int64.
        """
        tokens = []
        for i, (sample, task) in enumerate(zip(batch_data_samples, tasks)):
            if 'text_tokens' not in sample.metainfo:
                raise KeyError(f'training sample {i} has no "text_tokens" in its metainfo (needed by the text '
                               'mapper): add "text_tokens" to the meta_keys of PackDetInputs')
            t = torch.as_tensor(sample.metainfo['text_tokens']).reshape(-1, CONTEXT_LENGTH)
            if t.shape[0] > self.num_texts:
                self._say_texts_are_cut(t.shape[0])
                t = t[:self.num_texts]
            pad = pad_text_tokens(task)[None].expand(self.num_texts - t.shape[0], -1)
            tokens.append(torch.cat([t.to(pad.dtype), pad]))
        return torch.stack(tokens).to(device)

    def _say_texts_are_cut(self, num: int) -> None:
        """Log once that a sample had more targets than the text list holds (the official mapper cuts them too)."""
        if getattr(self, '_texts_cut_said', False):
            return
        self._texts_cut_said = True
        print_log(f'a training sample has {num} targets but the text list holds num_queries - text_mapper.num_ctx = '
                  f'{self.num_texts} texts: the texts beyond {self.num_texts} are cut (not used by the contrastive '
                  'loss; the mask and class losses keep every target), as the official OneFormer does. Raise '
                  'num_queries to keep them. (Said once.)', logger='current', level=logging.WARNING)

    @staticmethod
    def _gt_to_tensor(gt_instances: InstanceData, device) -> InstanceData:
        masks = gt_instances.masks
        if isinstance(masks, BitmapMasks):
            masks = masks.to_tensor(dtype=torch.bool, device=device)
        return InstanceData(labels=gt_instances.labels.to(device), masks=masks.to(device))

    # ------------------------------------------------------------------ predict
    def predict_by_pixel_feats(self, pixel_feats: PixelFeats, tasks: Sequence[str]) -> Tuple[Tensor, Tensor]:
        """Final predictions (the fusion head upsamples only the queries it reads).

        Args:
            pixel_feats (tuple): :meth:`forward_pixel`'s output for B images.
            tasks (Sequence[str]): T·B task names, image-major (T tokens per image, decoded in one pass; T = 1:
                the token of each sample).

        Returns:
            tuple[Tensor]: class logits (T·B, N, K+1) and 1/4-scale mask logits (T·B, N, H/4, W/4).
        """
        tokens = self.get_task_tokens(tasks, device=pixel_feats[0].device)
        cls_list, mask_list, _ = self.forward_decoder(pixel_feats, tokens, all_layers=False)
        return cls_list[-1], mask_list[-1]

    def predict(self, x: Sequence[Tensor], batch_data_samples: SampleList,
                tasks: Optional[Sequence[str]] = None) -> Tuple[Tensor, Tensor]:
        """Final predictions, masks upsampled to the padded batch shape.

        Args:
            x (Sequence[Tensor]): Backbone (+ neck) features, level i (B, in_channels[i], H/s_i, W/s_i).
            batch_data_samples (list[DetDataSample]): B samples with ``batch_input_shape`` (and, without
                ``tasks``, ``task``) metainfo.
            tasks (Sequence[str], optional): B task names; None: each sample's metainfo ``task``.

        Returns:
            tuple[Tensor]: class logits (B, N, K+1) and mask logits (B, N, H, W).
        """
        tasks = self._sample_tasks(batch_data_samples) if tasks is None else tasks
        cls, masks = self.predict_by_pixel_feats(self.forward_pixel(x), tasks)
        img_shape = batch_data_samples[0].metainfo['batch_input_shape']
        return cls, F.interpolate(masks, size=tuple(img_shape[:2]), mode='bilinear', align_corners=False)


def per_token(x: Tensor, reps) -> Tensor:
    """(B, ...) -> (B·reps, ...), each image's rows repeated for its ``reps`` tokens (image-major). -1 for the
    kept sizes, so that a traced graph (ONNX export) keeps them dynamic."""
    return x.unsqueeze(1).expand(-1, reps, *([-1] * (x.dim() - 1))).flatten(0, 1)
