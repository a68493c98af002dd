"""DiNAT backbone (Hassani & Shi, "Dilated Neighborhood Attention Transformer", arXiv 2209.15001), pure PyTorch.

Mirrors ``DiNAT`` / ``D2DiNAT`` of the official OneFormer code (SHI-Labs/OneFormer
``oneformer/modeling/backbone/dinat.py``) run with NATTEN 0.14: same module tree and parameter names, so the
``backbone.*`` weights of an official OneFormer checkpoint load after stripping the prefix, and same numerics
(see :mod:`.neighborhood_attention` for the attention rules).
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.utils.checkpoint as cp
from mmcv.cnn.bricks import DropPath
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn

from .neighborhood_attention import NeighborhoodAttention2D, check_kernel_dilation

# Dilations of the OneFormer DiNAT-L configs (SHI-Labs/OneFormer configs/*/dinat/*.yaml): one list per stage,
# one dilation per block. 640/896 crops (ADE20K, COCO, Mapillary), kernel 11:
DILATIONS_L_640 = ((1, 20, 1), (1, 5, 1, 10), (1, 2, 1, 3, 1, 4, 1, 5, 1, 2, 1, 3, 1, 4, 1, 5, 1, 5), (1, 2, 1, 2, 1))
# ADE20K 1280 crops (incl. the COCO-pretrained one), kernel 11:
DILATIONS_L_1280 = ((1, 28, 1), (1, 7, 1, 14), (1, 3, 1, 5, 1, 5, 1, 7, 1, 3, 1, 5, 1, 5, 1, 7, 1, 7), (1, 3, 1, 3, 1))
# Cityscapes, kernel 7:
DILATIONS_L_CITYSCAPES = ((1, 18, 1), (1, 5, 1, 9), (1, 2, 1, 3, 1, 4) * 3, (1, 2, 1, 2, 1))
# ImageNet-224 dilations of the classification models (SHI-Labs/Neighborhood-Attention-Transformer), kernel 7:
_DILATIONS_224_18 = ((1, 8, 1), (1, 4, 1, 4), (1, 2) * 9, (1, 1, 1, 1, 1))
_DILATIONS_224_6 = ((1, 8, 1), (1, 4, 1, 4), (1, 2) * 3, (1, 1, 1, 1, 1))


class ConvTokenizer(nn.Module):
    """Stem: two 3×3 stride-2 convolutions (no activation between them), then LayerNorm; output channels last.

    Args:
        in_channels (int): Input channels.
        embed_dim (int): Output channels C (the first conv outputs C // 2).
    """

    def __init__(self, in_channels: int, embed_dim: int):
        super().__init__()
        self.proj = nn.Sequential(
            nn.Conv2d(in_channels, embed_dim // 2, kernel_size=3, stride=2, padding=1),
            nn.Conv2d(embed_dim // 2, embed_dim, kernel_size=3, stride=2, padding=1),
        )
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        """(B, Cin, H, W) -> (B, ceil(H/4), ceil(W/4), C)."""
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class ConvDownsampler(nn.Module):
    """3×3 stride-2 convolution without bias (C -> 2C), then LayerNorm; channels last in and out.

    Args:
        dim (int): Input channels C.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.reduction = nn.Conv2d(dim, 2 * dim, kernel_size=3, stride=2, padding=1, bias=False)
        self.norm = nn.LayerNorm(2 * dim)

    def forward(self, x: Tensor) -> Tensor:
        """(B, H, W, C) -> (B, ceil(H/2), ceil(W/2), 2C)."""
        return self.norm(self.reduction(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1))


class Mlp(nn.Module):
    """fc1 -> GELU (exact) -> dropout -> fc2 -> dropout.

    Args:
        dim (int): Input and output channels.
        hidden_dim (int): Hidden channels.
        drop (float): Dropout rate. Defaults to 0.
    """

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class NATLayer(nn.Module):
    """Pre-norm transformer block with dilated neighbourhood attention.

    ``x = x + drop_path(γ1 · attn(norm1(x)))``; ``x = x + drop_path(γ2 · mlp(norm2(x)))`` (γ only with layer
    scale).

    Args:
        dim (int): Channels.
        num_heads (int): Attention heads.
        kernel_size (int): Neighbourhood size K.
        dilation (int): Dilation d.
        mlp_ratio (float): MLP hidden size = ``int(dim * mlp_ratio)``.
        qkv_bias (bool): Bias in the qkv projection.
        qk_scale (float, optional): Query scale; head_dim ** -0.5 if None.
        drop (float): Dropout after the attention projection and in the MLP.
        attn_drop (float): Dropout on attention weights.
        drop_path (float): Stochastic depth rate.
        layer_scale (float, optional): Initial value of the per-channel scales ``gamma1``/``gamma2``; None for none.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 kernel_size: int,
                 dilation: int,
                 mlp_ratio: float,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 drop: float = 0.,
                 attn_drop: float = 0.,
                 drop_path: float = 0.,
                 layer_scale: Optional[float] = None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = NeighborhoodAttention2D(dim, num_heads, kernel_size, dilation, qkv_bias=qkv_bias,
                                            qk_scale=qk_scale, attn_drop=attn_drop, proj_drop=drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0. else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        self.layer_scale = layer_scale is not None
        if self.layer_scale:
            self.gamma1 = nn.Parameter(layer_scale * torch.ones(dim))
            self.gamma2 = nn.Parameter(layer_scale * torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        """(B, H, W, C) -> (B, H, W, C)."""
        if self.layer_scale:
            x = x + self.drop_path(self.gamma1 * self.attn(self.norm1(x)))
            return x + self.drop_path(self.gamma2 * self.mlp(self.norm2(x)))
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class NATBlock(nn.Module):
    """One stage: ``depth`` :class:`NATLayer` s, then an optional :class:`ConvDownsampler`.

    Args:
        dim (int): Channels.
        depth (int): Number of layers.
        num_heads (int): Attention heads.
        kernel_size (int): Neighbourhood size K.
        dilations (Sequence[int]): One dilation per layer.
        downsample (bool): Append a downsampler.
        drop_path (Sequence[float]): One stochastic depth rate per layer.
        with_cp (bool): Gradient checkpointing per layer.
        **layer_kwargs: Passed on to :class:`NATLayer`.
    """

    def __init__(self, dim: int, depth: int, num_heads: int, kernel_size: int, dilations: Sequence[int],
                 downsample: bool, drop_path: Sequence[float], with_cp: bool = False, **layer_kwargs):
        super().__init__()
        self.with_cp = with_cp
        self.blocks = nn.ModuleList([
            NATLayer(dim, num_heads, kernel_size, dilations[i], drop_path=drop_path[i], **layer_kwargs)
            for i in range(depth)
        ])
        self.downsample = ConvDownsampler(dim) if downsample else None

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Returns (input of the next stage, this stage's output before the downsampler)."""
        for block in self.blocks:
            if self.with_cp and x.requires_grad:
                x = cp.checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        if self.downsample is None:
            return x, x
        return self.downsample(x), x


@MODELS.register_module()
class DiNAT(BaseModule):
    """Dilated Neighborhood Attention Transformer backbone (DiNAT, arXiv 2209.15001) as used by OneFormer.

    Stem (stride 4) and four stages of neighbourhood-attention layers; stages 0-2 end with a stride-2 conv
    downsampler. Each returned feature is ``norm{i}`` (a LayerNorm) of the stage output taken *before* its
    downsampler, as in the official ``D2DiNAT``. Parameter names equal the official module tree:
    ``patch_embed.proj.{0,1}``, ``patch_embed.norm``, ``levels.{i}.blocks.{j}.{norm1, attn.qkv, attn.rpb,
    attn.proj, norm2, mlp.fc1, mlp.fc2}`` (+ ``gamma1``/``gamma2`` with layer scale),
    ``levels.{i}.downsample.{reduction, norm}`` and ``norm{i}``.

    The size arguments left as None are taken from ``arch_settings[arch]``.

    Args:
        arch (str): One of :attr:`arch_settings` (``'large'`` = OneFormer's DiNAT-L). Defaults to 'large'.
        embed_dim (int, optional): Channels of stage 0; stage i has ``embed_dim * 2**i``.
        depths (Sequence[int], optional): Layers per stage.
        num_heads (Sequence[int], optional): Heads per stage.
        kernel_size (int, optional): Neighbourhood size K (odd, > 1).
        dilations (Sequence[Sequence[int]], optional): Per stage, one dilation per layer. The 'large' default is
            OneFormer's 640/896 list; use :data:`DILATIONS_L_1280` / :data:`DILATIONS_L_CITYSCAPES` (kernel 7)
            for those configs.
        mlp_ratio (float, optional): MLP hidden size ratio.
        layer_scale (float | bool, optional): Layer-scale init value; None takes the arch's (only 'base' uses
            one), False disables it.
        in_channels (int): Input image channels. Defaults to 3.
        drop_path_rate (float): Max stochastic depth rate (linear over all layers). Defaults to 0.3 (OneFormer).
        qkv_bias (bool): Bias in qkv projections. Defaults to True.
        qk_scale (float, optional): Query scale; head_dim ** -0.5 if None.
        drop_rate (float): Dropout after attention projections and in MLPs. Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
        out_indices (Sequence[int]): Stages whose (normed) outputs are returned. Defaults to (0, 1, 2, 3).
        frozen_stages (int): -1 freezes nothing; 0 freezes the stem; n >= 1 also freezes stages 0..n-1 (their
            layers, downsamplers and output norms). Defaults to -1.
        with_cp (bool): Gradient checkpointing per layer (saves memory when training). Defaults to False.
        init_cfg (dict | list[dict], optional): mmengine init config, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``. With None, Linear layers get
            truncated-normal(0.02) weights and zero biases, LayerNorms ones/zeros (the NAT/DiNAT recipe).
    """

    arch_settings: Dict[str, dict] = {
        # OneFormer DiNAT-L (SHI-Labs/OneFormer configs/ade20k/dinat/oneformer_dinat_large_bs16_160k.yaml)
        'large': dict(embed_dim=192, depths=(3, 4, 18, 5), num_heads=(6, 12, 24, 48), mlp_ratio=2.0,
                      kernel_size=11, dilations=DILATIONS_L_640, layer_scale=None),
        # ImageNet-224 classification models (SHI-Labs/Neighborhood-Attention-Transformer classification/dinat.py)
        'base': dict(embed_dim=128, depths=(3, 4, 18, 5), num_heads=(4, 8, 16, 32), mlp_ratio=2.0, kernel_size=7,
                     dilations=_DILATIONS_224_18, layer_scale=1e-5),
        'small': dict(embed_dim=96, depths=(3, 4, 18, 5), num_heads=(3, 6, 12, 24), mlp_ratio=2.0, kernel_size=7,
                      dilations=_DILATIONS_224_18, layer_scale=None),
        'tiny': dict(embed_dim=64, depths=(3, 4, 18, 5), num_heads=(2, 4, 8, 16), mlp_ratio=3.0, kernel_size=7,
                     dilations=_DILATIONS_224_18, layer_scale=None),
        'mini': dict(embed_dim=64, depths=(3, 4, 6, 5), num_heads=(2, 4, 8, 16), mlp_ratio=3.0, kernel_size=7,
                     dilations=_DILATIONS_224_6, layer_scale=None),
    }

    def __init__(self,
                 arch: str = 'large',
                 embed_dim: Optional[int] = None,
                 depths: Optional[Sequence[int]] = None,
                 num_heads: Optional[Sequence[int]] = None,
                 kernel_size: Optional[int] = None,
                 dilations: Optional[Sequence[Sequence[int]]] = None,
                 mlp_ratio: Optional[float] = None,
                 layer_scale: Union[float, bool, None] = None,
                 in_channels: int = 3,
                 drop_path_rate: float = 0.3,
                 qkv_bias: bool = True,
                 qk_scale: Optional[float] = None,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 init_cfg: Union[dict, List[dict], None] = None):
        super().__init__(init_cfg=init_cfg)
        if arch not in self.arch_settings:
            raise KeyError(f'unknown DiNAT arch {arch!r}; choose from {sorted(self.arch_settings)}')
        cfg = copy.deepcopy(self.arch_settings[arch])
        explicit = dict(embed_dim=embed_dim, depths=depths, num_heads=num_heads, kernel_size=kernel_size,
                        dilations=dilations, mlp_ratio=mlp_ratio, layer_scale=layer_scale)
        cfg.update({k: v for k, v in explicit.items() if v is not None})
        if cfg['layer_scale'] is False:
            cfg['layer_scale'] = None
        self._check_args(cfg, out_indices, frozen_stages)

        self.arch = arch
        self.embed_dim = cfg['embed_dim']
        self.depths = tuple(cfg['depths'])
        self.num_heads = tuple(cfg['num_heads'])
        self.kernel_size = cfg['kernel_size']
        self.dilations = tuple(tuple(d) for d in cfg['dilations'])
        self.mlp_ratio = cfg['mlp_ratio']
        self.layer_scale = cfg['layer_scale']
        self.num_levels = len(self.depths)
        self.num_features = [self.embed_dim * 2**i for i in range(self.num_levels)]
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages

        self.patch_embed = ConvTokenizer(in_channels, self.embed_dim)
        # as the official code (float32 linspace); on CPU explicitly so that building on the meta device works
        dpr = torch.linspace(0, drop_path_rate, sum(self.depths), device='cpu').tolist()
        self.levels = nn.ModuleList()
        for i in range(self.num_levels):
            first = sum(self.depths[:i])
            self.levels.append(
                NATBlock(
                    dim=self.num_features[i],
                    depth=self.depths[i],
                    num_heads=self.num_heads[i],
                    kernel_size=self.kernel_size,
                    dilations=self.dilations[i],
                    downsample=i < self.num_levels - 1,
                    drop_path=dpr[first:first + self.depths[i]],
                    with_cp=with_cp,
                    mlp_ratio=self.mlp_ratio,
                    qkv_bias=qkv_bias,
                    qk_scale=qk_scale,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    layer_scale=self.layer_scale))
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.num_features[i]))
        self._freeze_stages()

    @staticmethod
    def _check_args(cfg: dict, out_indices: Sequence[int], frozen_stages: int) -> None:
        depths, num_heads, dilations = cfg['depths'], cfg['num_heads'], cfg['dilations']
        if len(num_heads) != len(depths) or len(dilations) != len(depths):
            raise ValueError(f'depths, num_heads and dilations need one entry per stage, got {len(depths)}, '
                             f'{len(num_heads)} and {len(dilations)}')
        for stage, (depth, stage_dilations) in enumerate(zip(depths, dilations)):
            if len(stage_dilations) != depth:
                raise ValueError(f'stage {stage} has {depth} layers but {len(stage_dilations)} dilations '
                                 f'({list(stage_dilations)})')
            for d in stage_dilations:
                check_kernel_dilation(cfg['kernel_size'], d)
        embed_dim = cfg['embed_dim']
        for stage, heads in enumerate(num_heads):
            if (embed_dim * 2**stage) % heads:
                raise ValueError(f'stage {stage}: {embed_dim * 2**stage} channels not divisible by {heads} heads')
        if embed_dim % 2:
            raise ValueError(f'embed_dim must be even (the stem outputs embed_dim // 2 first), got {embed_dim}')
        valid = all(0 <= i < len(depths) for i in out_indices) and len(set(out_indices)) == len(out_indices)
        if not out_indices or not valid:
            raise ValueError(f'out_indices must be distinct stage indices in [0, {len(depths)}), got {out_indices}')
        if not -1 <= frozen_stages <= len(depths):
            raise ValueError(f'frozen_stages must be in [-1, {len(depths)}], got {frozen_stages}')

    def init_weights(self) -> None:
        """Truncated-normal Linear weights (NAT/DiNAT recipe) when ``init_cfg`` is None, else mmengine's init."""
        if self.init_cfg is not None:
            super().init_weights()
            return
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = [self.patch_embed] + [self.levels[i] for i in range(self.frozen_stages)]
        frozen += [getattr(self, f'norm{i}') for i in range(self.frozen_stages) if i in self.out_indices]
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'DiNAT':
        """Set train mode, keeping frozen stages in eval mode."""
        super().train(mode)
        self._freeze_stages()
        return self

    def output_spec(self) -> Tuple[List[int], List[int]]:
        """Channels and strides of the returned maps, exact without running the model (the model builders read
        them instead of a dry forward, which at small sizes pads every map to ``kernel_size * dilation``)."""
        return [self.num_features[i] for i in self.out_indices], [2**(i + 2) for i in self.out_indices]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Extract features.

        Args:
            x (Tensor): Images (B, in_channels, H, W).

        Returns:
            tuple[Tensor]: For each stage in ``out_indices`` (in stage order), the NCHW map
            (B, num_features[i], ceil(H / 2**(i+2)), ceil(W / 2**(i+2))), i.e. strides 4, 8, 16, 32.
        """
        if x.dim() != 4:
            raise ValueError(f'DiNAT takes (B, C, H, W) images, got shape {tuple(x.shape)}')
        x = self.patch_embed(x)
        outs = []
        last = max(self.out_indices)
        for i, level in enumerate(self.levels[:last + 1]):
            x, stage_out = level(x)
            if i in self.out_indices:
                outs.append(getattr(self, f'norm{i}')(stage_out).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)
