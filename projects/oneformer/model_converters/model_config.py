"""Builders of our model config (overrides of ``configs/_base_/models/oneformer_r50.py``) from plain sizes.

Shared by the HF (:mod:`.hf_config`, from ``config.json``) and the official (:mod:`.d2_config`, from the detectron2
yaml) converters: each reads its source format and calls these with the numbers.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

BackboneCfg = Tuple[Dict, List[int]]  # (backbone config, channels of its 4 outputs)

RESNET_BLOCKS = {18: ('basic', (2, 2, 2, 2)), 34: ('basic', (3, 4, 6, 3)), 50: ('bottleneck', (3, 4, 6, 3)),
                 101: ('bottleneck', (3, 4, 23, 3)), 152: ('bottleneck', (3, 8, 36, 3))}
RESNET_DEPTHS = {blocks: depth for depth, blocks in RESNET_BLOCKS.items()}


class UnsupportedConfig(ValueError):
    """The source model has a setting this project cannot reproduce."""


def require(cond: bool, source: str, msg: str) -> None:
    """Raise :class:`UnsupportedConfig` naming the source (file) and the setting when ``cond`` is false."""
    if not cond:
        raise UnsupportedConfig(f'{source}: not reproducible by this project: {msg}')


# ------------------------------------------------------------------------------------------------------ backbones
def swin_backbone(embed_dim: int, depths: Sequence[int], num_heads: Sequence[int], window_size: int,
                  pretrain_img_size: int = 224, patch_size: int = 4, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                  qk_scale: Optional[float] = None, drop_rate: float = 0., attn_drop_rate: float = 0.,
                  drop_path_rate: float = 0.3, patch_norm: bool = True, with_cp: bool = False,
                  source: str = 'source') -> BackboneCfg:
    """mmdet ``SwinTransformer`` (weights already converted: ``convert_weights=False``)."""
    # mmdet's SwinBlock multiplies embed_dims by mlp_ratio without int(): keep it an int
    require(float(mlp_ratio).is_integer(), source, f'Swin mlp_ratio {mlp_ratio} (mmdet needs an integer)')
    require(len(depths) == 4 and len(num_heads) == 4, source, f'Swin with {len(depths)} stages (4 needed)')
    cfg = dict(_delete_=True, type='SwinTransformer', pretrain_img_size=pretrain_img_size, embed_dims=embed_dim,
               patch_size=patch_size, window_size=window_size, mlp_ratio=int(mlp_ratio), depths=list(depths),
               num_heads=list(num_heads), strides=(patch_size, 2, 2, 2), out_indices=(0, 1, 2, 3),
               qkv_bias=qkv_bias, qk_scale=qk_scale, drop_rate=drop_rate, attn_drop_rate=attn_drop_rate,
               drop_path_rate=drop_path_rate, patch_norm=patch_norm, use_abs_pos_embed=False, with_cp=with_cp,
               convert_weights=False, init_cfg=None)
    return cfg, [embed_dim * 2**i for i in range(4)]


def convnext_backbone(depths: Sequence[int], channels: Sequence[int], drop_path_rate: float,
                      layer_scale_init_value: float, stem_patch_size: int = 4, in_channels: int = 3,
                      source: str = 'source') -> BackboneCfg:
    """mmpretrain ``ConvNeXt`` with a LayerNorm per output (``gap_before_final_norm=False``)."""
    require(len(depths) == 4 and len(channels) == 4, source, f'ConvNeXt with {len(depths)} stages (4 needed)')
    cfg = dict(_delete_=True, type='mmpretrain.ConvNeXt', arch=dict(depths=list(depths), channels=list(channels)),
               in_channels=in_channels, stem_patch_size=stem_patch_size, drop_path_rate=drop_path_rate,
               layer_scale_init_value=layer_scale_init_value, out_indices=(0, 1, 2, 3),
               gap_before_final_norm=False, init_cfg=None)
    return cfg, list(channels)


def resnet_backbone(depth: int, stem_channels: int = 64, base_channels: int = 64, stride_in_1x1: bool = False,
                    norm: str = 'FrozenBN', frozen_stages: int = -1, groups: int = 1, width_per_group: int = 64,
                    source: str = 'source') -> BackboneCfg:
    """mmdet ``ResNet`` (``ResNeXt`` with ``groups > 1``).

    Stage ``i`` (0..3) of a bottleneck ResNet outputs ``4 * base_channels * 2**i`` channels; its 3x3 convs have
    ``base_channels * 2**i`` channels (``ResNet``) or ``groups * width_per_group * 2**i`` (``ResNeXt``).

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        stem_channels (int): Stem output channels.
        base_channels (int): Bottleneck width of the first stage (64 for the standard models); a quarter of its
            output channels.
        stride_in_1x1 (bool): Stride on the first 1x1 conv of a bottleneck (mmdet ``style='caffe'``) instead of
            the 3x3 (``'pytorch'``, torchvision).
        norm (str): 'FrozenBN' (statistics and affine fixed), 'BN' or 'SyncBN' (trained).
        frozen_stages (int): mmdet's: -1 none, 0 the stem, n the stem and stages 1..n.
        groups (int): Groups of the 3x3 convs (> 1: ``ResNeXt``, bottleneck depths only).
        width_per_group (int): ``ResNeXt`` width of one group in the first stage (unused with ``groups == 1``).
        source (str): Named in errors.
    """
    require(depth in RESNET_BLOCKS, source, f'ResNet depth {depth} (one of {sorted(RESNET_BLOCKS)})')
    norms = dict(FrozenBN=(dict(type='BN', requires_grad=False), True), BN=(dict(type='BN', requires_grad=True), False),
                 SyncBN=(dict(type='SyncBN', requires_grad=True), False))
    require(norm in norms, source, f'ResNet norm {norm!r} (one of {sorted(norms)})')
    norm_cfg, norm_eval = norms[norm]
    bottleneck = RESNET_BLOCKS[depth][0] == 'bottleneck'
    require(groups == 1 or bottleneck, source, f'{groups} groups in a ResNet-{depth} (BasicBlock has no groups)')
    expansion = 4 if bottleneck else 1
    cfg = dict(_delete_=True, type='ResNet', depth=depth, num_stages=4, base_channels=base_channels,
               stem_channels=stem_channels, out_indices=(0, 1, 2, 3), frozen_stages=frozen_stages, norm_cfg=norm_cfg,
               norm_eval=norm_eval, style='caffe' if stride_in_1x1 else 'pytorch', init_cfg=None)
    if groups > 1:  # mmdet's ResNeXt bottleneck: floor(planes * base_width / base_channels) * groups channels
        cfg.update(type='ResNeXt', groups=groups, base_width=width_per_group)
    return cfg, [base_channels * expansion * 2**i for i in range(4)]


def dinat_backbone(embed_dim: int, depths: Sequence[int], num_heads: Sequence[int], kernel_size: int,
                   dilations: Sequence[Sequence[int]], mlp_ratio: float, drop_path_rate: float,
                   layer_scale: Optional[float] = None, qkv_bias: bool = True, source: str = 'source') -> BackboneCfg:
    """Our ``DiNAT`` (``oneformer/models/backbones/dinat.py``), every size explicit."""
    require(len(depths) == 4 and len(num_heads) == 4 and len(dilations) == 4, source,
            f'DiNAT with {len(depths)} stages (4 needed)')
    for stage, (depth, stage_dilations) in enumerate(zip(depths, dilations)):
        require(len(stage_dilations) == depth, source,
                f'DiNAT stage {stage} has {depth} layers but {len(stage_dilations)} dilations')
    cfg = dict(_delete_=True, type='DiNAT', embed_dim=embed_dim, depths=list(depths), num_heads=list(num_heads),
               kernel_size=kernel_size, dilations=[list(d) for d in dilations], mlp_ratio=mlp_ratio,
               layer_scale=layer_scale if layer_scale else False, drop_path_rate=drop_path_rate, qkv_bias=qkv_bias,
               out_indices=(0, 1, 2, 3), init_cfg=None)
    return cfg, [embed_dim * 2**i for i in range(4)]


# ----------------------------------------------------------------------------------------------------------- head
@dataclass
class HeadSizes:
    """Everything of the OneFormer head a converted checkpoint fixes (names follow the official yaml keys).

    Attributes:
        hidden_dim (int): ``HIDDEN_DIM`` (= ``CONVS_DIM`` = ``MASK_DIM``).
        num_queries (int): ``NUM_OBJECT_QUERIES``.
        num_heads (int): ``NHEADS`` of the transformer decoder and the query transformer.
        dropout (float): ``DROPOUT`` of the pixel-decoder encoder and the query transformer.
        dim_feedforward (int): ``DIM_FEEDFORWARD`` of the decoder and query transformer FFNs.
        decoder_layers (int): Masked-attention decoder layers (``DEC_LAYERS - 1``).
        query_dec_layers (int): ``CLASS_DEC_LAYERS``.
        encoder_layers (int): ``TRANSFORMER_ENC_LAYERS`` of the deformable pixel-decoder encoder.
        encoder_heads (int): Heads of the deformable attention.
        encoder_points (int): Sampling points of the deformable attention.
        encoder_feedforward_dim (int): FFN size of the pixel-decoder encoder (1024 in the official code).
        task_seq_len (int): ``TASK_SEQ_LEN``.
        text_mapper (dict, optional): Our ``TextMapper`` arguments, None without text weights.
        contrastive_temperature (float): ``CONTRASTIVE_TEMPERATURE``.
        contrastive_weight (float): ``CONTRASTIVE_WEIGHT``.
        no_object_weight (float): ``NO_OBJECT_WEIGHT``.
        class_weight (float): ``CLASS_WEIGHT``.
        mask_weight (float): ``MASK_WEIGHT``.
        dice_weight (float): ``DICE_WEIGHT``.
        train_num_points (int): ``TRAIN_NUM_POINTS``.
        oversample_ratio (float): ``OVERSAMPLE_RATIO``.
        importance_sample_ratio (float): ``IMPORTANCE_SAMPLE_RATIO``.
    """
    hidden_dim: int
    num_queries: int
    num_heads: int = 8
    dropout: float = 0.1
    dim_feedforward: int = 2048
    decoder_layers: int = 9
    query_dec_layers: int = 2
    encoder_layers: int = 6
    encoder_heads: int = 8
    encoder_points: int = 4
    encoder_feedforward_dim: int = 1024
    task_seq_len: int = 77
    text_mapper: Optional[Dict] = None
    contrastive_temperature: float = 0.07
    contrastive_weight: float = 0.5
    no_object_weight: float = 0.1
    class_weight: float = 2.0
    mask_weight: float = 5.0
    dice_weight: float = 5.0
    train_num_points: int = 12544
    oversample_ratio: float = 3.0
    importance_sample_ratio: float = 0.75


def text_mapper_cfg(embed_dims: int, width: int, num_layers: int, context_length: int, vocab_size: int,
                    proj_num_layers: int, num_ctx: int) -> Dict:
    """Our ``TextMapper`` arguments (heads = width // 64, as the official ``TextTransformer``)."""
    return dict(embed_dims=embed_dims, context_length=context_length, width=width, num_layers=num_layers,
                num_heads=width // 64, vocab_size=vocab_size, proj_num_layers=proj_num_layers, num_ctx=num_ctx)


def _attn(dims: int, heads: int, dropout: float) -> Dict:
    return dict(embed_dims=dims, num_heads=heads, dropout=dropout)


def oneformer_model_cfg(backbone: BackboneCfg, sizes: HeadSizes, num_things: int, num_stuff: int,
                        object_mask_thr: float, iou_thr: float, max_per_image: Optional[int] = None) -> Dict:
    """The ``model`` overrides of the base config for these sizes.

    Args:
        backbone (tuple): Backbone config and its output channels (from the ``*_backbone`` builders).
        sizes (HeadSizes): Head sizes.
        num_things (int): Thing classes (listed first).
        num_stuff (int): Stuff classes.
        object_mask_thr (float): Panoptic / instance score threshold (``OBJECT_MASK_THRESHOLD``).
        iou_thr (float): Panoptic overlap threshold (``OVERLAP_THRESHOLD``).
        max_per_image (int, optional): Instance top-k (``DETECTIONS_PER_IMAGE``); defaults to the query count.

    Returns:
        dict: ``backbone``, ``panoptic_head``, ``panoptic_fusion_head``, ``train_cfg`` and ``test_cfg``.
    """
    bb_cfg, channels = backbone
    c, heads, drop = sizes.hidden_dim, sizes.num_heads, sizes.dropout
    with_text = sizes.text_mapper is not None
    head = dict(
        in_channels=list(channels), feat_channels=c, out_channels=c,
        num_things_classes=num_things, num_stuff_classes=num_stuff, num_queries=sizes.num_queries,
        pixel_decoder=dict(
            encoder=dict(num_layers=sizes.encoder_layers, layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=c, num_heads=sizes.encoder_heads, num_points=sizes.encoder_points,
                                   dropout=drop),
                ffn_cfg=dict(embed_dims=c, feedforward_channels=sizes.encoder_feedforward_dim, ffn_drop=drop))),
            positional_encoding=dict(num_feats=c // 2)),
        positional_encoding=dict(num_feats=c // 2),
        transformer_decoder=dict(num_layers=sizes.decoder_layers, layer_cfg=dict(
            self_attn_cfg=_attn(c, heads, 0.0), cross_attn_cfg=_attn(c, heads, 0.0),
            ffn_cfg=dict(embed_dims=c, feedforward_channels=sizes.dim_feedforward, ffn_drop=0.0))),
        task_encoder=dict(context_length=sizes.task_seq_len, embed_dims=c),
        query_transformer=dict(embed_dims=c, decoder=dict(num_layers=sizes.query_dec_layers, layer_cfg=dict(
            self_attn_cfg=_attn(c, heads, drop), cross_attn_cfg=_attn(c, heads, drop),
            ffn_cfg=dict(embed_dims=c, feedforward_channels=sizes.dim_feedforward, ffn_drop=drop)))),
        text_mapper=sizes.text_mapper,
        loss_contrastive=dict(temperature=sizes.contrastive_temperature,
                              loss_weight=sizes.contrastive_weight) if with_text else None,
        no_object_weight=sizes.no_object_weight,
        loss_cls=dict(loss_weight=sizes.class_weight),
        loss_mask=dict(loss_weight=sizes.mask_weight),
        loss_dice=dict(loss_weight=sizes.dice_weight))
    return dict(
        backbone=bb_cfg, panoptic_head=head,
        panoptic_fusion_head=dict(num_things_classes=num_things, num_stuff_classes=num_stuff),
        train_cfg=dict(num_points=sizes.train_num_points, oversample_ratio=sizes.oversample_ratio,
                       importance_sample_ratio=sizes.importance_sample_ratio),
        test_cfg=dict(object_mask_thr=object_mask_thr, iou_thr=iou_thr,
                      max_per_image=sizes.num_queries if max_per_image is None else max_per_image))
