"""Every shipped config under configs/oneformer/: loads, builds its model and pipelines, runs the train pipeline
on a synthetic sample laid out like its dataset, and (paper recipes) matches the paper's hyper-parameter table.

Configs of published checkpoints are also checked against the official checkpoint layout: a checkpoint with the
official (detectron2) key names and the official architecture (depths, layer counts) must convert and load
strictly into the model the config builds.

No config is skipped: all dependencies (mmdet Swin, mmpretrain ConvNeXt) are installed. Backbones are built with
``init_cfg=None`` (no download); large models (~240M parameters, ~1 GB) are built once each.
"""
import copy
import gc
import glob
import os.path as osp
import random
import re

import numpy as np
import pytest
import torch
from mmdet.registry import DATASETS, MODELS, TRANSFORMS
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from oneformer.converters import convert_d2_checkpoint
from oneformer.datasets import generate_synthetic_panoptic

from ..test_converters.official_names import (convnext_pairs, head_pairs, official_swin_relative_position_index,
                                              swin_pairs)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO, 'configs', 'oneformer')
CONFIGS = sorted(osp.basename(p) for p in glob.glob(osp.join(CFG_DIR, '*.py')))

SWIN_L = dict(type='SwinTransformer', embed_dims=192, depths=[2, 2, 18, 2], num_heads=[6, 12, 24, 48],
              window_size=12, pretrain_img_size=384, drop_path_rate=0.3, use_abs_pos_embed=False,
              out_indices=(0, 1, 2, 3), convert_weights=True)
SWIN_L_URL = ('https://github.com/SwinTransformer/storage/releases/download/v1.0.0/'
              'swin_large_patch4_window12_384_22kto1k.pth')
CONVNEXT_L = dict(type='mmpretrain.ConvNeXt', arch='large', drop_path_rate=0.4, layer_scale_init_value=1.0,
                  gap_before_final_norm=False, out_indices=(0, 1, 2, 3))
CONVNEXT_L_URL = ('https://download.openmmlab.com/mmclassification/v0/convnext/'
                  'convnext-large_in21k-pre-3rdparty_in1k-384px_20221219-6d38dd66.pth')
R50 = dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3))
LARGE = [192, 384, 768, 1536]

# The paper's / official yamls' hyper-parameters (spec sec. 5), per shipped recipe.
COCO_50E = dict(dataset='coco', max_iters=368750, scheduler=('MultiStepLR', [327778, 355092]),
                num_queries=150, object_mask_thr=0.8, train_input=(1024, 1024), test_short=800)
COCO_100E = dict(COCO_50E, max_iters=737500, scheduler=('MultiStepLR', [655556, 735184]))
ADE_512 = dict(dataset='ade', max_iters=160000, scheduler=('PolyLR', 0.9), num_queries=150, object_mask_thr=0.5,
               train_input=(512, 512), test_short=512)
ADE_640 = dict(ADE_512, num_queries=250, train_input=(640, 640), test_short=640)
CITYSCAPES = dict(dataset='cityscapes', max_iters=90000, scheduler=('PolyLR', 0.9), num_queries=250,
                  object_mask_thr=0.8, train_input=(512, 1024), test_short=1024)
PAPER = {
    'oneformer_r50_8xb2-50e_coco-panoptic.py':
    dict(COCO_50E, backbone=R50, in_channels=[256, 512, 1024, 2048], pretrained='torchvision://resnet50'),
    'oneformer_swin-l-p4-w12-384-in21k_16xb1-100e_coco-panoptic.py':
    dict(COCO_100E, backbone=SWIN_L, in_channels=LARGE, pretrained=SWIN_L_URL),
    'oneformer_r50_8xb2-160k_ade20k-panoptic-512x512.py':
    dict(ADE_512, backbone=R50, in_channels=[256, 512, 1024, 2048], pretrained='torchvision://resnet50'),
    'oneformer_swin-t-p4-w7-224_8xb2-160k_ade20k-panoptic-512x512.py':
    dict(ADE_512, backbone=dict(type='SwinTransformer', embed_dims=96, depths=[2, 2, 6, 2], window_size=7,
                                drop_path_rate=0.3), in_channels=[96, 192, 384, 768],
         pretrained='https://github.com/SwinTransformer/storage/releases/download/v1.0.0/'
         'swin_tiny_patch4_window7_224.pth'),
    'oneformer_swin-l-p4-w12-384-in21k_8xb2-160k_ade20k-panoptic-640x640.py':
    dict(ADE_640, backbone=SWIN_L, in_channels=LARGE, pretrained=SWIN_L_URL),
    'oneformer_convnext-l-in21k_8xb2-160k_ade20k-panoptic-640x640.py':
    dict(ADE_640, backbone=CONVNEXT_L, in_channels=LARGE, pretrained=CONVNEXT_L_URL),
    'oneformer_convnext-t-mmpretrain_8xb2-160k_ade20k-panoptic-512x512.py':
    dict(ADE_512, backbone=dict(type='mmpretrain.ConvNeXt', arch='tiny', gap_before_final_norm=False,
                                out_indices=(0, 1, 2, 3)), in_channels=[96, 192, 384, 768],
         pretrained='https://download.openmmlab.com/mmclassification/v0/convnext/'
         'convnext-tiny_32xb128_in1k_20221207-998cf3e9.pth'),
    'oneformer_r50_8xb2-90k_cityscapes-panoptic-512x1024.py':
    dict(CITYSCAPES, num_queries=150, in_channels=[256, 512, 1024, 2048], pretrained='torchvision://resnet50',
         backbone=dict(R50, norm_cfg=dict(type='SyncBN', requires_grad=True), norm_eval=False)),
    'oneformer_swin-l-p4-w12-384-in21k_8xb2-90k_cityscapes-panoptic-512x1024.py':
    dict(CITYSCAPES, backbone=SWIN_L, in_channels=LARGE, pretrained=SWIN_L_URL),
    'oneformer_convnext-l-in21k_8xb2-90k_cityscapes-panoptic-512x1024.py':
    dict(CITYSCAPES, backbone=CONVNEXT_L, in_channels=LARGE, pretrained=CONVNEXT_L_URL),
}
# Published official checkpoints -> (backbone kind, depths); the config must load them once converted.
CHECKPOINTS = {
    'oneformer_swin-l-p4-w12-384-in21k_8xb2-160k_ade20k-panoptic-640x640.py': ('swin', (2, 2, 18, 2)),
    'oneformer_convnext-l-in21k_8xb2-160k_ade20k-panoptic-640x640.py': ('convnext', (3, 3, 27, 3)),
    'oneformer_swin-l-p4-w12-384-in21k_8xb2-90k_cityscapes-panoptic-512x1024.py': ('swin', (2, 2, 18, 2)),
    'oneformer_convnext-l-in21k_8xb2-90k_cityscapes-panoptic-512x1024.py': ('convnext', (3, 3, 27, 3)),
    'oneformer_swin-l-p4-w12-384-in21k_16xb1-100e_coco-panoptic.py': ('swin', (2, 2, 18, 2)),
}
DATASET_TYPES = dict(coco='OneFormerPanopticDataset', ade='ADE20KPanopticOneFormerDataset',
                     cityscapes='CityscapesPanopticDataset')
# synthetic images shaped like the dataset's (H, W); small so the resize / crop steps do real work
IMAGE_SHAPES = dict(CityscapesPanopticDataset=(32, 64), SyntheticPanopticDataset=(128, 128))


def _load(name):
    init_default_scope('mmdet')
    return Config.fromfile(osp.join(CFG_DIR, name))


def test_every_paper_recipe_is_shipped_and_every_shipped_config_is_known():
    assert set(PAPER) <= set(CONFIGS), sorted(set(PAPER) - set(CONFIGS))
    assert set(CHECKPOINTS) <= set(PAPER)
    # a new non-demo config needs its row in PAPER (the demo trains on the synthetic data)
    unknown = [c for c in CONFIGS if c not in PAPER and 'synthetic' not in c]
    assert not unknown, f'add the hyper-parameters of {unknown} to PAPER'


def test_readme_lists_every_recipe_and_official_checkpoint():
    with open(osp.join(CFG_DIR, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    for name in PAPER:
        assert f'(./{name})' in readme, name
    for ckpt in ('250_16_swin_l_oneformer_ade20k_160k.pth', '250_16_convnext_l_oneformer_ade20k_160k.pth',
                 '250_16_swin_l_oneformer_cityscapes_90k.pth', '250_16_convnext_l_oneformer_cityscapes_90k.pth',
                 '150_16_swin_l_oneformer_coco_100ep.pth'):
        assert ckpt in readme, ckpt
    assert 'oneformer_d2_to_mm.py' in readme and 'oneformer_hf_to_mm.py' in readme
    assert 'not reproduced here' in readme


@pytest.mark.parametrize('name', sorted(PAPER))
def test_paper_hyper_parameters(name):
    cfg, exp = _load(name), PAPER[name]
    gpus, per_gpu = map(int, re.search(r'_(\d+)xb(\d+)-', name).groups())
    assert gpus * per_gpu == 16  # SOLVER.IMS_PER_BATCH
    assert cfg.train_dataloader.batch_size == per_gpu
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=16)
    assert cfg.train_dataloader.dataset.type == DATASET_TYPES[exp['dataset']]

    ow = cfg.optim_wrapper
    assert ow.constructor == 'OneFormerOptimWrapperConstructor'
    assert (ow.optimizer.type, ow.optimizer.lr, ow.optimizer.weight_decay) == ('AdamW', 1e-4, 0.05)
    assert ow.clip_grad == dict(max_norm=0.01, norm_type=2)
    assert ow.paramwise_cfg.custom_keys['backbone'].lr_mult == 0.1
    assert ow.paramwise_cfg.norm_decay_mult == 0.0 and ow.paramwise_cfg.embed_decay_mult == 0.0

    assert cfg.train_cfg.type == 'IterBasedTrainLoop' and cfg.train_cfg.max_iters == exp['max_iters']
    assert cfg.train_cfg.val_interval == 5000  # TEST.EVAL_PERIOD
    (sched, ) = cfg.param_scheduler
    assert (sched.type, sched.end, sched.by_epoch) == (exp['scheduler'][0], exp['max_iters'], False)
    if sched.type == 'PolyLR':
        assert (sched.power, sched.eta_min) == (exp['scheduler'][1], 0.0)
    else:
        assert (sched.milestones, sched.gamma) == (exp['scheduler'][1], 0.1)

    m = cfg.model
    assert m.panoptic_head.num_queries == exp['num_queries'] == cfg.num_queries
    assert m.test_cfg.object_mask_thr == exp['object_mask_thr'] and m.test_cfg.iou_thr == 0.8
    assert m.test_cfg.max_per_image == exp['num_queries']  # TEST.DETECTIONS_PER_IMAGE
    assert m.panoptic_head.in_channels == exp['in_channels']
    for key, value in exp['backbone'].items():
        assert m.backbone[key] == value, key
    assert m.backbone.init_cfg.checkpoint == exp['pretrained']
    if m.backbone.type.startswith('mmpretrain.'):
        assert m.backbone.init_cfg.prefix == 'backbone.'
        assert cfg.custom_imports.imports == ['oneformer', 'mmpretrain.models']
    else:
        assert cfg.custom_imports.imports == ['oneformer']
    # R50 / Swin-T: 150 queries everywhere; large backbones 250 on ADE20K / Cityscapes, 150 on COCO (spec sec. 5)
    large = exp['in_channels'] == LARGE
    assert exp['num_queries'] == (250 if large and exp['dataset'] != 'coco' else 150)


@pytest.mark.parametrize('name', CONFIGS)
def test_config_survives_the_runner_dump(name, tmp_path):
    """The runner writes the resolved config to the work dir; reloading it must give the same experiment."""
    cfg = _load(name)
    cfg.dump(str(tmp_path / 'dumped.py'))
    again = Config.fromfile(str(tmp_path / 'dumped.py'))
    for key in ('model', 'train_pipeline', 'train_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert again[key] == cfg[key], key


def _dataset_meta(ds_cfg):
    return dict(DATASETS.get(ds_cfg.type).METAINFO, **(ds_cfg.get('metainfo') or {}))


def _data_info(ds_cfg, root, split, meta):
    """The data info the config's dataset class makes for the first image of the generated split."""
    ds_cfg = copy.deepcopy(ds_cfg)
    ds_cfg.update(data_root=root, ann_file=f'annotations/panoptic_{split}.json', pipeline=[],
                  data_prefix=dict(img=f'{split}/', seg=f'panoptic_{split}/'))
    ds = DATASETS.build(ds_cfg)
    assert ds.metainfo['classes'] == meta['classes']
    return ds.get_data_info(0)


def _check_consistency(cfg):
    """Numbers that must agree between the model and the data pipeline (the dataset bases own them)."""
    m, targets, pack = cfg.model, cfg.train_pipeline[-2], cfg.train_pipeline[-1]
    assert targets.type == 'OneFormerTaskTargets' and pack.type == 'PackDetInputs'
    assert cfg.train_dataloader.dataset.pipeline == cfg.train_pipeline
    assert cfg.val_dataloader.dataset.pipeline == cfg.test_pipeline
    meta = _dataset_meta(cfg.train_dataloader.dataset)
    things, stuff = len(meta['thing_classes']), len(meta['stuff_classes'])
    for part in (m.panoptic_head, m.panoptic_fusion_head, targets, cfg):
        assert (part.num_things_classes, part.num_stuff_classes) == (things, stuff)
    assert m.panoptic_head.num_queries == targets.num_queries == cfg.num_queries == m.test_cfg.max_per_image
    assert m.panoptic_head.text_mapper.num_ctx == targets.num_text_ctx
    return meta


def _check_backbone_channels(model, in_channels):
    """The backbone's 4 feature maps have the head's in_channels at strides 4..32."""
    model.eval()
    with torch.no_grad():
        feats = model.backbone(torch.zeros(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == list(in_channels)
    assert [64 // f.shape[-1] for f in feats] == [4, 8, 16, 32]


def _check_official_checkpoint_loads(model, kind, depths):
    """An official-layout checkpoint (detectron2 names, official depths and layer counts) converts without leftovers
    and loads strictly; the official tensor sizes are checked on the model independently."""
    sd = model.state_dict()
    c, n = 256, model.panoptic_head.num_queries
    num_classes = model.panoptic_head.num_classes
    official_shapes = {  # spec sec. 1 / 6: hidden 256, text width 256, 77 tokens, CLIP vocab, N_ctx 16
        'panoptic_head.query_embed.weight': (n, c),
        'panoptic_head.cls_embed.weight': (num_classes + 1, c),
        'panoptic_head.text_mapper.prompt_ctx.weight': (16, c),
        'panoptic_head.text_mapper.text_encoder.token_embedding.weight': (49408, 256),
        'panoptic_head.text_mapper.text_encoder.positional_embedding': (77, 256),
        'panoptic_head.task_encoder.task_mlp.layers.0.weight': (c, 77),
        'panoptic_head.pixel_decoder.input_convs.0.conv.weight': (c, 1536, 1, 1),  # res5 of a large backbone
        'backbone.norm3.weight': (1536, ),
        ('backbone.patch_embed.projection.weight' if kind == 'swin' else 'backbone.downsample_layers.0.0.weight'):
        (192, 3, 4, 4),
    }
    for key, shape in official_shapes.items():
        assert tuple(sd[key].shape) == shape, key
    pairs = (swin_pairs(depths) if kind == 'swin' else convnext_pairs(depths)) + head_pairs(
        enc_layers=6, dec_layers=9, qt_layers=2, text_layers=6)  # TRANSFORMER_ENC_LAYERS, DEC_LAYERS 10, ...
    missing = sorted({dst for _, dst in pairs} - set(sd))
    assert not missing, f'official tensors without a place in the model: {missing[:5]}'
    # expanded scalars: the shapes of a real checkpoint without its memory
    official = {src: torch.zeros(()).expand(sd[dst].shape) for src, dst in pairs}
    if kind == 'swin':
        for key in [s for s, _ in pairs if s.endswith('relative_position_bias_table')]:
            official[key.replace('bias_table', 'index')] = official_swin_relative_position_index(12)
    conv, detected = convert_d2_checkpoint(dict(model=official))
    assert detected == kind and conv.unconsumed == []
    result = model.load_state_dict(conv.state_dict, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


@pytest.mark.slow
@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_model_and_runs_its_pipelines(name, tmp_path):
    cfg = _load(name)
    assert cfg.default_scope == 'mmdet' and 'oneformer' in cfg.custom_imports.imports
    meta = _check_consistency(cfg)

    # ---- data: a synthetic panoptic sample with the dataset's classes, read by the config's dataset class
    ds_cfg = cfg.train_dataloader.dataset
    shape = IMAGE_SHAPES.get(ds_cfg.type, (48, 64))
    root = str(tmp_path / 'data')
    generate_synthetic_panoptic(root, num_train=1, num_val=1, img_size=shape, seed=0,
                                thing_classes=meta['thing_classes'], stuff_classes=meta['stuff_classes'])
    train = Compose([TRANSFORMS.build(t) for t in copy.deepcopy(cfg.train_pipeline)])
    test = Compose([TRANSFORMS.build(t) for t in copy.deepcopy(cfg.test_pipeline)])
    random.seed(0)
    np.random.seed(0)
    out = train(_data_info(ds_cfg, root, 'train', meta))
    img, sample = out['inputs'], out['data_samples']
    crop_w, crop_h = cfg.get('crop_size') or cfg.get('image_size')  # mmdet sizes are (w, h)
    assert img.shape[0] == 3 and img.shape[1] <= crop_h and img.shape[2] <= crop_w
    labels = sample.gt_instances.labels
    assert len(labels) > 0 and (labels < len(meta['classes'])).all()
    assert tuple(sample.gt_instances.masks.masks.shape[1:]) == tuple(img.shape[1:])

    # ---- model: built once, backbone without pretrained weights
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    num_texts = model.panoptic_head.num_queries - model.panoptic_head.text_mapper.num_ctx
    assert sample.text_tokens.shape == (num_texts, 77)
    assert model.panoptic_head.num_classes == len(meta['classes'])
    batch = model.data_preprocessor(dict(inputs=[img], data_samples=[sample]), training=True)
    inputs = batch['inputs']
    assert inputs.shape[-2] % 32 == 0 and inputs.shape[-1] % 32 == 0
    if name in PAPER:
        assert tuple(inputs.shape[-2:]) == PAPER[name]['train_input']  # crop / LSJ size, padded when smaller
    (padded, ) = batch['data_samples']
    assert tuple(padded.gt_instances.masks.masks.shape[1:]) == tuple(inputs.shape[-2:])
    _check_backbone_channels(model, cfg.model.panoptic_head.in_channels)
    if name in CHECKPOINTS:
        _check_official_checkpoint_loads(model, *CHECKPOINTS[name])

    # ---- test pipeline: resized image, ground truth kept at the original size, no text list
    val = test(_data_info(cfg.val_dataloader.dataset, root, 'val', meta))
    vimg, vsample = val['inputs'], val['data_samples']
    assert vsample.ori_shape == shape
    assert tuple(vsample.gt_sem_seg.sem_seg.shape[1:]) == shape
    assert 'text_tokens' not in vsample  # the task comes from the model's test_cfg
    if name in PAPER:
        assert min(vimg.shape[1:]) == PAPER[name]['test_short']  # INPUT.MIN_SIZE_TEST
    del model, batch
    gc.collect()
