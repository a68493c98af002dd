"""Parameters and FLOPs (``mmengine.analysis.get_model_complexity_info``) of our model and mmdet's Mask2Former, and
the parameter counts of the paper's large-backbone models rebuilt from our base config."""
import copy
import os.path as osp
from functools import partial
from typing import Dict

import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config

from oneformer.models import reference_formulation

from . import builders as B

# the official README: parameters of the COCO / ADE20K models
PAPER_PARAMS_M = {'Swin-L': 219, 'ConvNeXt-L': 220, 'DiNAT-L': 223, 'ConvNeXt-XL': 372}
PAPER_FLOPS_RATIO = 1.06  # OneFormer / Mask2Former FLOPs (issue 6)

LARGE_BACKBONES = {
    'Swin-L': (dict(type='SwinTransformer', pretrain_img_size=384, embed_dims=192, depths=[2, 2, 18, 2],
                    num_heads=[6, 12, 24, 48], window_size=12, mlp_ratio=4, qkv_bias=True, drop_path_rate=0.3,
                    patch_norm=True, out_indices=(0, 1, 2, 3), with_cp=False, convert_weights=False, init_cfg=None),
               [192, 384, 768, 1536]),
    'ConvNeXt-L': (dict(type='mmpretrain.ConvNeXt', arch='large', drop_path_rate=0.4,
                        layer_scale_init_value=1.0, out_indices=(0, 1, 2, 3), gap_before_final_norm=False,
                        init_cfg=None), [192, 384, 768, 1536]),
}


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def parts(model) -> Dict[str, int]:
    """Parameters per part (the OneFormer-only parts are absent from Mask2Former)."""
    head = model.panoptic_head
    out = dict(total=count(model), backbone=count(model.backbone), pixel_decoder=count(head.pixel_decoder),
               transformer_decoder=count(head.transformer_decoder))
    for name in ('task_encoder', 'query_transformer', 'text_mapper'):
        if getattr(head, name, None) is not None:
            out[name] = count(getattr(head, name))
    return out


def flops(model, size: int) -> Dict:
    """FLOPs of ``_forward`` (backbone + head, no post-processing) on one ``size`` x ``size`` image (FlopAnalyzer
    counts a multiply-add as one FLOP and skips ops it has no handle for, e.g. grid_sample)."""
    from mmengine.analysis import get_model_complexity_info
    x = torch.randn(1, 3, size, size, device=next(model.parameters()).device)
    meta = dict(batch_input_shape=(size, size), img_shape=(size, size), ori_shape=(size, size), task='panoptic')
    forward = model.forward
    model.forward = partial(forward, data_samples=[DetDataSample(metainfo=meta)])
    try:
        # FlopAnalyzer has no handle for embedding_bag (our CPU deformable attention) or SDPA (the query
        # transformer at inference) and would count their work as a saving: count the plain formulation
        with torch.no_grad(), reference_formulation(model):
            info = get_model_complexity_info(model, inputs=(x, ), show_table=False, show_arch=False)
    finally:
        del model.forward  # back to the class method
    return dict(flops=int(info['flops']), params=int(info['params']), input=[1, 3, size, size])


def complexity(ctx) -> Dict:
    """Our (converted, inference) model vs mmdet's Mask2Former at the preset's size; ratio of FLOPs."""
    p = ctx.p
    m2f = B.build(B.mask2former_cfg(ctx.model_cfg, p)).to(ctx.device)
    train_model = B.build(B.with_text_mapper(ctx.model_cfg, p))
    ours, peer = flops(ctx.model, p.image_size), flops(m2f, p.image_size)
    return dict(ours=dict(**ours, parts=parts(train_model)), peer=dict(**peer, parts=parts(m2f)),
                flops_ratio=ours['flops'] / peer['flops'], params_ratio=ours['params'] / peer['params'],
                paper_flops_ratio=PAPER_FLOPS_RATIO)


def paper_params() -> Dict:
    """Our model with the paper's Swin-L / ConvNeXt-L backbones (COCO: 150 queries, 133 classes), built from
    ``configs/_base_/models/oneformer_r50.py``: parameters with and without the training-only text mapper, and
    Mask2Former with the same backbone, next to the paper's counts."""
    base = Config.fromfile(osp.join(B.REPO, 'configs', '_base_', 'models', 'oneformer_r50.py')).model
    base.pop('init_cfg', None)
    rows = {}
    for name, (backbone, channels) in LARGE_BACKBONES.items():
        cfg = copy.deepcopy(base)
        cfg.backbone = backbone
        cfg.panoptic_head.in_channels = channels
        if name.startswith('ConvNeXt'):
            import mmpretrain.models  # noqa: F401  (registers mmpretrain.ConvNeXt)
        from mmdet.registry import MODELS
        model = MODELS.build(cfg)
        text = count(model.panoptic_head.text_mapper)
        m2f_cfg = copy.deepcopy(cfg)
        m2f = MODELS.build(B.mask2former_cfg(m2f_cfg, _coco_preset()))
        rows[name] = dict(ours_with_text_mapper=count(model), ours_inference=count(model) - text,
                          mask2former=count(m2f), paper=PAPER_PARAMS_M[name] * 1_000_000)
        del model, m2f
    return rows


def _coco_preset():
    from .presets import PRESETS
    return PRESETS['full']  # COCO class / query counts (80 + 53 classes, 150 queries)
