"""ViTDet's simple feature pyramid: strides 4, 8, 16, 32 from the one stride-16 map of a plain ViT."""
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn

TARGET_STRIDE = 16  # the stride of the identity level


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of (B, C, H, W) maps (ViTDet's norm of the pyramid convolutions)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                            self.eps).permute(0, 3, 1, 2)


def _norm(norm_cfg: dict, channels: int) -> nn.Module:
    if norm_cfg['type'] == 'LN2d':
        return LayerNorm2d(channels, eps=norm_cfg.get('eps', 1e-6))
    return build_norm_layer(norm_cfg, channels)[1]


@MODELS.register_module()
class SimpleFeaturePyramid(BaseModule):
    """Simple feature pyramid of ViTDet (`Exploring Plain Vision Transformer Backbones for Object Detection
    <https://arxiv.org/abs/2203.16527>`_): from the last map of a plain ViT (stride 16), deconvolutions give strides
    4 and 8, the map itself stride 16 and a max-pool stride 32; each level then has a 1x1 and a 3x3 convolution,
    each followed by a norm.

    Backbones whose patch size is not 16 (DINOv2 and EVA-02: 14) first have their token grid resampled to the
    stride-16 grid of the same image (bilinear, scale ``backbone_stride / 16``, with the exact pixel geometry: the
    centre of output cell j samples the image point 16j + 8), so the levels are at exactly 1/4 ... 1/32 of the
    input whatever its size (a multiple of 32, as the data preprocessor pads).

    Args:
        in_channels (int | list[int], optional): Channels of the backbone map(s); None is filled by the model
            (:class:`OneFormer` / :class:`OneFormerEncoderDecoder`) from the built backbone.
        out_channels (int): Channels of every level. Defaults to 256.
        backbone_stride (int, optional): Stride of the backbone map (the patch size, e.g. 16 or 14); None is filled
            by the model from the backbone.
        scale_factors (Sequence[float]): Scales of the levels relative to the stride-16 map, from the subset of
            (4, 2, 1, 0.5). Defaults to (4.0, 2.0, 1.0, 0.5).
        in_index (int): Which backbone map to use when it returns several (ViTs with several ``out_indices``).
            Defaults to -1 (the last).
        norm_cfg (dict): Norm after each convolution: ``dict(type='LN2d')`` (ViTDet's, default) or any mmcv norm.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 in_channels: Union[None, int, Sequence[int]] = None,
                 out_channels: int = 256,
                 backbone_stride: Optional[int] = None,
                 scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                 in_index: int = -1,
                 norm_cfg: dict = dict(type='LN2d'),
                 init_cfg: OptMultiConfig = dict(type='Caffe2Xavier', layer='Conv2d')) -> None:
        super().__init__(init_cfg=init_cfg)
        if in_channels is None:
            raise ValueError('SimpleFeaturePyramid.in_channels is None: build it inside OneFormer / '
                             'OneFormerEncoderDecoder (which fill it from the backbone) or give the channels')
        if not isinstance(in_channels, int):
            in_channels = list(in_channels)[in_index]
        self.backbone_stride = TARGET_STRIDE if backbone_stride is None else int(backbone_stride)
        self.in_index = in_index
        self.scale_factors = tuple(float(s) for s in scale_factors)
        bad = [s for s in self.scale_factors if s not in (4.0, 2.0, 1.0, 0.5)]
        if bad:
            raise ValueError(f'SimpleFeaturePyramid.scale_factors={list(scale_factors)}: only 4, 2, 1 and 0.5 are '
                             'supported')
        c = in_channels
        self.stages = nn.ModuleList()
        for scale in self.scale_factors:
            if scale == 4.0:
                resize = [nn.ConvTranspose2d(c, c // 2, 2, stride=2), _norm(norm_cfg, c // 2), nn.GELU(),
                          nn.ConvTranspose2d(c // 2, c // 4, 2, stride=2)]
                dim = c // 4
            elif scale == 2.0:
                resize, dim = [nn.ConvTranspose2d(c, c // 2, 2, stride=2)], c // 2
            elif scale == 1.0:
                resize, dim = [], c
            else:
                resize, dim = [nn.MaxPool2d(2, stride=2)], c
            self.stages.append(nn.Sequential(
                *resize,
                nn.Conv2d(dim, out_channels, 1, bias=False), _norm(norm_cfg, out_channels),
                nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), _norm(norm_cfg, out_channels)))

    @property
    def strides(self) -> List[int]:
        return [int(TARGET_STRIDE / s) for s in self.scale_factors]

    def to_stride16(self, x: Tensor) -> Tensor:
        """The backbone map on the stride-16 grid (unchanged when the backbone stride is 16)."""
        if self.backbone_stride == TARGET_STRIDE:
            return x
        # scale_factor kept (not recomputed from the rounded size): output j samples input (j + 0.5) / s - 0.5,
        # i.e. the token grid at the image point 16j + 8
        return F.interpolate(x, scale_factor=self.backbone_stride / TARGET_STRIDE, mode='bilinear',
                             align_corners=False, recompute_scale_factor=False)

    def forward(self, inputs: Union[Tensor, Sequence[Tensor]]) -> Tuple[Tensor, ...]:
        x = inputs if isinstance(inputs, Tensor) else inputs[self.in_index]
        if x.dim() != 4:
            raise ValueError(f'SimpleFeaturePyramid takes (B, C, H, W) maps, got {tuple(x.shape)}: set '
                             "out_type='featmap' on the backbone")
        x = self.to_stride16(x)
        return tuple(stage(x) for stage in self.stages)
