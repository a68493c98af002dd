"""Tiny random Hugging Face OneFormer models (no download) and our model rebuilt from a converter's output: the
reference side of the HF parity tests and of ``tools/analysis_tools/cuda_check.py``'s HF rows.

``transformers`` is imported only when a model is made (a test / tool dependency, not the package's)."""
import os.path as osp
from typing import Tuple

import torch

#: the HF backbones the tiny models come with
HF_BACKBONES = ('swin', 'convnext', 'resnet')
#: the four backbone stages the HF OneFormer reads
HF_STAGES = ['stage1', 'stage2', 'stage3', 'stage4']
#: a 128 x 160 input: Swin stages are 32x40 ... 4x5, all larger than the window (3), so HF keeps its window and
#: shift (it shrinks windows on maps not larger than the window); every size is a multiple of 32 (no padding)
HF_IMAGE_SHAPE = (1, 3, 128, 160)


def hf_backbone_config(kind: str):
    """The tiny HF backbone config of ``kind`` (one of :data:`HF_BACKBONES`).

    Raises:
        ValueError: for another kind.
    """
    from transformers import ConvNextConfig, ResNetConfig, SwinConfig
    if kind == 'swin':
        return SwinConfig(embed_dim=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4], window_size=3, image_size=128,
                          drop_path_rate=0.0, out_features=HF_STAGES)
    if kind == 'convnext':
        # layer scale 1.0 like OneFormer's ConvNeXt (HF's default 1e-6 would hide the blocks)
        return ConvNextConfig(hidden_sizes=[16, 32, 32, 64], depths=[1, 1, 2, 1], layer_scale_init_value=1.0,
                              out_features=HF_STAGES)
    if kind == 'resnet':
        return ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 32, 64], depths=[2, 2, 2, 2], layer_type='basic',
                            out_features=HF_STAGES)
    raise ValueError(f'unknown HF backbone {kind!r}; choose from {", ".join(HF_BACKBONES)}')


def make_hf_model(kind: str, seed: int = 0, **overrides):
    """A random ``OneFormerForUniversalSegmentation`` in eval mode: hidden 32, 12 queries, 5 classes, 3 decoder
    layers (+ the prediction from the initial queries), 2 encoder layers.

    Every parameter gets noise on top of HF's init, which leaves several tensors at zero (level embeddings,
    deformable offsets / attention weights) where a wrong mapping would go unnoticed; batch-norm statistics are
    randomised for the same reason.

    Args:
        kind (str): The backbone, one of :data:`HF_BACKBONES`.
        seed (int): Seed of the initialisation and the noise.
        **overrides: ``OneFormerConfig`` arguments replacing the defaults above.
    """
    from transformers import OneFormerConfig, OneFormerForUniversalSegmentation
    torch.manual_seed(seed)
    cfg = dict(backbone_config=hf_backbone_config(kind), hidden_dim=32, conv_dim=32, mask_dim=32, num_queries=12,
               decoder_layers=4, encoder_layers=2, num_attention_heads=4, dim_feedforward=64,
               encoder_feedforward_dim=48, text_encoder_n_ctx=4, num_labels=5)
    cfg.update(overrides)
    model = OneFormerForUniversalSegmentation(OneFormerConfig(**cfg))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        for name, b in model.named_buffers():
            if name.endswith('running_var'):
                b.uniform_(0.5, 1.5)
            elif name.endswith('running_mean'):
                b.normal_(0, 0.1)
    return model.eval()


def build_converted(out_dir: str) -> Tuple[torch.nn.Module, object, dict]:
    """Our model from a converter output directory (``out_dir/config.py``) with ``out_dir/model.pth`` loaded
    strictly, in eval mode. Returns ``(model, cfg, checkpoint)``."""
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(out_dir, 'config.py'))
    model = MODELS.build(cfg.model)
    ckpt = torch.load(osp.join(out_dir, 'model.pth'), map_location='cpu', weights_only=True)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    return model.eval(), cfg, ckpt
