"""``oneformer_d2_to_mm.py CKPT OUT_DIR --config-yaml MODEL.yaml``: the official yaml becomes our config.

The yaml fixtures below are small versions of the official ones (SHI-Labs/OneFormer ``configs/<dataset>/Base-*.yaml``
-> ``oneformer_R50_*.yaml`` -> ``<backbone>/oneformer_<backbone>_*.yaml``): same keys, same ``_BASE_`` chain, the
``!!python/object/apply:eval`` tag of ``INPUT.MIN_SIZE_TRAIN``, tiny sizes. For each backbone family a random
checkpoint with the official key names is made from an independently built model of the expected sizes (the
official names come from the tables of ``official_names.py``); the config the converter writes must build a model
that loads the converted weights with ``strict=True``, every tensor in its place.
"""
import importlib.util
import os.path as osp

import pytest
import torch
from mmdet.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

from oneformer.datasets import ADE20K_PANOPTIC_METAINFO, ADE20K_SEMANTIC_CLASSES, LABEL_TO_TRAIN_ID
from oneformer.model_converters import (
    UnsupportedConfig,
    configs_root,
    convert_d2_with_config,
    load_official_yaml,
    official_classes,
)
from oneformer.testing import tiny_model_cfg

from ..conftest import REPO
from .official_names import (
    convnext_pairs,
    d2_resnet_shapes,
    dinat_pairs,
    head_pairs,
    official_swin_relative_position_index,
    resnet18_pairs,
    swin_pairs,
)

HIDDEN, QUERIES, TEXT_WIDTH = 32, 12, 64

BASE_YAML = '''MODEL:
  BACKBONE:
    FREEZE_AT: 0
    NAME: "build_resnet_backbone"
  WEIGHTS: "detectron2://ImageNetPretrained/torchvision/R-18.pkl"
  PIXEL_MEAN: [123.675, 116.280, 103.530]
  PIXEL_STD: [58.395, 57.120, 57.375]
  RESNETS:
    DEPTH: 18
    RES2_OUT_CHANNELS: 64
    STEM_TYPE: "basic"  # not used
    STEM_OUT_CHANNELS: 64
    STRIDE_IN_1X1: False
    OUT_FEATURES: ["res2", "res3", "res4", "res5"]
{norm}    RES5_MULTI_GRID: [1, 1, 1]  # not used
DATASETS:
  TRAIN: ("{dataset}_train",)
  TEST_PANOPTIC: ("{dataset}_val",)
SOLVER:
  IMS_PER_BATCH: 16
  BASE_LR: 0.0001
INPUT:
  MIN_SIZE_TRAIN: !!python/object/apply:eval ["[int(x * 0.1 * 512) for x in range(5, 21)]"]
  MIN_SIZE_TRAIN_SAMPLING: "choice"
  MIN_SIZE_TEST: {test_short}
  MAX_SIZE_TEST: {test_long}
  CROP:
    ENABLED: True
    SIZE: (512, 512)
  FORMAT: "RGB"
  DATASET_MAPPER_NAME: "oneformer_unified"
  MAX_SEQ_LEN: 77
  TASK_SEQ_LEN: 77
VERSION: 2
'''

MODEL_YAML = '''_BASE_: Base-UnifiedSegmentation.yaml
MODEL:
  META_ARCHITECTURE: "OneFormer"
  SEM_SEG_HEAD:
    NAME: "OneFormerHead"
    IGNORE_VALUE: 255
    NUM_CLASSES: {num_classes}
    LOSS_WEIGHT: 1.0
    CONVS_DIM: 32
    MASK_DIM: 32
    NORM: "GN"
    PIXEL_DECODER_NAME: "MSDeformAttnPixelDecoder"
    IN_FEATURES: ["res2", "res3", "res4", "res5"]
    DEFORMABLE_TRANSFORMER_ENCODER_IN_FEATURES: ["res3", "res4", "res5"]
    COMMON_STRIDE: 4
    TRANSFORMER_ENC_LAYERS: 1
    DEFORMABLE_TRANSFORMER_ENCODER_N_HEADS: 8  # not read by the official pixel decoder (it takes ONE_FORMER.NHEADS)
    DEFORMABLE_TRANSFORMER_ENCODER_N_POINTS: 3  # not read either (4 points)
  ONE_FORMER:
    TRANSFORMER_DECODER_NAME: "ContrastiveMultiScaleMaskedTransformerDecoder"
    TRANSFORMER_IN_FEATURE: "multi_scale_pixel_decoder"
    DEEP_SUPERVISION: True
    NO_OBJECT_WEIGHT: 0.1
    CLASS_WEIGHT: 2.0
    MASK_WEIGHT: 5.0
    DICE_WEIGHT: 5.0
    CONTRASTIVE_WEIGHT: 0.5
    CONTRASTIVE_TEMPERATURE: 0.07
    HIDDEN_DIM: 32
    NUM_OBJECT_QUERIES: 12
    USE_TASK_NORM: True
    NHEADS: 4
    DROPOUT: 0.1
    DIM_FEEDFORWARD: 64
    ENC_LAYERS: 0
    PRE_NORM: {pre_norm}
    ENFORCE_INPUT_PROJ: False
    SIZE_DIVISIBILITY: 32
    CLASS_DEC_LAYERS: 2
    DEC_LAYERS: 3  # 2 decoder layers, add one for the loss on learnable query
    TRAIN_NUM_POINTS: 12544
    OVERSAMPLE_RATIO: 3.0
    IMPORTANCE_SAMPLE_RATIO: 0.75
  TEXT_ENCODER:
    WIDTH: 64
    CONTEXT_LENGTH: 77
    NUM_LAYERS: 1
    VOCAB_SIZE: 49408
    PROJ_NUM_LAYERS: 2
    N_CTX: 4
  TEST:
    SEMANTIC_ON: True
    INSTANCE_ON: True
    PANOPTIC_ON: True
    OVERLAP_THRESHOLD: 0.8
    OBJECT_MASK_THRESHOLD: {object_mask_thr}
    TASK: "panoptic"
TEST:
  DETECTIONS_PER_IMAGE: 12
'''

BACKBONE_YAMLS = {
    'swin': '''_BASE_: ../oneformer_R18_tiny.yaml
MODEL:
  BACKBONE:
    NAME: "D2SwinTransformer"
  SWIN:
    EMBED_DIM: 16
    DEPTHS: [1, 1, 2, 1]
    NUM_HEADS: [1, 2, 2, 4]
    WINDOW_SIZE: 3
    APE: False
    DROP_PATH_RATE: 0.3
    PATCH_NORM: True
    PRETRAIN_IMG_SIZE: 96
  WEIGHTS: "swin_tiny.pkl"
''',
    'convnext': '''_BASE_: ../oneformer_R18_tiny.yaml
MODEL:
  BACKBONE:
    NAME: "D2ConvNeXt"
  CONVNEXT:
    IN_CHANNELS: 3
    DEPTHS: [1, 1, 2, 1]
    DIMS: [16, 32, 64, 128]
    DROP_PATH_RATE: 0.4
    LSIT: 1.0
    OUT_INDICES: [0, 1, 2, 3]
  WEIGHTS: "convnext_tiny.pkl"
''',
    'dinat': '''_BASE_: ../oneformer_R18_tiny.yaml
MODEL:
  BACKBONE:
    NAME: "D2DiNAT"
  DiNAT:
    EMBED_DIM: 16
    MLP_RATIO: 2.0
    DEPTHS: [1, 1, 2, 1]
    NUM_HEADS: [1, 2, 2, 4]
    KERNEL_SIZE: 3
    DROP_PATH_RATE: 0.3
    DILATIONS: [[1], [2], [1, 2], [1]]
  WEIGHTS: "dinat_tiny.pkl"
SOLVER:
  AMP:
    ENABLED: False
''',
}
DEPTHS = (1, 1, 2, 1)
SMALL = [16, 32, 64, 128]
# what the expected model of each family uses, written independently of the converter's yaml mapping
EXPECTED_BACKBONES = {
    'resnet': (dict(type='ResNet', depth=18, norm_cfg=dict(type='SyncBN', requires_grad=True), norm_eval=False,
                    out_indices=(0, 1, 2, 3), style='pytorch'), [64, 128, 256, 512]),
    'swin': (dict(type='SwinTransformer', embed_dims=16, depths=DEPTHS, num_heads=(1, 2, 2, 4), window_size=3,
                  pretrain_img_size=96, out_indices=(0, 1, 2, 3), convert_weights=False), SMALL),
    'convnext': (dict(type='mmpretrain.ConvNeXt', arch=dict(depths=DEPTHS, channels=SMALL), layer_scale_init_value=1.0,
                      out_indices=(0, 1, 2, 3), gap_before_final_norm=False), SMALL),
    'dinat': (dict(type='DiNAT', embed_dim=16, depths=DEPTHS, num_heads=(1, 2, 2, 4), kernel_size=3,
                   dilations=((1, ), (2, ), (1, 2), (1, )), mlp_ratio=2.0, layer_scale=False), SMALL),
}


def _dinat_registered() -> bool:
    import oneformer  # noqa: F401
    return 'DiNAT' in MODELS.module_dict


def _tool():
    path = osp.join(REPO, 'tools', 'model_converters', 'oneformer_d2_to_mm.py')
    spec = importlib.util.spec_from_file_location('oneformer_d2_to_mm', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_yamls(root, kind: str, dataset: str, num_classes: int, test_size=(512, 2048), pre_norm=False,
                object_mask_thr=0.5) -> str:
    """The official folder layout: ``Base-*.yaml`` <- ``oneformer_R18_tiny.yaml`` <- ``<kind>/<kind>.yaml``."""
    norm = '    NORM: "SyncBN"  # use syncbn for cityscapes dataset\n' if dataset.startswith('cityscapes') else ''
    root.mkdir(parents=True, exist_ok=True)
    (root / 'Base-UnifiedSegmentation.yaml').write_text(
        BASE_YAML.format(norm=norm, dataset=dataset, test_short=test_size[0], test_long=test_size[1]))
    (root / 'oneformer_R18_tiny.yaml').write_text(MODEL_YAML.format(
        num_classes=num_classes, pre_norm=pre_norm, object_mask_thr=object_mask_thr))
    if kind == 'resnet':
        return str(root / 'oneformer_R18_tiny.yaml')
    (root / kind).mkdir(exist_ok=True)
    (root / kind / f'{kind}.yaml').write_text(BACKBONE_YAMLS[kind])
    return str(root / kind / f'{kind}.yaml')


def expected_model(kind: str, num_things: int, num_stuff: int):
    """Our model with the sizes the yamls describe, built from the base config by hand."""
    init_default_scope('mmdet')
    cfg = tiny_model_cfg(num_things=num_things, num_stuff=num_stuff, num_queries=QUERIES, num_ctx=4, hidden=HIDDEN)
    cfg.backbone, cfg.panoptic_head.in_channels = EXPECTED_BACKBONES[kind]
    cfg.panoptic_head.pixel_decoder.encoder.layer_cfg.ffn_cfg.feedforward_channels = 1024  # hard-coded officially
    # the official MSDeformAttnPixelDecoder: heads = MODEL.ONE_FORMER.NHEADS (4 in the yaml), 4 sampling points
    cfg.panoptic_head.pixel_decoder.encoder.layer_cfg.self_attn_cfg.update(num_heads=4, num_points=4)
    cfg.panoptic_head.text_mapper.update(width=TEXT_WIDTH, num_heads=1, num_layers=1)
    return MODELS.build(cfg)


BACKBONE_PAIRS = {'resnet': resnet18_pairs, 'swin': lambda: swin_pairs(DEPTHS),
                  'convnext': lambda: convnext_pairs(DEPTHS), 'dinat': lambda: dinat_pairs(DEPTHS)}


def official_checkpoint(model, kind: str):
    """(checkpoint, [(official key, our key, fill value)]): every official tensor filled with its own constant."""
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    pairs = BACKBONE_PAIRS[kind]() + head_pairs(enc_layers=1, dec_layers=2, qt_layers=2, text_layers=1)
    sd, table = {}, []
    for i, (src, dst) in enumerate(pairs):
        assert src not in sd and dst in shapes, (src, dst)
        sd[src] = torch.full(shapes[dst], float(i + 1))
        table.append((src, dst, float(i + 1)))
    if kind == 'swin':
        for k in [s for s, _ in pairs if s.endswith('relative_position_bias_table')]:
            sd[k.replace('bias_table', 'index')] = official_swin_relative_position_index(3)
    num_rows = shapes['panoptic_head.cls_embed.weight'][0]
    # class head rows numbered by source class (the "no object" row last), to follow the permutation
    sd['sem_seg_head.predictor.class_embed.bias'] = torch.arange(num_rows, dtype=torch.float)
    sd['sem_seg_head.predictor.class_embed.weight'] = torch.arange(num_rows, dtype=torch.float)[:, None].expand(
        num_rows, HIDDEN).clone()
    sd['criterion.empty_weight'] = torch.ones(num_rows)
    table = [t for t in table if not t[0].startswith('sem_seg_head.predictor.class_embed.')]
    return dict(model=sd, iteration=1), table


def _build(out_dir):
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(out_dir / 'config.py'))
    model = MODELS.build(cfg.model)
    ckpt = torch.load(out_dir / 'model.pth', map_location='cpu', weights_only=True)
    result = model.load_state_dict(ckpt['state_dict'], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return model.eval(), cfg, ckpt


# (family, dataset of the yaml, classes, things)
CASES = [('resnet', 'cityscapes_fine_panoptic', 19, 8), ('swin', 'coco_2017_train_panoptic', 133, 80),
         ('convnext', 'ade20k_panoptic', 150, 100), ('dinat', 'ade20k_panoptic', 150, 100)]


@pytest.mark.slow
@pytest.mark.parametrize('kind, dataset, num_classes, num_things', CASES, ids=[c[0] for c in CASES])
def test_yaml_config_builds_the_model_that_loads_the_checkpoint(kind, dataset, num_classes, num_things, tmp_path):
    if kind == 'dinat' and not _dinat_registered():
        pytest.skip('DiNAT is not registered by `import oneformer` (oneformer.models does not import backbones)')
    model = expected_model(kind, num_things, num_classes - num_things)
    ckpt, table = official_checkpoint(model, kind)
    src = tmp_path / 'official.pth'
    torch.save(ckpt, src)
    yaml_path = write_yamls(tmp_path / 'configs', kind, dataset, num_classes, object_mask_thr=0.7)
    assert _tool().main([str(src), str(tmp_path / 'out'), '--config-yaml', yaml_path, '--strict']) == 0

    ours, cfg, saved = _build(tmp_path / 'out')
    sd = ours.state_dict()
    for src_key, dst, value in table:
        assert torch.all(sd[dst] == value), f'{dst} does not hold {src_key}'
    # the class head follows our class order: row i holds the official class source_class_ids[i]
    meta = saved['meta']['dataset_meta']
    names, thing_ids = official_classes(dataset.split('_')[0])
    assert [names[i] for i in meta['source_class_ids']] == list(meta['classes'])
    assert set(meta['source_class_ids'][:num_things]) == set(thing_ids)
    assert sd['panoptic_head.cls_embed.bias'].tolist() == meta['source_class_ids'] + [num_classes]
    if kind == 'resnet':  # Cityscapes: our label i is train id LABEL_TO_TRAIN_ID[i]
        assert meta['source_class_ids'] == list(LABEL_TO_TRAIN_ID)
    if kind == 'convnext':  # ADE20K: things first, each group in objectInfo150 order
        assert meta['classes'] == ADE20K_PANOPTIC_METAINFO['classes']
        assert meta['source_class_ids'][0] == ADE20K_SEMANTIC_CLASSES.index(ADE20K_PANOPTIC_METAINFO['classes'][0])

    # the numbers of the yaml, read back from the written config
    m = cfg.model
    assert (m.panoptic_head.num_things_classes, m.panoptic_head.num_stuff_classes) == (num_things,
                                                                                       num_classes - num_things)
    assert m.panoptic_head.num_queries == QUERIES and m.test_cfg.max_per_image == 12
    assert (m.test_cfg.object_mask_thr, m.test_cfg.iou_thr) == (0.7, 0.8)
    assert m.panoptic_head.transformer_decoder.num_layers == 2  # DEC_LAYERS 3 - 1
    assert m.panoptic_head.text_mapper.num_layers == 1 and m.panoptic_head.text_mapper.num_heads == 1
    assert m.panoptic_head.loss_mask.loss_weight == 5.0 and m.panoptic_head.loss_cls.loss_weight == 2.0
    assert m.data_preprocessor.mean == [123.675, 116.28, 103.53] and m.data_preprocessor.bgr_to_rgb
    assert m.backbone.type == {'resnet': 'ResNet', 'swin': 'SwinTransformer', 'convnext': 'mmpretrain.ConvNeXt',
                               'dinat': 'DiNAT'}[kind]
    if kind == 'resnet':
        assert m.backbone.norm_cfg.type == 'SyncBN' and m.backbone.style == 'pytorch'  # STRIDE_IN_1X1 False
        assert m.backbone.frozen_stages == -1  # FREEZE_AT 0
    if kind == 'dinat':
        assert m.backbone.dilations == [[1], [2], [1, 2], [1]] and m.backbone.kernel_size == 3
    assert 'test_dataloader' not in cfg  # no --dataset: inference only
    assert tuple(cfg.metainfo.classes) == meta['classes']

    if kind != 'resnet':  # (SyncBN needs a process group to run)
        data = dict(inputs=[torch.randint(0, 255, (3, 64, 96), dtype=torch.uint8)])
        from mmdet.structures import DetDataSample
        data['data_samples'] = [DetDataSample(metainfo=dict(img_shape=(64, 96), ori_shape=(64, 96),
                                                            scale_factor=(1., 1.)))]
        with torch.no_grad():
            result = ours.test_step(data)[0]
        assert result.pred_panoptic_seg.sem_seg.shape == (1, 64, 96)


# --dataset NAME, the yaml's dataset and test size -> (dataset base, schedule, Resize scale of the written config)
DATASET_CASES = [
    ('cityscapes', 'cityscapes_fine_panoptic', 19, 8, (768, 1536), 'cityscapes_panoptic.py',
     'schedule_cityscapes_90k.py', (1536, 768)),  # not the base's (2048, 1024): the yaml's size wins
    ('coco', 'coco_2017_train_panoptic', 133, 80, (800, 1333), 'coco_panoptic.py', 'schedule_coco_100e.py',
     (1333, 800)),
    ('ade20k', 'ade20k_panoptic', 150, 100, (896, 3584), 'ade20k_panoptic_896.py', 'schedule_ade20k_160k.py',
     (3584, 896)),
    ('ade20k', 'ade20k_panoptic', 150, 100, (768, 3072), 'ade20k_panoptic_640.py', 'schedule_ade20k_160k.py',
     (3072, 768)),
    ('mapillary', 'mapillary_vistas_panoptic', 65, 37, (2048, 2048), 'mapillary_panoptic.py',
     'schedule_mapillary_300k.py', (2048, 2048)),
]


@pytest.mark.parametrize('dataset, yaml_dataset, num_classes, num_things, test_size, base, schedule, scale',
                         DATASET_CASES, ids=[f'{c[0]}-{c[4][0]}' for c in DATASET_CASES])
def test_dataset_option_inherits_the_dataset_and_resizes_like_the_yaml(dataset, yaml_dataset, num_classes, num_things,
                                                                      test_size, base, schedule, scale, tmp_path):
    """--dataset: the config evaluates on that dataset (tools/test.py), test resize from INPUT.MIN/MAX_SIZE_TEST,
    classes in the dataset's order (matched with the official class order by name)."""
    model = expected_model('resnet', num_things, num_classes - num_things)
    ckpt, _ = official_checkpoint(model, 'resnet')
    yaml_path = write_yamls(tmp_path / 'configs', 'resnet', yaml_dataset, num_classes, test_size=test_size)
    conv = convert_d2_with_config(ckpt, str(tmp_path / 'out'), yaml_path, dataset=dataset, strict=True)
    assert conv.unconsumed == []
    _, cfg, saved = _build(tmp_path / 'out')
    text = open(tmp_path / 'out' / 'config.py', encoding='utf-8').read()
    root = configs_root()
    for path in ('_base_/models/oneformer_r50.py', f'_base_/datasets/{base}', f'_base_/schedules/{schedule}',
                 '_base_/default_runtime.py'):
        assert repr(osp.join(root, path)) in text, path
    assert cfg.test_evaluator and cfg.test_cfg.type == 'TestLoop'
    (resize, ) = [step for step in cfg.test_dataloader.dataset.pipeline if step.type == 'Resize']
    assert tuple(resize.scale) == scale
    # our classes are the dataset's; row i of the class head is the official class of that name
    meta = saved['meta']['dataset_meta']
    dataset_cls = DATASETS.get(cfg.test_dataloader.dataset.type)
    assert meta['classes'] == tuple(dataset_cls.METAINFO['classes'])
    names, _ = official_classes(dataset)
    assert [names[i] for i in meta['source_class_ids']] == list(meta['classes'])
    assert saved['state_dict']['panoptic_head.cls_embed.bias'].tolist() == meta['source_class_ids'] + [num_classes]
    assert cfg.model.test_cfg.object_mask_thr == 0.5  # the yaml's threshold wins over the dataset's usual one


def test_custom_dataset_needs_class_info(tmp_path):
    model = expected_model('resnet', 2, 3)
    ckpt, _ = official_checkpoint(model, 'resnet')
    yaml_path = write_yamls(tmp_path / 'configs', 'resnet', 'my_shapes_panoptic', 5)
    with pytest.raises(ValueError, match='cannot tell thing from stuff'):
        convert_d2_with_config(ckpt, str(tmp_path / 'out'), yaml_path)
    info = tmp_path / 'classes.json'
    info.write_text('[{"name": "sky", "isthing": 0}, {"name": "cat", "isthing": 1}, {"name": "road", "isthing": 0},'
                    ' {"name": "dog", "isthing": 1}, {"name": "grass", "isthing": 0}]')
    convert_d2_with_config(ckpt, str(tmp_path / 'out'), yaml_path, class_info=str(info))
    _, cfg, saved = _build(tmp_path / 'out')
    assert saved['meta']['dataset_meta']['classes'] == ('cat', 'dog', 'sky', 'road', 'grass')
    assert saved['state_dict']['panoptic_head.cls_embed.bias'].tolist() == [1, 3, 0, 2, 4, 5]


@pytest.mark.parametrize('change, message', [
    (dict(pre_norm=True), r'oneformer_R18_tiny.yaml: not reproducible .*MODEL.ONE_FORMER.PRE_NORM: True'),
    (dict(num_classes=20), r'oneformer_R18_tiny.yaml: .*NUM_CLASSES 20 != 8 things \+ 11 stuff'),
])
def test_settings_we_cannot_reproduce_name_the_yaml_key(tmp_path, change, message):
    model = expected_model('resnet', 8, 11)
    ckpt, _ = official_checkpoint(model, 'resnet')
    kwargs = dict(dict(num_classes=19), **change)
    yaml_path = write_yamls(tmp_path / 'configs', 'resnet', 'cityscapes_fine_panoptic', **kwargs)
    with pytest.raises(UnsupportedConfig, match=message):
        convert_d2_with_config(ckpt, str(tmp_path / 'out'), yaml_path)
    assert not (tmp_path / 'out').exists()  # nothing written


def test_yaml_that_does_not_describe_the_checkpoint_is_refused(tmp_path):
    model = expected_model('resnet', 8, 11)
    ckpt, _ = official_checkpoint(model, 'resnet')
    yaml_path = write_yamls(tmp_path / 'configs', 'resnet', 'cityscapes_fine_panoptic', 19)
    text = open(yaml_path, encoding='utf-8').read()
    with open(yaml_path, 'w', encoding='utf-8') as f:
        f.write(text.replace('NUM_OBJECT_QUERIES: 12', 'NUM_OBJECT_QUERIES: 20'))
    with pytest.raises(ValueError, match=r'NUM_OBJECT_QUERIES 20 \(checkpoint: 12\)'):
        convert_d2_with_config(ckpt, str(tmp_path / 'out'), yaml_path)
    swin_yaml = write_yamls(tmp_path / 'configs2', 'swin', 'cityscapes_fine_panoptic', 19)
    with pytest.raises(ValueError, match='builds a swin backbone, the checkpoint has a resnet one'):
        convert_d2_with_config(ckpt, str(tmp_path / 'out'), swin_yaml)


def test_yaml_loader_follows_base_chain_without_evaluating_python(tmp_path):
    yaml_path = write_yamls(tmp_path / 'configs', 'swin', 'ade20k_panoptic', 150)
    cfg = load_official_yaml(yaml_path)
    assert cfg['MODEL']['BACKBONE']['NAME'] == 'D2SwinTransformer'  # child wins
    assert cfg['MODEL']['SEM_SEG_HEAD']['NUM_CLASSES'] == 150  # middle of the chain
    assert cfg['MODEL']['RESNETS']['DEPTH'] == 18  # merged from the first base
    assert cfg['INPUT']['MIN_SIZE_TRAIN'] == '[int(x * 0.1 * 512) for x in range(5, 21)]'  # kept as text
    assert '_BASE_' not in cfg

    (tmp_path / 'a.yaml').write_text('_BASE_: b.yaml\nA: 1\n')
    (tmp_path / 'b.yaml').write_text('_BASE_: a.yaml\nB: 1\n')
    with pytest.raises(ValueError, match='_BASE_ cycle'):
        load_official_yaml(str(tmp_path / 'a.yaml'))
    (tmp_path / 'c.yaml').write_text('_BASE_: ../missing/Base.yaml\n')
    with pytest.raises(FileNotFoundError, match=r'Base.yaml \(the _BASE_ of .*c.yaml\)'):
        load_official_yaml(str(tmp_path / 'c.yaml'))
    (tmp_path / 'd.yaml').write_text('A: !!python/object/apply:os.system ["echo unsafe"]\n')
    with pytest.raises(Exception, match='python/object/apply:os.system'):
        load_official_yaml(str(tmp_path / 'd.yaml'))


def test_dataset_without_a_base_config_is_refused_clearly(tmp_path, monkeypatch):
    from oneformer.model_converters import BUILTIN_DATASETS
    monkeypatch.setitem(BUILTIN_DATASETS, 'mapillary', dict(datasets={None: 'no_such_mapillary.py'},
                                                            schedule='no_such_schedule.py', object_mask_thr=0.8))
    model = expected_model('resnet', 8, 11)
    ckpt, _ = official_checkpoint(model, 'resnet')
    yaml_path = write_yamls(tmp_path / 'configs', 'resnet', 'cityscapes_fine_panoptic', 19)
    with pytest.raises(FileNotFoundError, match='no_such_mapillary.py.*no mapillary dataset config yet'):
        convert_d2_with_config(ckpt, str(tmp_path / 'out'), yaml_path, dataset='mapillary')
    with pytest.raises(FileNotFoundError, match="--dataset nope.py: not one of"):
        convert_d2_with_config(ckpt, str(tmp_path / 'out'), yaml_path, dataset='nope.py')


def test_weights_only_conversion_takes_the_class_order_of_a_dataset(tmp_path):
    """``SRC DST.pth --dataset ade20k`` (no yaml): the class head follows our ADE20K classes, no class-info file."""
    model = expected_model('resnet', 100, 50)
    ckpt, _ = official_checkpoint(model, 'resnet')
    torch.save(ckpt, tmp_path / 'official.pth')
    assert _tool().main([str(tmp_path / 'official.pth'), str(tmp_path / 'out.pth'), '--dataset', 'ade20k']) == 0
    saved = torch.load(tmp_path / 'out.pth', weights_only=True)
    meta = saved['meta']['dataset_meta']
    assert meta['classes'] == ADE20K_PANOPTIC_METAINFO['classes']
    assert [ADE20K_SEMANTIC_CLASSES[i] for i in meta['source_class_ids']] == list(meta['classes'])
    assert saved['state_dict']['panoptic_head.cls_embed.bias'].tolist() == meta['source_class_ids'] + [150]
    model.load_state_dict(saved['state_dict'], strict=True)


def test_pixel_decoder_heads_come_from_one_former_nheads(tmp_path):
    """The yaml says NHEADS 4 and DEFORMABLE_TRANSFORMER_ENCODER_N_HEADS 8: the official pixel decoder has 4 heads
    (its attention-weight rows: heads x 3 levels x 4 points), and so must ours; a yaml whose NHEADS does not fit
    the checkpoint is refused naming the key."""
    model = expected_model('resnet', 8, 11)
    ckpt, _ = official_checkpoint(model, 'resnet')
    rows = ckpt['model']['sem_seg_head.pixel_decoder.transformer.encoder.layers.0.self_attn.attention_weights.weight']
    assert rows.shape[0] == 4 * 3 * 4
    yaml_path = write_yamls(tmp_path / 'configs', 'resnet', 'cityscapes_fine_panoptic', 19)
    convert_d2_with_config(ckpt, str(tmp_path / 'out'), yaml_path)
    built, cfg, _ = _build(tmp_path / 'out')
    assert cfg.model.panoptic_head.pixel_decoder.encoder.layer_cfg.self_attn_cfg.num_heads == 4
    assert built.panoptic_head.pixel_decoder.encoder.layers[0].self_attn.num_heads == 4
    assert built.panoptic_head.pixel_decoder.encoder.layers[0].self_attn.num_points == 4
    text = open(yaml_path, encoding='utf-8').read()
    with open(yaml_path, 'w', encoding='utf-8') as f:
        f.write(text.replace('NHEADS: 4', 'NHEADS: 2'))
    with pytest.raises(ValueError, match=r'ONE_FORMER.NHEADS \(heads of the pixel decoder\) 2 \(checkpoint: 4\)'):
        convert_d2_with_config(ckpt, str(tmp_path / 'out2'), yaml_path)


def _resnet_yaml(root, values: dict) -> str:
    """The tiny ResNet yaml chain with ``MODEL.RESNETS`` values replaced / added."""
    yaml_path = write_yamls(root, 'resnet', 'cityscapes_fine_panoptic', 19)
    base = root / 'Base-UnifiedSegmentation.yaml'
    lines = [line for line in base.read_text().splitlines()
             if line.strip().split(':')[0] not in values]
    at = lines.index('  RESNETS:') + 1
    lines[at:at] = [f'    {key}: {value}' for key, value in values.items()]
    base.write_text('\n'.join(lines) + '\n')
    return yaml_path


# MODEL.RESNETS values, each differing from its sibling keys and from the defaults (stem 64, width 64, res2 256)
RESNET_VARIANTS = [
    dict(DEPTH=50, NUM_GROUPS=1, WIDTH_PER_GROUP=16, RES2_OUT_CHANNELS=64, STEM_OUT_CHANNELS=32),
    dict(DEPTH=50, NUM_GROUPS=2, WIDTH_PER_GROUP=4, RES2_OUT_CHANNELS=64, STEM_OUT_CHANNELS=48),
    dict(DEPTH=18, NUM_GROUPS=1, WIDTH_PER_GROUP=16, RES2_OUT_CHANNELS=64, STEM_OUT_CHANNELS=32),
]


@pytest.mark.parametrize('values', RESNET_VARIANTS, ids=['r50-narrow', 'resnext50-2x4d', 'r18-stem32'])
def test_resnet_widths_of_the_yaml_are_converted(values, tmp_path):
    """A checkpoint with detectron2's tensor shapes for these RESNETS values (computed by detectron2's rules,
    independently of the converter) converts, and the written config builds a model that loads it strictly."""
    head_ckpt, _ = official_checkpoint(expected_model('resnet', 8, 11), 'resnet')
    sd = {k: v for k, v in head_ckpt['model'].items() if not k.startswith('backbone.')}
    shapes = d2_resnet_shapes(values['DEPTH'], values['STEM_OUT_CHANNELS'], values['RES2_OUT_CHANNELS'],
                              values['NUM_GROUPS'], values['WIDTH_PER_GROUP'])
    gen = torch.Generator().manual_seed(0)
    sd.update({k: torch.rand(shape, generator=gen) for k, shape in shapes.items()})
    yaml_path = _resnet_yaml(tmp_path / 'configs', values)
    convert_d2_with_config(dict(model=sd), str(tmp_path / 'out'), yaml_path)
    model, cfg, saved = _build(tmp_path / 'out')
    backbone = model.backbone
    assert backbone.conv1.weight.shape == shapes['backbone.stem.conv1.weight']
    # every tensor of the source is in the model, unchanged, under its mmdet name
    assert torch.equal(backbone.layer4[0].conv2.weight, sd['backbone.res5.0.conv2.weight'])
    assert backbone.layer1[0].downsample[0].weight.shape == shapes['backbone.res2.0.shortcut.weight']
    ours = {k for k in saved['state_dict'] if k.startswith('backbone.') and not k.endswith('num_batches_tracked')}
    assert len(ours) == len(shapes)
    if values['NUM_GROUPS'] > 1:
        assert cfg.model.backbone.type == 'ResNeXt' and backbone.layer1[0].conv2.groups == values['NUM_GROUPS']


@pytest.mark.parametrize('values, message', [
    (dict(DEPTH=50, WIDTH_PER_GROUP=16, RES2_OUT_CHANNELS=128),
     r'WIDTH_PER_GROUP 16 with NUM_GROUPS 1 and RES2_OUT_CHANNELS 128: .* \(32\), so this ResNet cannot be built'),
    (dict(DEPTH=18, RES2_OUT_CHANNELS=128), r'RES2_OUT_CHANNELS 128 for depth 18'),
])
def test_resnet_widths_that_cannot_be_built_are_refused(values, message, tmp_path):
    ckpt, _ = official_checkpoint(expected_model('resnet', 8, 11), 'resnet')
    yaml_path = _resnet_yaml(tmp_path / 'configs', values)
    with pytest.raises(UnsupportedConfig, match=message):
        convert_d2_with_config(ckpt, str(tmp_path / 'out'), yaml_path)
