"""Task-guided query initialisation (the paper's "query transformer")."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import Conv2d
from mmdet.models.layers import SinePositionalEncoding
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from .memory_efficient_attention import MemoryEfficientDetrDecoder


@MODELS.register_module()
class TaskGuidedQueryTransformer(BaseModule):
    """Refines N-1 copies of the task token by attending to the 1/4-scale pixel features.

    A 2-layer post-norm DETR decoder (self-attn -> cross-attn -> FFN, final LayerNorm).
    The official code passes its arguments swapped relative to the DETR signature, so the cross-attention
    *keys* are ``sine_PE + input_proj(mask_features)`` while the *values* are the sine positional encoding alone
    (SHI-Labs/OneFormer#110). Published weights were trained that way, so we reproduce it.

    Args:
        embed_dims (int): Width. Defaults to 256.
        decoder (dict): Config of mmdet's ``DetrTransformerDecoder`` (``num_layers``, ``layer_cfg``).
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 embed_dims: int = 256,
                 decoder: ConfigType = dict(
                     num_layers=2,
                     return_intermediate=False,
                     layer_cfg=dict(
                         self_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.1, batch_first=True),
                         cross_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.1, batch_first=True),
                         ffn_cfg=dict(embed_dims=256, feedforward_channels=2048, ffn_drop=0.1))),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.input_proj = Conv2d(embed_dims, embed_dims, kernel_size=1)
        self.positional_encoding = SinePositionalEncoding(num_feats=embed_dims // 2, normalize=True)
        # mmdet's DETR decoder with memory-efficient attention (same parameters and function)
        self.decoder = MemoryEfficientDetrDecoder(**decoder)
        self._pos_cache: Optional[Tuple[tuple, Tensor]] = None

    def init_weights(self) -> None:
        super().init_weights()
        for p in self.decoder.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, task_token: Tensor, mask_features: Tensor, query_pos: Tensor) -> Tensor:
        """Args:
            task_token (Tensor): normalised task token, (B, C).
            mask_features (Tensor): 1/4-scale pixel features, (B, C, H, W).
            query_pos (Tensor): positional query embeddings, (N-1, C).

        Returns:
            Tensor: task-guided queries, (B, N-1, C).
        """
        b = mask_features.shape[0]
        pos = self._sine_pos(mask_features).expand(b, -1, -1)  # (B, HW, C)
        proj = self.input_proj(mask_features).flatten(2).transpose(1, 2)
        query = task_token[:, None].expand(-1, query_pos.shape[0], -1)
        out = self.decoder(
            query=query, key=pos, value=pos, query_pos=query_pos[None].expand(b, -1, -1),
            key_pos=proj, key_padding_mask=None)
        return out[-1]

    def _sine_pos(self, mask_features: Tensor) -> Tensor:
        """(1, HW, C) sine encoding of the 1/4 map: it depends on the map size only (no padding masks), so the
        last one is kept (parameter free, hence valid in training too)."""
        key = (tuple(mask_features.shape[-2:]), mask_features.device, mask_features.dtype)
        if self._pos_cache is None or self._pos_cache[0] != key:
            mask = mask_features.new_zeros((1, ) + key[0], dtype=torch.bool)
            self._pos_cache = (key, self.positional_encoding(mask).flatten(2).transpose(1, 2).contiguous())
        return self._pos_cache[1]
