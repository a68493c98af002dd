"""The backbone matrix: mmpretrain backbone families, each as the one ``model.backbone`` line (plus ``neck`` for a
plain ViT) a user changes in the demo config. Tiny widths and depths (custom arch dicts) so every family builds,
trains a step and predicts at 128x128 on CPU in about a second; used by tests/test_models/test_backbones/
test_backbone_matrix.py and tools/analysis_tools/backbone_matrix.py (the table in docs/backbones.md)."""
import copy
from typing import Dict, List, Optional

from mmengine.config import Config, ConfigDict

from ._configs import config_path

DEMO_CONFIG = 'configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py'
SFP = dict(type='SimpleFeaturePyramid', out_channels=32)  # the plain-ViT neck, narrow for the matrix
FOUR = (0, 1, 2, 3)
VIT = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def _family(name: str, kind: str, backbone: dict, neck: Optional[dict] = None) -> dict:
    return dict(name=name, kind=kind, backbone=backbone, neck=neck)


# kind: 'CNN', 'hierarchical transformer' or 'plain ViT' (+ SimpleFeaturePyramid)
FAMILIES: List[dict] = [
    # ------------------------------------------------------------------------------------------------ CNNs
    _family('ResNet', 'CNN', dict(type='mmpretrain.ResNet', depth=18, stem_channels=16, base_channels=16,
                                  out_indices=FOUR)),
    _family('ResNeXt', 'CNN', dict(type='mmpretrain.ResNeXt', depth=50, groups=2, width_per_group=4,
                                   stem_channels=16, base_channels=16, out_indices=FOUR)),
    _family('ResNeSt', 'CNN', dict(type='mmpretrain.ResNeSt', depth=50, stem_channels=16, base_channels=16,
                                   out_indices=FOUR)),
    _family('Res2Net', 'CNN', dict(type='mmpretrain.Res2Net', depth=50, stem_channels=16, base_channels=16,
                                   scales=2, base_width=8, out_indices=FOUR)),
    _family('RegNet', 'CNN', dict(type='mmpretrain.RegNet', arch=dict(w0=8, wa=8.0, wm=2.0, group_w=8, depth=6,
                                                                    bot_mul=1.0),
                                  stem_channels=8, out_indices=FOUR)),
    _family('ConvNeXt', 'CNN', dict(type='mmpretrain.ConvNeXt', arch=dict(depths=[1, 1, 1, 1],
                                                                        channels=[16, 32, 64, 128]),
                                    gap_before_final_norm=False, out_indices=FOUR)),
    _family('ConvNeXt V2', 'CNN', dict(type='mmpretrain.ConvNeXt', arch=dict(depths=[1, 1, 1, 1],
                                                                           channels=[16, 32, 64, 128]),
                                       use_grn=True, layer_scale_init_value=0., gap_before_final_norm=False,
                                       out_indices=FOUR)),
    _family('HRNet', 'CNN', dict(type='mmpretrain.HRNet', extra=dict(
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1, ), num_channels=(16, )),
        stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1), num_channels=(8, 16)),
        stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(1, 1, 1), num_channels=(8, 16, 32)),
        stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                    num_channels=(8, 16, 32, 64))))),
    _family('EfficientNet', 'CNN', dict(type='mmpretrain.EfficientNet', arch='b0', out_indices=(2, 3, 4, 6))),
    _family('MobileNetV2', 'CNN', dict(type='mmpretrain.MobileNetV2', widen_factor=0.25, out_indices=(1, 2, 4, 7))),
    _family('MobileNetV3', 'CNN', dict(type='mmpretrain.MobileNetV3', arch='small', out_indices=(0, 1, 3, 12))),
    _family('RepVGG', 'CNN', dict(type='mmpretrain.RepVGG', arch=dict(num_blocks=[1, 1, 1, 1],
                                                                    width_factor=[0.25, 0.25, 0.25, 0.25],
                                                                    group_layer_map=None, se_cfg=None),
                                  out_indices=FOUR)),
    _family('MobileOne', 'CNN', dict(type='mmpretrain.MobileOne', arch='s0', out_indices=FOUR)),
    _family('VAN', 'CNN', dict(type='mmpretrain.VAN', arch=dict(embed_dims=[16, 32, 64, 128], depths=[1, 1, 1, 1],
                                                              ffn_ratios=[2, 2, 2, 2]),
                               out_indices=FOUR)),
    _family('PoolFormer', 'CNN', dict(type='mmpretrain.PoolFormer', arch=dict(layers=[1, 1, 1, 1],
                                                                            embed_dims=[16, 32, 64, 128],
                                                                            mlp_ratios=[2, 2, 2, 2],
                                                                            layer_scale_init_value=1e-5),
                                      out_indices=(0, 2, 4, 6))),
    _family('HorNet', 'CNN', dict(type='mmpretrain.HorNet', arch=dict(base_dim=16, depths=[1, 1, 1, 1],
                                                                    orders=[2, 3, 4, 5],
                                                                    dw_cfg=[dict(type='DW', kernel_size=7)] * 4),
                                  gap_before_final_norm=False, out_indices=FOUR)),
    _family('DenseNet', 'CNN', dict(type='mmpretrain.DenseNet', arch=dict(growth_rate=8, depths=[1, 1, 1, 1],
                                                                        init_channels=16),
                                    out_indices=(0, 1, 2))),  # stages end in a pooling transition: 8, 16, 32
    _family('ShuffleNetV2', 'CNN', dict(type='mmpretrain.ShuffleNetV2', widen_factor=0.5,
                                        out_indices=(0, 1, 2))),  # three maps: strides 8, 16, 32
    # -------------------------------------------------------------------------------- hierarchical transformers
    _family('Swin', 'hierarchical transformer', dict(type='mmpretrain.SwinTransformer',
                                                     arch=dict(embed_dims=16, depths=[1, 1, 1, 1],
                                                               num_heads=[1, 2, 2, 4]),
                                                     window_size=4, out_indices=FOUR)),
    _family('Swin V2', 'hierarchical transformer', dict(type='mmpretrain.SwinTransformerV2',
                                                        arch=dict(embed_dims=16, depths=[1, 1, 1, 1],
                                                                  num_heads=[1, 2, 2, 4],
                                                                  extra_norm_every_n_blocks=0),
                                                        window_size=4, img_size=128, out_indices=FOUR)),
    _family('Twins-PCPVT', 'hierarchical transformer', dict(type='mmpretrain.PCPVT', arch=dict(
        embed_dims=[16, 32, 64, 128], depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4], patch_sizes=[4, 2, 2, 2],
        strides=[4, 2, 2, 2], mlp_ratios=[2, 2, 2, 2], sr_ratios=[8, 4, 2, 1]), out_indices=FOUR)),
    _family('Twins-SVT', 'hierarchical transformer', dict(type='mmpretrain.SVT', arch=dict(
        embed_dims=[16, 32, 64, 128], depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4], patch_sizes=[4, 2, 2, 2],
        strides=[4, 2, 2, 2], mlp_ratios=[2, 2, 2, 2], sr_ratios=[8, 4, 2, 1], window_sizes=[4, 4, 4, 4]),
        out_indices=FOUR)),
    _family('EdgeNeXt', 'hierarchical transformer', dict(type='mmpretrain.EdgeNeXt', arch=dict(
        channels=[16, 32, 64, 128], depths=[1, 1, 1, 1], num_heads=[2, 2, 2, 2]), out_indices=FOUR,
        gap_before_final_norm=False)),
    _family('DaViT', 'hierarchical transformer', dict(type='mmpretrain.DaViT', arch=dict(
        embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4]), window_size=4, out_indices=FOUR)),
    _family('MobileViT', 'hierarchical transformer', dict(type='mmpretrain.MobileViT', arch='xx_small',
                                                          out_indices=(1, 2, 3, 4))),
    _family('MViTv2', 'hierarchical transformer', dict(type='mmpretrain.MViT', arch=dict(
        embed_dims=16, num_layers=4, num_heads=1, downscale_indices=[1, 2, 3]), out_scales=FOUR)),
    # ----------------------------------------------------------------------------- plain ViTs + feature pyramid
    _family('ViT (DeiT-style, patch 16)', 'plain ViT', dict(type='mmpretrain.VisionTransformer', arch=VIT,
                                                            img_size=128, patch_size=16, out_type='featmap'),
            SFP),
    _family('DINOv2-style ViT (patch 14, layer scale)', 'plain ViT', dict(
        type='mmpretrain.VisionTransformer', arch=VIT, img_size=518, patch_size=14, layer_scale_init_value=1e-5,
        out_type='featmap'), SFP),
    _family('CLIP-style ViT (pre-norm)', 'plain ViT', dict(type='mmpretrain.VisionTransformer', arch=VIT,
                                                           img_size=224, patch_size=16, pre_norm=True,
                                                           out_type='featmap'), SFP),
    _family('EVA-02 (RoPE, SwiGLU, patch 14)', 'plain ViT', dict(type='mmpretrain.ViTEVA02', arch=dict(
        VIT, feedforward_channels=int(32 * 4 * 2 / 3)), img_size=224, patch_size=14, sub_ln=True,
        out_type='featmap'), SFP),
    _family('SAM image encoder (windowed, rel-pos)', 'plain ViT', dict(type='mmpretrain.ViTSAM', arch=dict(
        VIT, global_attn_indexes=[1]), img_size=128, patch_size=16, window_size=4, out_channels=32,
        out_type='featmap'), SFP),
    _family('XCiT (cross-covariance attention)', 'plain ViT', dict(
        type='mmpretrain.XCiT', embed_dims=32, depth=2, cls_attn_layers=0, num_heads=2, mlp_ratio=2, img_size=128,
        patch_size=16, out_type='featmap'), SFP),
    _family('DeiT III', 'plain ViT', dict(type='mmpretrain.DeiT3', arch=VIT, img_size=128, patch_size=16,
                                          out_type='featmap'), SFP),
]


def matrix_backbone_line(family: dict) -> str:
    """The config line(s) a user writes for ``family``."""
    line = f"backbone=dict({_kwargs(family['backbone'])})"
    if family['neck'] is not None:
        line += f", neck=dict({_kwargs(family['neck'])})"
    return line


def _kwargs(d: dict) -> str:
    return ', '.join(f'{k}={v!r}' for k, v in d.items())


def matrix_model_cfg(family: dict, demo: Optional[Config] = None) -> ConfigDict:
    """The demo config's model with nothing changed but ``backbone`` (and ``neck`` for a plain ViT)."""
    import mmpretrain.models  # noqa: F401  (registers the mmpretrain.* backbones, as custom_imports does)

    import oneformer  # noqa: F401  (registers the modules the config names)
    demo = demo or Config.fromfile(config_path(DEMO_CONFIG))
    model = copy.deepcopy(demo.model)
    model.backbone = ConfigDict(copy.deepcopy(family['backbone']))
    if family['neck'] is not None:
        model.neck = ConfigDict(copy.deepcopy(family['neck']))
    return model


def families_by_name() -> Dict[str, dict]:
    return {f['name']: f for f in FAMILIES}
