"""Official OneFormer yaml (detectron2 ``CfgNode`` file) -> our model config.

:func:`load_official_yaml` reads a yaml and its ``_BASE_`` chain (each ``_BASE_`` path relative to the file naming
it; the child's values override the base's, dictionaries merged key by key) with PyYAML, no detectron2. Keys a
yaml leaves out take the defaults of the official ``oneformer/config.py`` (``add_*_config``) and of detectron2's
``config/defaults.py``, listed in :data:`DEFAULTS`.

:func:`official_model_cfg` maps the architecture (backbone family and sizes, hidden dims, layer counts, queries,
text encoder), the losses and the test thresholds to our config.
"""
import ast
import copy
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple

import yaml

from .model_config import (
    BackboneCfg,
    HeadSizes,
    convnext_backbone,
    dinat_backbone,
    oneformer_model_cfg,
    require,
    resnet_backbone,
    swin_backbone,
    text_mapper_cfg,
)


class UnevaluatedExpression(str):
    """A ``!!python/object/apply:eval`` value of an official yaml, kept as its source text (never evaluated).

    The official yamls compute ``INPUT.MIN_SIZE_TRAIN`` that way; the model config never needs it.
    """


class _OfficialYamlLoader(yaml.SafeLoader):
    """SafeLoader that also accepts the ``!!python/object/apply:eval`` tag of the official yamls."""


def _unevaluated(loader: yaml.SafeLoader, node: yaml.Node) -> UnevaluatedExpression:
    args = loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else [loader.construct_scalar(node)]
    return UnevaluatedExpression(args[0] if args else '')


_OfficialYamlLoader.add_constructor('tag:yaml.org,2002:python/object/apply:eval', _unevaluated)


def _decode(value: Any) -> Any:
    """yacs (detectron2's CfgNode) semantics: a string holding a Python literal, e.g. ``("coco_2017_train",)`` or
    ``(512, 512)``, is that literal; other strings stay strings. Only literals are parsed (``ast.literal_eval``)."""
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, str) and not isinstance(value, UnevaluatedExpression):
        try:
            return ast.literal_eval(value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return value
    return value


def _merge(base: Dict, child: Dict) -> Dict:
    out = copy.deepcopy(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_official_yaml(path: str, _chain: Tuple[str, ...] = ()) -> Dict:
    """Read an official OneFormer yaml with its ``_BASE_`` chain.

    Args:
        path (str): The yaml file.

    Returns:
        dict: The merged config (no ``_BASE_`` key), official defaults not filled in.

    Raises:
        FileNotFoundError: The file or a base is missing (the error names the file referring to it).
        ValueError: A ``_BASE_`` cycle, a ``_BASE_`` that is not one relative or absolute path, or a file that is
            not a yaml mapping.
    """
    path = osp.abspath(path)
    if path in _chain:
        raise ValueError(f'_BASE_ cycle: {" -> ".join(_chain + (path, ))}')
    if not osp.isfile(path):
        referrer = f' (the _BASE_ of {_chain[-1]})' if _chain else ''
        raise FileNotFoundError(f'official config {path}{referrer} does not exist')
    with open(path, encoding='utf-8') as f:
        cfg = yaml.load(f, Loader=_OfficialYamlLoader)  # noqa: S506  (SafeLoader subclass)
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, dict):
        raise ValueError(f'{path}: expected a yaml mapping, got {type(cfg).__name__}')
    base = cfg.pop('_BASE_', None)
    cfg = _decode(cfg)
    if base is None:
        return cfg
    if not isinstance(base, str):
        raise ValueError(f'{path}: _BASE_ must be one path, got {base!r}')
    base_path = osp.expanduser(base)
    if not osp.isabs(base_path):
        base_path = osp.join(osp.dirname(path), base_path)
    return _merge(load_official_yaml(base_path, _chain + (path, )), cfg)


#: Values of keys a yaml may leave out: SHI-Labs/OneFormer ``oneformer/config.py`` and detectron2
#: ``detectron2/config/defaults.py`` (only the keys read here).
DEFAULTS = {
    'MODEL': {
        'META_ARCHITECTURE': 'GeneralizedRCNN',
        'BACKBONE': {'NAME': 'build_resnet_backbone', 'FREEZE_AT': 2},
        'PIXEL_MEAN': [103.530, 116.280, 123.675],
        'PIXEL_STD': [1.0, 1.0, 1.0],
        'RESNETS': {'DEPTH': 50, 'OUT_FEATURES': ['res4'], 'NUM_GROUPS': 1, 'NORM': 'FrozenBN', 'WIDTH_PER_GROUP': 64,
                    'STRIDE_IN_1X1': True, 'RES5_DILATION': 1, 'RES2_OUT_CHANNELS': 256, 'STEM_OUT_CHANNELS': 64,
                    'DEFORM_ON_PER_STAGE': [False, False, False, False]},
        'SWIN': {'PRETRAIN_IMG_SIZE': 224, 'PATCH_SIZE': 4, 'EMBED_DIM': 96, 'DEPTHS': [2, 2, 6, 2],
                 'NUM_HEADS': [3, 6, 12, 24], 'WINDOW_SIZE': 7, 'MLP_RATIO': 4.0, 'QKV_BIAS': True, 'QK_SCALE': None,
                 'DROP_RATE': 0.0, 'ATTN_DROP_RATE': 0.0, 'DROP_PATH_RATE': 0.3, 'APE': False, 'PATCH_NORM': True,
                 'OUT_FEATURES': ['res2', 'res3', 'res4', 'res5'], 'USE_CHECKPOINT': False},
        'DiNAT': {'DEPTHS': [3, 4, 18, 5], 'OUT_FEATURES': ['res2', 'res3', 'res4', 'res5'], 'EMBED_DIM': 64,
                  'MLP_RATIO': 3.0, 'NUM_HEADS': [2, 4, 8, 16], 'DROP_PATH_RATE': 0.2, 'KERNEL_SIZE': 7,
                  'DILATIONS': [[1, 16, 1], [1, 4, 1, 8], [1, 2, 1, 3, 1, 4], [1, 2, 1, 2, 1]],
                  'OUT_INDICES': [0, 1, 2, 3]},
        'CONVNEXT': {'IN_CHANNELS': 3, 'DEPTHS': [3, 3, 27, 3], 'DIMS': [192, 384, 768, 1536], 'DROP_PATH_RATE': 0.4,
                     'LSIT': 1.0, 'OUT_INDICES': [0, 1, 2, 3], 'OUT_FEATURES': ['res2', 'res3', 'res4', 'res5']},
        'SEM_SEG_HEAD': {'NAME': 'SemSegFPNHead', 'NUM_CLASSES': 54, 'CONVS_DIM': 256, 'MASK_DIM': 256, 'NORM': 'GN',
                         'COMMON_STRIDE': 4, 'IN_FEATURES': ['res2', 'res3', 'res4', 'res5'],
                         'TRANSFORMER_ENC_LAYERS': 0, 'PIXEL_DECODER_NAME': 'BasePixelDecoder',
                         'DEFORMABLE_TRANSFORMER_ENCODER_IN_FEATURES': ['res3', 'res4', 'res5'],
                         },
        'ONE_FORMER': {'NO_OBJECT_WEIGHT': 0.1, 'CLASS_WEIGHT': 1.0, 'DICE_WEIGHT': 1.0, 'MASK_WEIGHT': 20.0,
                       'CONTRASTIVE_WEIGHT': 0.5, 'CONTRASTIVE_TEMPERATURE': 0.07, 'NHEADS': 8, 'DROPOUT': 0.1,
                       'DIM_FEEDFORWARD': 2048, 'ENC_LAYERS': 0, 'CLASS_DEC_LAYERS': 2, 'DEC_LAYERS': 6,
                       'PRE_NORM': False, 'HIDDEN_DIM': 256, 'NUM_OBJECT_QUERIES': 120, 'USE_TASK_NORM': True,
                       'ENFORCE_INPUT_PROJ': False, 'SIZE_DIVISIBILITY': 32,
                       'TRANSFORMER_DECODER_NAME': 'ContrastiveMultiScaleMaskedTransformerDecoder',
                       'TRAIN_NUM_POINTS': 112 * 112, 'OVERSAMPLE_RATIO': 3.0, 'IMPORTANCE_SAMPLE_RATIO': 0.75},
        'TEXT_ENCODER': {'WIDTH': 256, 'CONTEXT_LENGTH': 77, 'NUM_LAYERS': 12, 'VOCAB_SIZE': 49408,
                         'PROJ_NUM_LAYERS': 2, 'N_CTX': 16},
        'TEST': {'OBJECT_MASK_THRESHOLD': 0.0, 'OVERLAP_THRESHOLD': 0.0},
    },
    'INPUT': {'FORMAT': 'BGR', 'TASK_SEQ_LEN': 77, 'MIN_SIZE_TEST': 800, 'MAX_SIZE_TEST': 1333},
    'DATASETS': {'TRAIN': [], 'TEST_PANOPTIC': ['']},
    'TEST': {'DETECTIONS_PER_IMAGE': 100},
}

#: detectron2 dataset names of the official yamls -> our ``--dataset`` names
DATASET_PREFIXES = (('coco_', 'coco'), ('ade20k_', 'ade20k'), ('cityscapes_', 'cityscapes'),
                    ('mapillary_vistas_', 'mapillary'))
BACKBONE_NAMES = {'build_resnet_backbone': 'resnet', 'D2SwinTransformer': 'swin', 'D2ConvNeXt': 'convnext',
                  'D2DiNAT': 'dinat'}
STAGES = ['res2', 'res3', 'res4', 'res5']


class OfficialConfig:
    """A merged official yaml with the official defaults filled in; :meth:`get` takes dotted keys.

    Args:
        cfg (dict): Output of :func:`load_official_yaml`.
        source (str): The yaml path, named in errors.
    """

    def __init__(self, cfg: Dict, source: str):
        self.cfg = _merge(DEFAULTS, cfg)
        self.source = source

    def get(self, key: str) -> Any:
        node = self.cfg
        for part in key.split('.'):
            if not isinstance(node, dict) or part not in node:
                raise KeyError(f'{self.source}: no {key} (and no official default)')
            node = node[part]
        return node

    def require(self, cond: bool, msg: str) -> None:
        require(cond, self.source, msg)

    def expect(self, key: str, value: Any) -> None:
        """The yaml must keep ``key`` at the value our layout hard-wires."""
        got = self.get(key)
        got = list(got) if isinstance(got, tuple) else got
        self.require(got == value, f'{key}: {got!r} (only {value!r} is supported)')

    def dataset(self) -> Optional[str]:
        """Our name of the dataset the yaml trains / evaluates on (None if not a known one)."""
        names = list(self.get('DATASETS.TRAIN') or []) + list(self.get('DATASETS.TEST_PANOPTIC') or [])
        for name in names:
            for prefix, ours in DATASET_PREFIXES:
                if str(name).startswith(prefix):
                    return ours
        return None

    def test_size(self) -> Tuple[int, int]:
        """(short edge, long-edge cap) of the test resize (``INPUT.MIN_SIZE_TEST`` / ``MAX_SIZE_TEST``)."""
        return int(self.get('INPUT.MIN_SIZE_TEST')), int(self.get('INPUT.MAX_SIZE_TEST'))


def _backbone(cfg: OfficialConfig) -> Tuple[str, BackboneCfg]:
    name = cfg.get('MODEL.BACKBONE.NAME')
    cfg.require(name in BACKBONE_NAMES, f'MODEL.BACKBONE.NAME {name!r} (one of {sorted(BACKBONE_NAMES)})')
    kind, src = BACKBONE_NAMES[name], cfg.source
    if kind == 'resnet':
        r = 'MODEL.RESNETS.'
        cfg.expect(r + 'OUT_FEATURES', STAGES)
        cfg.expect(r + 'RES5_DILATION', 1)
        cfg.require(not any(cfg.get(r + 'DEFORM_ON_PER_STAGE')), 'deformable ResNet stages')
        depth, groups = cfg.get(r + 'DEPTH'), cfg.get(r + 'NUM_GROUPS')
        width, res2 = cfg.get(r + 'WIDTH_PER_GROUP'), cfg.get(r + 'RES2_OUT_CHANNELS')
        # detectron2's build_resnet_backbone: stage i (res2..res5) outputs RES2_OUT_CHANNELS * 2**i channels and,
        # with bottlenecks, has 3x3 convs of NUM_GROUPS * WIDTH_PER_GROUP * 2**i channels; the stem outputs
        # STEM_OUT_CHANNELS. mmdet's ResNet: 4 * base_channels * 2**i out, base_channels * 2**i inside (ResNeXt:
        # groups * base_width * 2**i), stem_channels.
        if depth in (18, 34):  # BasicBlock: detectron2 itself requires these (WIDTH_PER_GROUP is not used)
            cfg.require(res2 == 64, f'{r}RES2_OUT_CHANNELS {res2} for depth {depth} (detectron2 builds ResNet-18/34 '
                        'only with 64)')
            cfg.require(groups == 1, f'{r}NUM_GROUPS {groups} for depth {depth} (detectron2 needs 1)')
            base = 64
        else:
            cfg.require(res2 % 4 == 0, f'{r}RES2_OUT_CHANNELS {res2} (mmdet\'s bottleneck ResNet outputs 4 x its '
                        'base_channels: a multiple of 4 is needed)')
            base = res2 // 4
            cfg.require(groups > 1 or width == base,
                        f'{r}WIDTH_PER_GROUP {width} with NUM_GROUPS 1 and RES2_OUT_CHANNELS {res2}: mmdet\'s ResNet '
                        f'bottleneck is always a quarter of its output wide ({base}), so this ResNet cannot be built')
        # detectron2 FREEZE_AT n freezes the stem (n >= 1) and res2..res{n} ; mmdet frozen_stages counts from 0
        return kind, resnet_backbone(depth=depth, stem_channels=cfg.get(r + 'STEM_OUT_CHANNELS'), base_channels=base,
                                     stride_in_1x1=cfg.get(r + 'STRIDE_IN_1X1'), norm=cfg.get(r + 'NORM'),
                                     frozen_stages=cfg.get('MODEL.BACKBONE.FREEZE_AT') - 1, groups=groups,
                                     width_per_group=width, source=src)
    if kind == 'swin':
        s = 'MODEL.SWIN.'
        cfg.expect(s + 'OUT_FEATURES', STAGES)
        cfg.require(not cfg.get(s + 'APE'), f'{s}APE (absolute position embedding) True')
        return kind, swin_backbone(
            embed_dim=cfg.get(s + 'EMBED_DIM'), depths=cfg.get(s + 'DEPTHS'), num_heads=cfg.get(s + 'NUM_HEADS'),
            window_size=cfg.get(s + 'WINDOW_SIZE'), pretrain_img_size=cfg.get(s + 'PRETRAIN_IMG_SIZE'),
            patch_size=cfg.get(s + 'PATCH_SIZE'), mlp_ratio=cfg.get(s + 'MLP_RATIO'), qkv_bias=cfg.get(s + 'QKV_BIAS'),
            qk_scale=cfg.get(s + 'QK_SCALE'), drop_rate=cfg.get(s + 'DROP_RATE'),
            attn_drop_rate=cfg.get(s + 'ATTN_DROP_RATE'), drop_path_rate=cfg.get(s + 'DROP_PATH_RATE'),
            patch_norm=cfg.get(s + 'PATCH_NORM'), with_cp=cfg.get(s + 'USE_CHECKPOINT'), source=src)
    if kind == 'convnext':
        c = 'MODEL.CONVNEXT.'
        cfg.expect(c + 'OUT_FEATURES', STAGES)
        cfg.expect(c + 'OUT_INDICES', [0, 1, 2, 3])
        return kind, convnext_backbone(
            depths=cfg.get(c + 'DEPTHS'), channels=cfg.get(c + 'DIMS'), drop_path_rate=cfg.get(c + 'DROP_PATH_RATE'),
            layer_scale_init_value=cfg.get(c + 'LSIT'), in_channels=cfg.get(c + 'IN_CHANNELS'), source=src)
    d = 'MODEL.DiNAT.'
    cfg.expect(d + 'OUT_FEATURES', STAGES)
    cfg.expect(d + 'OUT_INDICES', [0, 1, 2, 3])
    # D2DiNAT passes neither QKV_BIAS, QK_SCALE, DROP_RATE, ATTN_DROP_RATE nor a layer scale to its DiNAT:
    # qkv always has a bias, no layer scale
    return kind, dinat_backbone(
        embed_dim=cfg.get(d + 'EMBED_DIM'), depths=cfg.get(d + 'DEPTHS'), num_heads=cfg.get(d + 'NUM_HEADS'),
        kernel_size=cfg.get(d + 'KERNEL_SIZE'), dilations=cfg.get(d + 'DILATIONS'),
        mlp_ratio=float(cfg.get(d + 'MLP_RATIO')), drop_path_rate=cfg.get(d + 'DROP_PATH_RATE'), source=src)


def official_model_cfg(cfg: OfficialConfig, num_things: int, num_stuff: int, with_text: bool,
                       object_mask_thr: Optional[float] = None, iou_thr: Optional[float] = None) -> Tuple[str, Dict]:
    """Our ``model`` overrides reproducing an official OneFormer yaml.

    Args:
        cfg (OfficialConfig): The merged yaml.
        num_things (int): Thing classes (listed first).
        num_stuff (int): Stuff classes; ``num_things + num_stuff`` must equal ``SEM_SEG_HEAD.NUM_CLASSES``.
        with_text (bool): Build the text mapper and contrastive loss (the checkpoint has their weights).
        object_mask_thr (float, optional): Overrides ``MODEL.TEST.OBJECT_MASK_THRESHOLD``.
        iou_thr (float, optional): Overrides ``MODEL.TEST.OVERLAP_THRESHOLD``.

    Returns:
        tuple: The backbone family ('resnet', 'swin', 'convnext', 'dinat') and the ``model`` dict (with
        ``data_preprocessor``).

    Raises:
        UnsupportedConfig: A setting our layout cannot reproduce (the message names the yaml and the key).
    """
    head, one = 'MODEL.SEM_SEG_HEAD.', 'MODEL.ONE_FORMER.'
    num_classes = cfg.get(head + 'NUM_CLASSES')
    cfg.require(num_things + num_stuff == num_classes,
                f'{head}NUM_CLASSES {num_classes} != {num_things} things + {num_stuff} stuff')
    # the architecture of OneFormer (arXiv:2211.06220, sec. 3) as this project builds it
    cfg.expect('MODEL.META_ARCHITECTURE', 'OneFormer')
    cfg.expect(head + 'NAME', 'OneFormerHead')
    cfg.expect(head + 'PIXEL_DECODER_NAME', 'MSDeformAttnPixelDecoder')
    cfg.expect(head + 'IN_FEATURES', STAGES)
    cfg.expect(head + 'DEFORMABLE_TRANSFORMER_ENCODER_IN_FEATURES', STAGES[1:])
    cfg.expect(head + 'COMMON_STRIDE', 4)
    cfg.expect(head + 'NORM', 'GN')
    cfg.expect(one + 'TRANSFORMER_DECODER_NAME', 'ContrastiveMultiScaleMaskedTransformerDecoder')
    cfg.expect(one + 'PRE_NORM', False)
    cfg.expect(one + 'ENFORCE_INPUT_PROJ', False)
    cfg.expect(one + 'USE_TASK_NORM', True)
    cfg.expect(one + 'ENC_LAYERS', 0)
    hidden = cfg.get(one + 'HIDDEN_DIM')
    for key in ('CONVS_DIM', 'MASK_DIM'):
        cfg.require(cfg.get(head + key) == hidden, f'{head}{key} {cfg.get(head + key)} != {one}HIDDEN_DIM {hidden}')
    kind, backbone = _backbone(cfg)
    text = None
    if with_text:
        t = 'MODEL.TEXT_ENCODER.'
        text = text_mapper_cfg(embed_dims=hidden, width=cfg.get(t + 'WIDTH'), num_layers=cfg.get(t + 'NUM_LAYERS'),
                               context_length=cfg.get(t + 'CONTEXT_LENGTH'), vocab_size=cfg.get(t + 'VOCAB_SIZE'),
                               proj_num_layers=cfg.get(t + 'PROJ_NUM_LAYERS'), num_ctx=cfg.get(t + 'N_CTX'))
    sizes = HeadSizes(
        hidden_dim=hidden, num_queries=cfg.get(one + 'NUM_OBJECT_QUERIES'), num_heads=cfg.get(one + 'NHEADS'),
        dropout=cfg.get(one + 'DROPOUT'), dim_feedforward=cfg.get(one + 'DIM_FEEDFORWARD'),
        decoder_layers=cfg.get(one + 'DEC_LAYERS') - 1,  # "9 decoder layers, add one for the loss on learnable query"
        query_dec_layers=cfg.get(one + 'CLASS_DEC_LAYERS'), encoder_layers=cfg.get(head + 'TRANSFORMER_ENC_LAYERS'),
        # the official MSDeformAttnPixelDecoder takes its heads from ONE_FORMER.NHEADS and builds its encoder with
        # 4 sampling points and a 1024-wide FFN whatever the yaml says (SEM_SEG_HEAD.DEFORMABLE_TRANSFORMER_ENCODER_
        # N_HEADS / N_POINTS are not read by it)
        encoder_heads=cfg.get(one + 'NHEADS'), encoder_points=4, encoder_feedforward_dim=1024,
        task_seq_len=cfg.get('INPUT.TASK_SEQ_LEN'), text_mapper=text,
        contrastive_temperature=cfg.get(one + 'CONTRASTIVE_TEMPERATURE'),
        contrastive_weight=cfg.get(one + 'CONTRASTIVE_WEIGHT'), no_object_weight=cfg.get(one + 'NO_OBJECT_WEIGHT'),
        class_weight=cfg.get(one + 'CLASS_WEIGHT'), mask_weight=cfg.get(one + 'MASK_WEIGHT'),
        dice_weight=cfg.get(one + 'DICE_WEIGHT'), train_num_points=cfg.get(one + 'TRAIN_NUM_POINTS'),
        oversample_ratio=cfg.get(one + 'OVERSAMPLE_RATIO'),
        importance_sample_ratio=cfg.get(one + 'IMPORTANCE_SAMPLE_RATIO'))
    model = oneformer_model_cfg(
        backbone, sizes, num_things, num_stuff,
        object_mask_thr=cfg.get('MODEL.TEST.OBJECT_MASK_THRESHOLD') if object_mask_thr is None else object_mask_thr,
        iou_thr=cfg.get('MODEL.TEST.OVERLAP_THRESHOLD') if iou_thr is None else iou_thr,
        max_per_image=cfg.get('TEST.DETECTIONS_PER_IMAGE'))
    return kind, dict(data_preprocessor=_data_preprocessor(cfg), **model)


def _data_preprocessor(cfg: OfficialConfig) -> Dict:
    """Normalisation and batch padding (``PIXEL_MEAN`` / ``PIXEL_STD`` in ``INPUT.FORMAT`` channel order)."""
    fmt = cfg.get('INPUT.FORMAT')
    cfg.require(fmt in ('RGB', 'BGR'), f'INPUT.FORMAT {fmt!r}')
    mean: List[float] = [float(v) for v in cfg.get('MODEL.PIXEL_MEAN')]
    std: List[float] = [float(v) for v in cfg.get('MODEL.PIXEL_STD')]
    # images are loaded BGR; the official model sees them in INPUT.FORMAT order
    return dict(mean=mean, std=std, bgr_to_rgb=fmt == 'RGB',
                pad_size_divisor=cfg.get('MODEL.ONE_FORMER.SIZE_DIVISIBILITY'))
