"""Benchmark sizes: ``quick`` (a few minutes on 2 CPU cores), ``medium`` (profiling) and ``full`` (the paper's R50)."""
import dataclasses
from dataclasses import dataclass
from typing import Dict, List, Optional


@dataclass
class Preset:
    """Model and input sizes of one benchmark configuration.

    The model is OneFormer with a ResNet backbone (``basic`` blocks for R18-style, ``bottleneck`` for R50), the
    sizes of ``configs/_base_/models/oneformer_r50.py`` shrunk where ``quick`` says so.
    """
    name: str
    # backbone (HF ResNetConfig terms; converted to mmdet's ResNet)
    layer_type: str
    depths: List[int]
    stem: int
    base: int
    # head
    hidden: int
    heads: int
    enc_layers: int
    enc_ffn: int
    dec_layers: int  # masked-attention decoder layers (HF decoder_layers - 1)
    dec_ffn: int
    num_queries: int
    num_things: int
    num_stuff: int
    # text mapper (training only)
    text_width: int
    text_layers: int
    text_heads: int
    text_ctx: int
    # inputs
    image_size: int  # square test / train image side
    batch: int  # training images per iteration (paper: 16 over 8 GPUs = 2 per device)
    num_points: int  # mask-loss points (paper 12544 = 112^2)
    warmup: int
    repeats: int
    pipeline_samples: int  # pipeline: samples timed through the data pipeline
    train_rounds: int = 2  # train: fresh processes per side, alternating

    @property
    def channels(self) -> List[int]:
        expansion = 4 if self.layer_type == 'bottleneck' else 1
        return [self.base * expansion * 2**i for i in range(4)]

    @property
    def num_classes(self) -> int:
        return self.num_things + self.num_stuff

    def describe(self) -> str:
        depth = {('basic', (2, 2, 2, 2)): 'R18', ('bottleneck', (3, 4, 6, 3)): 'R50'}.get(
            (self.layer_type, tuple(self.depths)), f'ResNet{self.depths}')
        width = '' if self.base == 64 else f' (base {self.base})'
        return (f'{depth}{width}, hidden {self.hidden}, {self.enc_layers} enc / {self.dec_layers} dec layers, '
                f'{self.num_queries} queries, {self.num_classes} classes, {self.image_size}x{self.image_size} input, '
                f'train batch {self.batch}')


PRESETS: Dict[str, Preset] = {
    # the demo model's sizes (configs/oneformer/oneformer_r18-tiny_...): a few minutes for everything on 2 cores
    'quick': Preset(
        name='quick', layer_type='basic', depths=[2, 2, 2, 2], stem=32, base=32, hidden=64, heads=4,
        enc_layers=2, enc_ffn=256, dec_layers=3, dec_ffn=256, num_queries=32, num_things=3, num_stuff=2,
        text_width=64, text_layers=2, text_heads=1, text_ctx=16, image_size=256, batch=2, num_points=4096,
        warmup=3, repeats=15, pipeline_samples=40, train_rounds=3),
    # the paper's R50 model (COCO: 150 queries, 133 classes) at a small input, for profiling
    'medium': Preset(
        name='medium', layer_type='bottleneck', depths=[3, 4, 6, 3], stem=64, base=64, hidden=256, heads=8,
        enc_layers=6, enc_ffn=1024, dec_layers=9, dec_ffn=2048, num_queries=150, num_things=80, num_stuff=53,
        text_width=256, text_layers=6, text_heads=4, text_ctx=16, image_size=320, batch=2, num_points=12544,
        warmup=1, repeats=5, pipeline_samples=40),
    # the paper's R50 model at ADE20K's R50 test size (short side 512), batch 2 per device, 12544 points
    'full': Preset(
        name='full', layer_type='bottleneck', depths=[3, 4, 6, 3], stem=64, base=64, hidden=256, heads=8,
        enc_layers=6, enc_ffn=1024, dec_layers=9, dec_ffn=2048, num_queries=150, num_things=80, num_stuff=53,
        text_width=256, text_layers=6, text_heads=4, text_ctx=16, image_size=512, batch=2, num_points=12544,
        warmup=2, repeats=5, pipeline_samples=60),
}


def get_preset(name: str, image_size: Optional[int] = None, repeats: Optional[int] = None,
               warmup: Optional[int] = None, batch: Optional[int] = None, pipeline_samples: Optional[int] = None,
               train_rounds: Optional[int] = None) -> Preset:
    """A preset with optional overrides (``None`` keeps the preset's value)."""
    if name not in PRESETS:
        raise ValueError(f'unknown preset {name!r}; choose from {sorted(PRESETS)}')
    if image_size is not None and (image_size < 32 or image_size % 32):
        raise ValueError(f'--image-size must be a positive multiple of 32 (no padding), got {image_size}')
    updates = dict(image_size=image_size, repeats=repeats, warmup=warmup, batch=batch,
                   pipeline_samples=pipeline_samples, train_rounds=train_rounds)
    for key in ('repeats', 'batch', 'pipeline_samples', 'train_rounds'):
        if updates[key] is not None and updates[key] < 1:
            raise ValueError(f'--{key.replace("_", "-")} must be >= 1, got {updates[key]}')
    if warmup is not None and warmup < 0:
        raise ValueError(f'--warmup must be >= 0, got {warmup}')
    return dataclasses.replace(PRESETS[name], **{k: v for k, v in updates.items() if v is not None})
