"""Text mapper: turns the per-image text list into N text queries (training only)."""

import torch
import torch.nn as nn
from mmdet.models.layers.transformer.utils import MLP
from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from ...tasks import CONTEXT_LENGTH


class QuickGELU(nn.Module):
    """CLIP's GELU approximation x * sigmoid(1.702 x)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """Pre-LN transformer block of the CLIP text encoder (LN -> MHA -> add; LN -> MLP -> add)."""

    def __init__(self, width: int, num_heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, num_heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module('c_fc', nn.Linear(width, width * 4))
        self.mlp.add_module('gelu', QuickGELU())
        self.mlp.add_module('c_proj', nn.Linear(width * 4, width))

    def forward(self, x: Tensor, attn_mask: Tensor) -> Tensor:
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, attn_mask=attn_mask, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class TextTransformer(nn.Module):
    """CLIP-style causal text encoder; the output is the hidden state at the EOT token (the largest id)."""

    def __init__(self, context_length: int, width: int, num_layers: int, num_heads: int,
                 vocab_size: int) -> None:
        super().__init__()
        self.context_length = context_length
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))
        self.transformer = nn.Module()
        self.transformer.resblocks = nn.ModuleList(
            ResidualAttentionBlock(width, num_heads) for _ in range(num_layers))
        self.ln_final = nn.LayerNorm(width)
        # additive causal mask: token i sees tokens <= i
        self.register_buffer(
            'attn_mask', torch.full((context_length, context_length), float('-inf')).triu_(1), persistent=False)

    def init_weights(self) -> None:
        """CLIP initialisation."""
        width = self.positional_embedding.shape[1]
        num_layers = len(self.transformer.resblocks)
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        attn_std = width**-0.5
        proj_std = attn_std * (2 * num_layers)**-0.5
        fc_std = (2 * width)**-0.5
        for block in self.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)

    def forward(self, tokens: Tensor) -> Tensor:
        """(B, L) int64 -> (B, width)."""
        if tokens.shape[-1] != self.context_length:
            raise ValueError(f'text tokens have length {tokens.shape[-1]}, the text encoder expects '
                             f'{self.context_length}')
        # Identical texts (pad strings, repeated class names) are encoded once, and with the causal mask the
        # padding after the longest text is dropped (states up to the EOT token never attend to it). Both leave
        # the pooled features unchanged (up to float rounding) and cut the encoder cost by ~100x.
        if tokens.shape[0] == 0:
            return self.ln_final.weight.new_zeros((0, self.ln_final.weight.shape[0]))
        length = int(tokens.argmax(dim=-1).max()) + 1
        if not torch.isneginf(self.attn_mask[:length, length:]).all():
            length = self.context_length  # a non-causal mask: later positions matter
        unique, inverse = torch.unique(tokens[:, :length], dim=0, return_inverse=True)
        x = self.token_embedding(unique) + self.positional_embedding[:length]
        for block in self.transformer.resblocks:
            x = block(x, self.attn_mask[:length, :length])
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0], device=x.device), unique.argmax(dim=-1)][inverse]


@MODELS.register_module()
class TextMapper(BaseModule):
    """Text encoder + projector + learnable context embeddings -> N text queries Q_text.

    Args:
        embed_dims (int): Query width C. Defaults to 256.
        context_length (int): Token length. Defaults to 77.
        width (int): Text encoder width. Defaults to 256.
        num_layers (int): Text encoder depth (6 in every official config). Defaults to 6.
        num_heads (int): Attention heads (width // 64). Defaults to 4.
        vocab_size (int): CLIP vocabulary size. Defaults to 49408.
        proj_num_layers (int): Projector MLP depth. Defaults to 2.
        num_ctx (int): Learnable context embeddings appended to the text features. Defaults to 16.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 embed_dims: int = 256,
                 context_length: int = CONTEXT_LENGTH,
                 width: int = 256,
                 num_layers: int = 6,
                 num_heads: int = 4,
                 vocab_size: int = 49408,
                 proj_num_layers: int = 2,
                 num_ctx: int = 16,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_ctx = num_ctx
        self.text_encoder = TextTransformer(context_length, width, num_layers, num_heads, vocab_size)
        self.text_projector = MLP(width, embed_dims, embed_dims, proj_num_layers)
        self.prompt_ctx = nn.Embedding(num_ctx, embed_dims)

    def init_weights(self) -> None:
        super().init_weights()
        self.text_encoder.init_weights()

    def forward(self, text_tokens: Tensor) -> Tensor:
        """(B, T, L) int64 text tokens -> (B, T + num_ctx, C) text queries."""
        b, t, length = text_tokens.shape
        feats = self.text_encoder(text_tokens.reshape(b * t, length))
        feats = self.text_projector(feats).reshape(b, t, -1)
        ctx = self.prompt_ctx.weight[None].expand(b, -1, -1)
        return torch.cat([feats, ctx], dim=1)


__all__ = ['TextMapper', 'TextTransformer']
