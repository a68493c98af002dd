"""Query-text contrastive loss between object queries and text queries."""
import math

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor


def gather_with_grad(x: Tensor) -> Tensor:
    """All-gather ``x`` from every rank along dim 0; gradients flow back to the owning rank."""
    from torch.distributed.nn.functional import all_gather
    return torch.cat(all_gather(x), dim=0)


@MODELS.register_module()
class QueryTextContrastiveLoss(nn.Module):
    """Image-level contrastive loss between flattened object queries and flattened text queries.

    Each image's N×C object queries and N×C text queries are flattened and L2-normalised; the image's own text
    is the positive, every other image's text in the *global* batch is a negative (all-gathered across ranks
    with gradients). Symmetric cross-entropy (image->text + text->image, summed), scaled by a learnable logit
    scale initialised to log(1/temperature) and clamped at ``max_logit_scale`` after exponentiation.

    Args:
        temperature (float): Initial temperature. Defaults to 0.07.
        max_logit_scale (float): Clamp of exp(logit_scale). Defaults to 100.
        loss_weight (float): Loss weight. Defaults to 0.5.
    """

    def __init__(self, temperature: float = 0.07, max_logit_scale: float = 100.0, loss_weight: float = 0.5):
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / temperature)))
        self.max_logit_scale = max_logit_scale
        self.loss_weight = loss_weight

    def forward(self, queries: Tensor, text_queries: Tensor) -> Tensor:
        """Args:
            queries (Tensor): object queries before the masked decoder, (B, N, C).
            text_queries (Tensor): text-mapper output, (B, N, C).
        """
        if queries.shape != text_queries.shape:
            raise ValueError(f'object queries {tuple(queries.shape)} and text queries '
                             f'{tuple(text_queries.shape)} must have the same shape')
        img = F.normalize(queries.flatten(1), dim=-1)
        txt = F.normalize(text_queries.flatten(1), dim=-1)
        offset = 0
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            all_img, all_txt = gather_with_grad(img), gather_with_grad(txt)
            offset = dist.get_rank() * img.shape[0]
        else:
            all_img, all_txt = img, txt
        scale = self.logit_scale.exp().clamp(max=self.max_logit_scale)
        labels = torch.arange(img.shape[0], device=img.device) + offset
        loss = F.cross_entropy(scale * img @ all_txt.t(), labels) + F.cross_entropy(scale * txt @ all_img.t(), labels)
        return self.loss_weight * loss
