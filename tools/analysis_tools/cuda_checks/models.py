"""The models and inputs rows share: built from the repository's configs with random weights; dry run: tiny."""
import copy
from typing import Dict

import torch
import torch.nn as nn

from .common import DEMO_CONFIG, Context, load_cfg


def build_model(model_cfg, device: torch.device, init: bool = True) -> nn.Module:
    """Build a detector from a model config (init_cfg removed: random weights, no download)."""
    from mmdet.registry import MODELS
    from mmengine.config import ConfigDict
    cfg = ConfigDict(copy.deepcopy(model_cfg))
    strip_pretrained(cfg)
    model = MODELS.build(cfg).to(device)
    if init:
        model.init_weights()  # on the device: fast for Swin-L
    return model


def strip_pretrained(model_cfg) -> None:
    """Drop the pretrained-checkpoint init of the model and its backbone (random weights, nothing downloaded)."""
    model_cfg.pop('init_cfg', None)
    if 'backbone' in model_cfg:
        model_cfg.backbone.init_cfg = None


def shrink_for_dry_run(model_cfg, image_size: int) -> None:
    """Tiny widths and depths of the same architecture (same backbone type, head, losses) for ``--dry-run``."""
    from mmengine.config import ConfigDict

    from oneformer.testing import shrink_head
    bb = model_cfg.backbone
    kind = str(bb.type)
    if 'Swin' in kind:
        bb.update(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4, pretrain_img_size=64,
                  drop_path_rate=0.0, init_cfg=None)  # channels 16..128 as shrink_head expects
    elif 'ResNet' in kind:
        model_cfg.backbone = ConfigDict(type='ResNet', depth=18, base_channels=16, num_stages=4,
                                        out_indices=(0, 1, 2, 3), norm_cfg=dict(type='BN', requires_grad=True),
                                        norm_eval=False, style='pytorch', init_cfg=None)
    else:
        raise ValueError(f'--dry-run knows how to shrink Swin and ResNet backbones, not {kind}')
    shrink_head(model_cfg.panoptic_head)
    model_cfg.test_cfg.max_per_image = model_cfg.panoptic_head.num_queries
    model_cfg.train_cfg.num_points = 64
    for aug in model_cfg.data_preprocessor.get('batch_augments', None) or []:
        if 'size' in aug:
            aug.size = (image_size, image_size)


def demo_model_cfg(ctx: Context):
    """The demo config (already small: R18 with 32 base channels, 64-d head) and its model; dry run: tinier."""
    cfg = load_cfg(DEMO_CONFIG)
    if ctx.dry:
        shrink_for_dry_run(cfg.model, 64)
    return cfg


def demo_model(ctx: Context) -> nn.Module:
    """The demo model on CPU, seeded, in eval mode."""
    cfg = demo_model_cfg(ctx)
    ctx.seed()
    return build_model(cfg.model, torch.device('cpu')).eval()


def inference_data(images: torch.Tensor, device) -> Dict:
    """``test_step`` input of uint8 ``images`` (B, 3, H, W) on ``device``."""
    from mmdet.structures import DetDataSample
    h, w = images.shape[-2:]
    meta = dict(img_id=0, img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0))
    return dict(inputs=[im.to(device) for im in images], data_samples=[DetDataSample(metainfo=meta) for _ in images])

