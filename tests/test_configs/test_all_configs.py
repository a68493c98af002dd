"""Every shipped config under configs/oneformer/: loads, matches the official recipe (SHI-Labs/OneFormer yamls),
builds its model and runs its pipelines on a synthetic sample laid out like its dataset.

The tables below are written from the official yamls and README (spec sec. 5), independently of the configs:

- ``PAPER``: per config, the official hyper-parameters (backbone, queries, thresholds, resize / crop / test sizes,
  task sampling, schedule, pretrained weights or the pre-training checkpoint it starts from);
- ``PUBLISHED``: the 20 released models with the authors' numbers (PQ / AP / mIoU / ms+flip mIoU / #params), which
  the README and metafile must quote.

Building 30 models of ~220-390M parameters is too slow for CPU tests, so each config is built with its backbone
depths shrunk (the wiring: classes, queries, channels, text list) and one config per backbone family is built at full
size: its parameter count must round to the paper's, and a checkpoint with the official (detectron2) key names and
official layer counts must convert and load strictly into it.
"""
import copy
import functools
import gc
import glob
import os.path as osp
import random
import re

import numpy as np
import pytest
import torch
import yaml
from mmdet.registry import DATASETS, MODELS, TRANSFORMS
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from oneformer.dataset_converters import generate_synthetic_panoptic
from oneformer.model_converters import convert_d2_checkpoint

from ..test_converters.official_names import (
    convnext_pairs,
    head_pairs,
    official_swin_relative_position_index,
    swin_pairs,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO, 'configs', 'oneformer')
CONFIGS = sorted(osp.basename(p) for p in glob.glob(osp.join(CFG_DIR, '*.py')))
DEMO = 'oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py'

# ------------------------------------------------------------------------------------------------ official numbers
SWIN_URL = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/'
MMPT_URL = 'https://download.openmmlab.com/mmclassification/v0/convnext/'
DINAT_URL = 'https://shi-labs.com/projects/dinat/checkpoints/'
LARGE = [192, 384, 768, 1536]
R50 = dict(cfg=dict(type='ResNet', depth=50, out_indices=(0, 1, 2, 3)), in_channels=[256, 512, 1024, 2048],
           pretrained='torchvision://resnet50')
SWIN_T = dict(cfg=dict(type='SwinTransformer', embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
                       window_size=7, drop_path_rate=0.3, use_abs_pos_embed=False, convert_weights=True),
              in_channels=[96, 192, 384, 768], pretrained=SWIN_URL + 'swin_tiny_patch4_window7_224.pth')
SWIN_L = dict(cfg=dict(type='SwinTransformer', embed_dims=192, depths=[2, 2, 18, 2], num_heads=[6, 12, 24, 48],
                       window_size=12, pretrain_img_size=384, drop_path_rate=0.3, use_abs_pos_embed=False,
                       patch_norm=True, out_indices=(0, 1, 2, 3), convert_weights=True),
              in_channels=LARGE, pretrained=SWIN_URL + 'swin_large_patch4_window12_384_22kto1k.pth',
              family='swin-l', params=219)
CONVNEXT_T = dict(cfg=dict(type='mmpretrain.ConvNeXt', arch='tiny', gap_before_final_norm=False,
                           out_indices=(0, 1, 2, 3)), in_channels=[96, 192, 384, 768],
                  pretrained=MMPT_URL + 'convnext-tiny_32xb128_in1k_20221207-998cf3e9.pth')
CONVNEXT_L = dict(cfg=dict(type='mmpretrain.ConvNeXt', arch='large', drop_path_rate=0.4, layer_scale_init_value=1.0,
                           gap_before_final_norm=False, out_indices=(0, 1, 2, 3)),
                  in_channels=LARGE, pretrained=MMPT_URL + 'convnext-large_in21k-pre-3rdparty_in1k-384px_20221219-'
                  '6d38dd66.pth', family='convnext-l', params=220)
CONVNEXT_XL = dict(cfg=dict(CONVNEXT_L['cfg'], arch='xlarge'), in_channels=[256, 512, 1024, 2048],
                   pretrained=MMPT_URL + 'convnext-xlarge_in21k-pre-3rdparty_in1k-384px_20221219-b161bc14.pth',
                   family='convnext-xl', params=372)
# DiNAT.DILATIONS of the official yamls
DIL_640 = [[1, 20, 1], [1, 5, 1, 10], [1, 2, 1, 3, 1, 4, 1, 5, 1, 2, 1, 3, 1, 4, 1, 5, 1, 5], [1, 2, 1, 2, 1]]
DIL_1280 = [[1, 28, 1], [1, 7, 1, 14], [1, 3, 1, 5, 1, 5, 1, 7, 1, 3, 1, 5, 1, 5, 1, 7, 1, 7], [1, 3, 1, 3, 1]]
DIL_CITYSCAPES = [[1, 18, 1], [1, 5, 1, 9], [1, 2, 1, 3, 1, 4, 1, 2, 1, 3, 1, 4, 1, 2, 1, 3, 1, 4], [1, 2, 1, 2, 1]]
DINAT_L = dict(cfg=dict(type='DiNAT', embed_dim=192, depths=[3, 4, 18, 5], num_heads=[6, 12, 24, 48], mlp_ratio=2.0,
                        kernel_size=11, dilations=DIL_640, drop_path_rate=0.3, out_indices=(0, 1, 2, 3)),
               in_channels=LARGE, pretrained=DINAT_URL + 'imagenet1k/dinat_large_in22k_in1k_384_11x11.pth',
               family='dinat-l', params=223)
DINAT_L_1280 = dict(DINAT_L, cfg=dict(DINAT_L['cfg'], dilations=DIL_1280), family=None)
DINAT_L_CITYSCAPES = dict(DINAT_L, cfg=dict(DINAT_L['cfg'], kernel_size=7, dilations=DIL_CITYSCAPES),
                          pretrained=DINAT_URL + 'imagenet22k/dinat_large_in22k_224.pth', family='dinat-l-k7')


def official_scales(short: int, long: int) -> list:
    """INPUT.MIN_SIZE_TRAIN [int(x * 0.1 * short) for x in range(5, 21)] with MAX_SIZE_TRAIN, as mmdet scales."""
    return [(long, int(x * 0.1 * short)) for x in range(5, 21)]


THIRDS = dict(semantic=1 / 3, instance=1 / 3, panoptic=1 / 3)  # TASK_PROB 0.33 / 0.66 (cumulative)
COCO = dict(dataset='OneFormerPanopticDataset', thr=0.8, lsj=1024, pad=(1024, 1024), test=(800, 1333),
            task_probs=THIRDS, val_interval=5000)
COCO_50E = dict(COCO, max_iters=368750, scheduler=('MultiStepLR', [327778, 355092]))
COCO_100E = dict(COCO, max_iters=737500, scheduler=('MultiStepLR', [655556, 735184]))


def ade(size):
    return dict(dataset='ADE20KPanopticOneFormerDataset', thr=0.5, crop=(size, size), pad=(size, size),
                scales=official_scales(size, 4 * size), test=(size, 4 * size), task_probs=THIRDS, max_iters=160000,
                scheduler=('PolyLR', 0.9), val_interval=5000)


CITYSCAPES = dict(dataset='CityscapesPanopticDataset', thr=0.8, crop=(512, 1024), pad=None,
                  scales=official_scales(1024, 4096), test=(1024, 2048), task_probs=THIRDS, max_iters=90000,
                  scheduler=('PolyLR', 0.9), val_interval=5000)
MAPILLARY = dict(dataset='MapillaryVistasPanopticDataset', thr=0.8, crop=(1024, 1024), pad=(1024, 1024),
                 scales=official_scales(2048, 8192), test=(2048, 2048),
                 task_probs=dict(semantic=0.5, instance=0.0, panoptic=0.5),  # TASK_PROB 0.50 / 0.50
                 max_iters=300000, scheduler=('PolyLR', 0.9), val_interval=30000)

SL, CL, CXL, DL = 'swin-l-p4-w12-384-in21k', 'convnext-l-in21k', 'convnext-xl-in21k', 'dinat-l-k11-384-in21k'
PAPER = {
    # COCO
    'oneformer_r50_8xb2-50e_coco-panoptic.py': dict(COCO_50E, backbone=R50, queries=150),
    f'oneformer_{SL}_16xb1-100e_coco-panoptic.py': dict(COCO_100E, backbone=SWIN_L, queries=150),
    f'oneformer_{DL}_16xb1-100e_coco-panoptic.py':
    dict(COCO_100E, backbone=DINAT_L, queries=150, scheduler=('MultiStepLR', [655556, 710184])),
    # ADE20K
    'oneformer_r50_8xb2-160k_ade20k-panoptic-512x512.py': dict(ade(512), backbone=R50, queries=150),
    'oneformer_swin-t-p4-w7-224_8xb2-160k_ade20k-panoptic-512x512.py': dict(ade(512), backbone=SWIN_T, queries=150),
    'oneformer_convnext-t-mmpretrain_8xb2-160k_ade20k-panoptic-512x512.py':
    dict(ade(512), backbone=CONVNEXT_T, queries=150),  # not an official recipe: the mmpretrain example
    f'oneformer_{SL}_8xb2-160k_ade20k-panoptic-640x640.py': dict(ade(640), backbone=SWIN_L, queries=250),
    f'oneformer_{SL}_8xb2-160k_ade20k-panoptic-896x896.py': dict(ade(896), backbone=SWIN_L, queries=250),
    f'oneformer_{SL}_8xb2-160k_ade20k-panoptic-1280x1280.py': dict(ade(1280), backbone=SWIN_L, queries=250),
    f'oneformer_{CL}_8xb2-160k_ade20k-panoptic-640x640.py': dict(ade(640), backbone=CONVNEXT_L, queries=250),
    f'oneformer_{CXL}_8xb2-160k_ade20k-panoptic-640x640.py': dict(ade(640), backbone=CONVNEXT_XL, queries=250),
    f'oneformer_{DL}_8xb2-160k_ade20k-panoptic-640x640.py': dict(ade(640), backbone=DINAT_L, queries=250),
    f'oneformer_{DL}_8xb2-160k_ade20k-panoptic-896x896.py': dict(ade(896), backbone=DINAT_L, queries=250),
    f'oneformer_{DL}_8xb2-160k_ade20k-panoptic-1280x1280.py': dict(ade(1280), backbone=DINAT_L_1280, queries=250),
    f'oneformer_{DL}-coco-pre_8xb2-160k_ade20k-panoptic-1280x1280.py':
    dict(ade(1280), backbone=DINAT_L_1280, queries=150,
         load_from=('150_16_dinat_l_oneformer_coco_100ep.pth', f'oneformer_{DL}_16xb1-100e_coco-panoptic.py')),
    # Cityscapes
    'oneformer_r50_8xb2-90k_cityscapes-panoptic-512x1024.py':
    dict(CITYSCAPES, queries=150, backbone=dict(R50, cfg=dict(R50['cfg'], norm_cfg=dict(type='SyncBN',
                                                                                        requires_grad=True),
                                                              norm_eval=False))),
    f'oneformer_{SL}_8xb2-90k_cityscapes-panoptic-512x1024.py': dict(CITYSCAPES, backbone=SWIN_L, queries=250),
    f'oneformer_{CL}_8xb2-90k_cityscapes-panoptic-512x1024.py': dict(CITYSCAPES, backbone=CONVNEXT_L, queries=250),
    f'oneformer_{CXL}_8xb2-90k_cityscapes-panoptic-512x1024.py': dict(CITYSCAPES, backbone=CONVNEXT_XL, queries=250),
    'oneformer_dinat-l-k7-224-in21k_8xb2-90k_cityscapes-panoptic-512x1024.py':
    dict(CITYSCAPES, backbone=DINAT_L_CITYSCAPES, queries=250),
    f'oneformer_{CL}-mapillary-pre_8xb2-90k_cityscapes-panoptic-512x1024.py':
    dict(CITYSCAPES, backbone=CONVNEXT_L, queries=250,
         load_from=('mapillary_pretrain_250_16_convnext_l_oneformer_mapillary_300k.pth',
                    f'oneformer_{CL}_8xb2-300k_mapillary-panoptic-1024x1024-for-cityscapes.py')),
    f'oneformer_{CXL}-mapillary-pre_8xb2-90k_cityscapes-panoptic-512x1024.py':
    dict(CITYSCAPES, backbone=CONVNEXT_XL, queries=250,
         load_from=('mapillary_pretrain_250_16_convnext_xl_oneformer_mapillary_300k.pth',
                    f'oneformer_{CXL}_8xb2-300k_mapillary-panoptic-1024x1024-for-cityscapes.py')),
    # Mapillary Vistas
    'oneformer_r50_8xb2-300k_mapillary-panoptic-1024x1024.py':
    dict(MAPILLARY, queries=150, backbone=dict(R50, cfg=dict(R50['cfg'], norm_cfg=dict(type='SyncBN',
                                                                                       requires_grad=True)))),
    f'oneformer_{SL}_8xb2-300k_mapillary-panoptic-1024x1024.py': dict(MAPILLARY, backbone=SWIN_L, queries=250),
    f'oneformer_{CL}_8xb2-300k_mapillary-panoptic-1024x1024.py': dict(MAPILLARY, backbone=CONVNEXT_L, queries=250),
    f'oneformer_{DL}_8xb2-300k_mapillary-panoptic-1024x1024.py': dict(MAPILLARY, backbone=DINAT_L, queries=250),
    # the Mapillary pre-training of the Mapillary-pretrained Cityscapes models: all three tasks
    f'oneformer_{CL}_8xb2-300k_mapillary-panoptic-1024x1024-for-cityscapes.py':
    dict(MAPILLARY, backbone=CONVNEXT_L, queries=250, task_probs=THIRDS),
    f'oneformer_{CXL}_8xb2-300k_mapillary-panoptic-1024x1024-for-cityscapes.py':
    dict(MAPILLARY, backbone=CONVNEXT_XL, queries=250, task_probs=THIRDS),
}

# Foundation-ViT recipes of this project (issue 20; no official OneFormer counterpart): the ADE20K-640 recipe of the
# Swin-L config with a plain ViT, ViTDet's simple feature pyramid and layer-wise lr decay. Per config: the backbone
# type / arch / patch, the mmpretrain model (its configs/*/metafile.yml entry) whose weights init_cfg names, and the
# layer decay rate.
VIT_TYPES = ('mmpretrain.VisionTransformer', 'mmpretrain.ViTEVA02', 'mmpretrain.ViTSAM')
VIT_RECIPES = {
    'oneformer_dinov2-b-p14_8xb2-160k_ade20k-panoptic-640x640.py':
    dict(type='mmpretrain.VisionTransformer', arch='base', patch=14,
         model=('dinov2', 'vit-base-p14_dinov2-pre_3rdparty'), decay=0.7),
    'oneformer_eva02-b-p14_8xb2-160k_ade20k-panoptic-640x640.py':
    dict(type='mmpretrain.ViTEVA02', arch='b', patch=14, model=('eva02', 'vit-base-p14_eva02-pre_in21k'), decay=0.7),
    'oneformer_eva02-l-p14_8xb2-160k_ade20k-panoptic-640x640.py':
    dict(type='mmpretrain.ViTEVA02', arch='l', patch=14, model=('eva02', 'vit-large-p14_eva02-pre_m38m'), decay=0.8),
    'oneformer_sam-b-p16_8xb2-160k_ade20k-panoptic-640x640.py':
    dict(type='mmpretrain.ViTSAM', arch='base', patch=16, model=('sam', 'vit-base-p16_sam-pre_3rdparty_sa1b-1024px'),
         decay=0.7),
}

# The 20 models of the official README: checkpoint folder/file and the authors' numbers (PQ, AP, mIoU s.s.,
# mIoU ms+flip; AP / ms are None where not published), #params (M).
PUBLISHED = {
    f'oneformer_{SL}_8xb2-160k_ade20k-panoptic-640x640.py':
    ('ade20k/250_16_swin_l_oneformer_ade20k_160k.pth', 49.8, 35.9, 57.0, 57.7, 219),
    f'oneformer_{SL}_8xb2-160k_ade20k-panoptic-896x896.py':
    ('ade20k/896x896_250_16_swin_l_oneformer_ade20k_160k.pth', 51.1, 37.6, 57.4, 58.3, 219),
    f'oneformer_{SL}_8xb2-160k_ade20k-panoptic-1280x1280.py':
    ('ade20k/1280x1280_250_16_swin_l_oneformer_ade20k_160k.pth', 51.4, 37.8, 57.0, 57.7, 219),
    f'oneformer_{CL}_8xb2-160k_ade20k-panoptic-640x640.py':
    ('ade20k/250_16_convnext_l_oneformer_ade20k_160k.pth', 50.0, 36.2, 56.6, 57.4, 220),
    f'oneformer_{DL}_8xb2-160k_ade20k-panoptic-640x640.py':
    ('ade20k/250_16_dinat_l_oneformer_ade20k_160k.pth', 50.5, 36.0, 58.3, 58.4, 223),
    f'oneformer_{DL}_8xb2-160k_ade20k-panoptic-896x896.py':
    ('ade20k/896x896_250_16_dinat_l_oneformer_ade20k_160k.pth', 51.2, 36.8, 58.1, 58.6, 223),
    f'oneformer_{DL}_8xb2-160k_ade20k-panoptic-1280x1280.py':
    ('ade20k/1280x1280_250_16_dinat_l_oneformer_ade20k_160k.pth', 51.5, 37.1, 58.3, 58.7, 223),
    f'oneformer_{DL}-coco-pre_8xb2-160k_ade20k-panoptic-1280x1280.py':
    ('ade20k/coco_pretrain_1280x1280_150_16_dinat_l_oneformer_ade20k_160k.pth', 53.4, 40.2, 58.4, 58.8, 223),
    f'oneformer_{CXL}_8xb2-160k_ade20k-panoptic-640x640.py':
    ('ade20k/250_16_convnext_xl_oneformer_ade20k_160k.pth', 50.1, 36.3, 57.4, 58.8, 372),
    f'oneformer_{SL}_8xb2-90k_cityscapes-panoptic-512x1024.py':
    ('cityscapes/250_16_swin_l_oneformer_cityscapes_90k.pth', 67.2, 45.6, 83.0, 84.4, 219),
    f'oneformer_{CL}_8xb2-90k_cityscapes-panoptic-512x1024.py':
    ('cityscapes/250_16_convnext_l_oneformer_cityscapes_90k.pth', 68.5, 46.5, 83.0, 84.0, 220),
    f'oneformer_{CL}-mapillary-pre_8xb2-90k_cityscapes-panoptic-512x1024.py':
    ('cityscapes/mapillary_pretrain_250_16_convnext_l_oneformer_cityscapes_90k.pth', 70.1, 48.7, 84.6, 85.2, 220),
    'oneformer_dinat-l-k7-224-in21k_8xb2-90k_cityscapes-panoptic-512x1024.py':
    ('cityscapes/250_16_dinat_l_oneformer_cityscapes_90k.pth', 67.6, 45.6, 83.1, 84.0, 223),
    f'oneformer_{CXL}_8xb2-90k_cityscapes-panoptic-512x1024.py':
    ('cityscapes/250_16_convnext_xl_oneformer_cityscapes_90k.pth', 68.4, 46.7, 83.6, 84.6, 372),
    f'oneformer_{CXL}-mapillary-pre_8xb2-90k_cityscapes-panoptic-512x1024.py':
    ('cityscapes/mapillary_pretrain_250_16_convnext_xl_oneformer_cityscapes_90k.pth', 69.7, 48.9, 84.5, 85.8, 372),
    f'oneformer_{SL}_16xb1-100e_coco-panoptic.py':
    ('coco/150_16_swin_l_oneformer_coco_100ep.pth', 57.9, 49.0, 67.4, None, 219),
    f'oneformer_{DL}_16xb1-100e_coco-panoptic.py':
    ('coco/150_16_dinat_l_oneformer_coco_100ep.pth', 58.0, 49.2, 68.1, None, 223),
    f'oneformer_{SL}_8xb2-300k_mapillary-panoptic-1024x1024.py':
    ('mapillary/250_16_swin_l_oneformer_mapillary_300k.pth', 46.7, None, 62.9, 64.1, 219),
    f'oneformer_{CL}_8xb2-300k_mapillary-panoptic-1024x1024.py':
    ('mapillary/250_16_convnext_l_oneformer_mapillary_300k.pth', 47.9, None, 63.2, 63.8, 220),
    f'oneformer_{DL}_8xb2-300k_mapillary-panoptic-1024x1024.py':
    ('mapillary/250_16_dinat_l_oneformer_mapillary_300k.pth', 47.8, None, 64.0, 64.9, 223),
}
# COCO: PQ of the thing / stuff classes as well
COCO_PQ_TH_ST = {f'oneformer_{SL}_16xb1-100e_coco-panoptic.py': (64.4, 48.0),
                 f'oneformer_{DL}_16xb1-100e_coco-panoptic.py': (64.3, 48.4)}
CKPT_URL = 'https://shi-labs.com/projects/oneformer/'
# synthetic images shaped like the dataset's (H, W); small so the resize / crop steps do real work
IMAGE_SHAPES = dict(CityscapesPanopticDataset=(32, 64), SyntheticPanopticDataset=(128, 128))
# one config per backbone family is built at full size (the largest models take a few seconds each)
FULL_SIZE = {bb['family']: name for name, bb in
             ((n, p['backbone']) for n, p in reversed(list(PAPER.items()))) if bb.get('family')}


@functools.lru_cache(maxsize=None)
def _load_once(name):
    return Config.fromfile(osp.join(CFG_DIR, name))


def _load(name):
    """A fresh copy of the config (each file is parsed once: resolving the mmdet:: runtime base reads all of
    mmdet's metafiles)."""
    init_default_scope('mmdet')
    return copy.deepcopy(_load_once(name))


def _gpus_per_gpu(name):
    return tuple(map(int, re.search(r'_(\d+)xb(\d+)-', name).groups()))


def test_every_shipped_config_is_known_and_all_released_models_have_one():
    known = set(PAPER) | {DEMO} | set(VIT_RECIPES)
    assert set(CONFIGS) == known, sorted(set(CONFIGS) ^ known)
    assert set(DUMPED) <= set(CONFIGS)
    assert len(PUBLISHED) == 20 and set(PUBLISHED) <= set(PAPER)
    assert sorted(FULL_SIZE) == ['convnext-l', 'convnext-xl', 'dinat-l', 'dinat-l-k7', 'swin-l']


@pytest.mark.parametrize('name', sorted(PAPER))
def test_paper_hyper_parameters(name):
    cfg, exp = _load(name), PAPER[name]
    gpus, per_gpu = _gpus_per_gpu(name)
    assert gpus * per_gpu == 16  # SOLVER.IMS_PER_BATCH
    assert cfg.train_dataloader.batch_size == per_gpu
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=16)
    assert cfg.train_dataloader.dataset.type == exp['dataset'] == cfg.val_dataloader.dataset.type

    ow = cfg.optim_wrapper
    assert ow.type == 'FiniteGradOptimWrapper' and ow.constructor == 'OneFormerOptimWrapperConstructor'
    assert (ow.optimizer.type, ow.optimizer.lr, ow.optimizer.weight_decay) == ('AdamW', 1e-4, 0.05)
    assert ow.clip_grad == dict(max_norm=0.01, norm_type=2)
    assert ow.paramwise_cfg.custom_keys['backbone'].lr_mult == 0.1
    assert ow.paramwise_cfg.norm_decay_mult == 0.0 and ow.paramwise_cfg.embed_decay_mult == 0.0

    assert cfg.train_cfg.type == 'IterBasedTrainLoop' and cfg.train_cfg.max_iters == exp['max_iters']
    assert cfg.train_cfg.val_interval == exp['val_interval']  # TEST.EVAL_PERIOD
    (sched, ) = cfg.param_scheduler
    assert (sched.type, sched.end, sched.by_epoch, sched.begin) == (exp['scheduler'][0], exp['max_iters'], False, 0)
    if sched.type == 'PolyLR':
        assert (sched.power, sched.eta_min) == (exp['scheduler'][1], 0.0)
    else:
        assert (sched.milestones, sched.gamma) == (exp['scheduler'][1], 0.1)

    m = cfg.model
    assert m.panoptic_head.num_queries == exp['queries'] == cfg.num_queries
    assert m.test_cfg.object_mask_thr == exp['thr'] and m.test_cfg.iou_thr == 0.8  # OVERLAP_THRESHOLD
    _, built_test_cfg = MODELS.get('OneFormer').follow_head_sizes(m.panoptic_head, m.panoptic_fusion_head, m.test_cfg)
    assert built_test_cfg.max_per_image == exp['queries']  # TEST.DETECTIONS_PER_IMAGE
    assert m.test_cfg.tasks == ('panoptic', 'instance', 'semantic')

    bb = exp['backbone']
    # in_channels are found from the backbone at build (_shrunk_model checks them); a config that writes them keeps
    # the right ones (documentation, checked at build)
    assert m.panoptic_head.get('in_channels') in (None, bb['in_channels'])
    for key, value in bb['cfg'].items():
        assert m.backbone[key] == value, key
    if exp.get('load_from'):  # starts from a converted OneFormer checkpoint instead of the ImageNet weights
        ckpt, pretrain_cfg = exp['load_from']
        assert cfg.load_from == f'checkpoints/{ckpt}'
        assert m.backbone.init_cfg is None
        with open(osp.join(CFG_DIR, name), encoding='utf-8') as f:
            assert pretrain_cfg in CONFIGS and ckpt in f.read()  # the comment says where it comes from
    else:
        assert cfg.load_from is None
        assert m.backbone.init_cfg.type == 'Pretrained' and m.backbone.init_cfg.checkpoint == bb['pretrained']
    if m.backbone.type.startswith('mmpretrain.'):
        assert m.backbone.init_cfg is None or m.backbone.init_cfg.prefix == 'backbone.'
        assert cfg.custom_imports.imports == ['oneformer', 'mmpretrain.models']
    else:
        assert cfg.custom_imports.imports == ['oneformer']

    # data: task sampling, resize / crop sizes (mmdet sizes are (w, h) crops and (long, short) scales)
    targets = [t for t in cfg.train_pipeline if t.type == 'OneFormerTaskTargets']
    assert len(targets) == 1 and targets[0].task_probs == exp['task_probs']
    batch_pads = [a for a in m.data_preprocessor.get('batch_augments') or [] if a.type == 'BatchFixedSizePad']
    assert [tuple(a.size) for a in batch_pads] == ([exp['pad']] if exp['pad'] else [])
    resize = [t for t in cfg.test_pipeline if t.type == 'Resize']
    assert len(resize) == 1 and tuple(resize[0].scale) == exp['test'][::-1]  # MAX_SIZE_TEST, MIN_SIZE_TEST
    if 'lsj' in exp:
        (rr, ) = [t for t in cfg.train_pipeline if t.type == 'RandomResize']
        assert tuple(rr.scale) == (exp['lsj'], ) * 2 and tuple(rr.ratio_range) == (0.1, 2.0)
    else:
        (rc, ) = [t for t in cfg.train_pipeline if t.type == 'RandomChoiceResize']
        assert [tuple(s) for s in rc.scales] == exp['scales']
    (crop, ) = [t for t in cfg.train_pipeline if t.type == 'RandomCrop']
    assert tuple(crop.crop_size)[::-1] == exp.get('crop', (exp.get('lsj'), ) * 2)

    # R50 / Swin-T: 150 queries everywhere; large backbones 250 except COCO and the COCO-pretrained ADE20K model
    large = 'params' in bb  # Swin-L, ConvNeXt-L / XL, DiNAT-L
    assert exp['queries'] == (250 if large and 'coco' not in name else 150)


# dumping formats the config with yapf (~1-3 s each): a few configs covering every kind of override
DUMPED = [
    'oneformer_r50_8xb2-50e_coco-panoptic.py', f'oneformer_{DL}_16xb1-100e_coco-panoptic.py',
    f'oneformer_{SL}_8xb2-160k_ade20k-panoptic-640x640.py',
    f'oneformer_{CL}-mapillary-pre_8xb2-90k_cityscapes-panoptic-512x1024.py',
    f'oneformer_{CL}_8xb2-300k_mapillary-panoptic-1024x1024-for-cityscapes.py', DEMO
]


@pytest.mark.parametrize('name', DUMPED)
def test_config_survives_the_runner_dump(name, tmp_path):
    """The runner writes the resolved config to the work dir; reloading it must give the same experiment."""
    cfg = _load(name)
    cfg.dump(str(tmp_path / 'dumped.py'))
    again = Config.fromfile(str(tmp_path / 'dumped.py'))
    for key in ('model', 'train_pipeline', 'train_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg',
                'default_hooks', 'load_from'):
        assert again.get(key) == cfg.get(key), key


def _unscoped(value):
    """Without the ``_scope_='mmdet'`` keys mmengine adds to the dicts of a base config read from mmdet."""
    if isinstance(value, dict):
        return {k: _unscoped(v) for k, v in value.items() if k != '_scope_'}
    if isinstance(value, (list, tuple)):
        return type(value)(_unscoped(v) for v in value)
    return value


def test_runtime_is_mmdets_with_our_differences():
    init_default_scope('mmdet')
    ours = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'default_runtime.py'))
    import mmdet
    mmdet = Config.fromfile(osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', '_base_', 'default_runtime.py'))
    assert ours.custom_imports == dict(imports=['oneformer'], allow_failed_imports=False)
    assert ours.custom_hooks == [dict(type='TaskMetricsSummaryHook')]
    assert ours.visualizer.type == 'OneFormerVisualizer' and ours.log_processor.by_epoch is False
    assert ours.visualizer.min_draw_size == 512  # --show-dir enlarges small images
    ckpt = ours.default_hooks.checkpoint
    assert (ckpt.type, ckpt.by_epoch, ckpt.interval, ckpt.max_keep_ckpts, ckpt.save_last) == (
        'AtomicCheckpointHook', False, 5000, 3, True)  # d2 CHECKPOINT_PERIOD 5000; crash-safe saving
    for key in ('default_scope', 'env_cfg', 'vis_backends', 'log_level', 'load_from', 'resume'):
        assert _unscoped(ours[key]) == mmdet[key], key
    for hook in ('timer', 'logger', 'param_scheduler', 'sampler_seed', 'visualization'):
        assert _unscoped(ours.default_hooks[hook]) == mmdet.default_hooks[hook], hook


def test_shared_blocks_are_written_once():
    """Configs inherit instead of copying: the large backbones live in _base_/models/, the loader body of the
    oneformer_unified datasets in _base_/datasets/oneformer_panoptic_base.py, the runtime comes from mmdet."""
    base = osp.join(REPO, 'configs', '_base_')

    def read(path):
        with open(path, encoding='utf-8') as f:
            return f.read()

    # the small Swin-T / ConvNeXt-T backbones are used by one config each, which declares them itself
    own_backbone = {'oneformer_swin-t-p4-w7-224_8xb2-160k_ade20k-panoptic-512x512.py',
                    'oneformer_convnext-t-mmpretrain_8xb2-160k_ade20k-panoptic-512x512.py'}
    for name in set(CONFIGS) - own_backbone:
        text = read(osp.join(CFG_DIR, name))
        for block in ("type='SwinTransformer'", "type='mmpretrain.ConvNeXt'", "type='DiNAT'"):
            assert block not in text, (name, block)
    for family in ('swin-l', 'convnext-l', 'convnext-xl', 'dinat-l'):
        text = read(osp.join(base, 'models', f'oneformer_{family}.py'))
        assert f"_base_ = ['./oneformer_r50.py', './backbones/{family}.py']" in text, family
    # the zoo configs of a dataset inherit its recipe and swap the backbone (mmdet's mask2former_swin-* pattern)
    for name in set(CONFIGS) - own_backbone - {DEMO}:
        text = read(osp.join(CFG_DIR, name))
        assert 'panoptic_fusion_head=' not in text and 'max_per_image=' not in text, name  # follow the head
        if '_base_/models/backbones/' in text:
            assert "_base_ = ['./oneformer_" in text, name
    for dataset in ('ade20k_panoptic.py', 'cityscapes_panoptic.py', 'mapillary_panoptic.py', 'coco_panoptic.py',
                    'synthetic_panoptic.py'):
        text = read(osp.join(base, 'datasets', dataset))
        assert "_base_ = './oneformer_panoptic_base.py'" in text and 'persistent_workers' not in text, dataset
    assert read(osp.join(base, 'default_runtime.py')).count("_base_ = 'mmdet::_base_/default_runtime.py'") == 1


# ---------------------------------------------------------------------------------------------- building models
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
    assert {'task', 'text_tokens'} <= set(pack.meta_keys) and 'task_tokens' not in pack.meta_keys
    assert cfg.train_dataloader.dataset.pipeline == cfg.train_pipeline
    assert cfg.val_dataloader.dataset.pipeline == cfg.test_pipeline
    meta = _dataset_meta(cfg.train_dataloader.dataset)
    things, stuff = len(meta['thing_classes']), len(meta['stuff_classes'])
    # the fusion head and the instance top-k follow the head unless set (OneFormer.follow_head_sizes)
    fusion, test_cfg = MODELS.get('OneFormer').follow_head_sizes(m.panoptic_head, m.panoptic_fusion_head, m.test_cfg)
    for part in (m.panoptic_head, fusion, cfg):
        assert (part.num_things_classes, part.num_stuff_classes) == (things, stuff)
    assert not {'num_queries', 'num_text_ctx', 'num_things_classes', 'num_stuff_classes'} & set(targets)
    assert m.panoptic_head.num_queries == test_cfg.max_per_image  # the query count lives in the model only
    return meta


def _official_resize(h, w, short, long):
    """detectron2 ResizeShortestEdge(short, max_size=long) output size."""
    scale = short / min(h, w)
    if max(h, w) * scale > long:
        scale = long / max(h, w)
    return int(h * scale + 0.5), int(w * scale + 0.5)


_PIPELINE_RUNS = {}


def _run_pipelines(name, cfg, meta, tmp_path_factory):
    """Train / test pipeline outputs on a generated sample; configs with the same pipelines share one run."""
    ds_cfg = cfg.train_dataloader.dataset
    key = repr((ds_cfg.type, cfg.train_pipeline, cfg.test_pipeline))
    if key in _PIPELINE_RUNS:
        return _PIPELINE_RUNS[key]
    shape = IMAGE_SHAPES.get(ds_cfg.type, (48, 64))
    root = str(tmp_path_factory.mktemp('data'))
    generate_synthetic_panoptic(root, num_train=1, num_val=1, img_size=shape, seed=0,
                                thing_classes=meta['thing_classes'], stuff_classes=meta['stuff_classes'])
    train = Compose([TRANSFORMS.build(t) for t in copy.deepcopy(cfg.train_pipeline)])
    test = Compose([TRANSFORMS.build(t) for t in copy.deepcopy(cfg.test_pipeline)])
    random.seed(0)
    np.random.seed(0)
    out = train(_data_info(ds_cfg, root, 'train', meta))
    val = test(_data_info(cfg.val_dataloader.dataset, root, 'val', meta))
    _PIPELINE_RUNS[key] = (shape, out, val)
    return _PIPELINE_RUNS[key]


def _shrunk_backbone(bb):
    """The backbone with one block per stage (widths, heads, kernels kept): builds and runs in a blink."""
    bb = copy.deepcopy(bb)
    bb.init_cfg = None
    if bb.type == 'SwinTransformer':
        bb.depths = [1] * len(bb.depths)
    elif bb.type == 'mmpretrain.ConvNeXt':
        from mmpretrain.models import ConvNeXt
        channels = ConvNeXt.arch_settings[bb.arch]['channels'] if isinstance(bb.arch, str) else bb.arch['channels']
        bb.arch = dict(depths=[1] * len(channels), channels=channels)
    elif bb.type == 'DiNAT':
        # dilation 1: at dilation d the attention pads small maps to (kernel * d)^2 tokens
        bb.depths, bb.dilations = [1] * len(bb.depths), [[1]] * len(bb.depths)
    elif bb.type in VIT_TYPES:  # plain ViTs: one block of the real width
        from mmpretrain.registry import MODELS as MMPT_MODELS
        arch = dict(MMPT_MODELS.get(bb.type.split('.')[1]).arch_zoo[bb.arch], num_layers=1)
        if 'global_attn_indexes' in arch:
            arch['global_attn_indexes'] = [0]
        bb.arch = arch
    return bb


_SHRUNK_MODELS, _CHECKED_BACKBONES = {}, set()


def _shrunk_model(model_cfg):
    """Build the model with a shrunk backbone and check its feature maps feed the head. Returns the head's (classes,
    queries, text context vectors) and the shapes of the state dict. Configs whose models differ only in test
    settings or batch padding share one build; each backbone runs once."""
    model_cfg = copy.deepcopy(model_cfg)
    model_cfg.backbone = _shrunk_backbone(model_cfg.backbone)
    key = repr({k: v for k, v in model_cfg.items() if k not in ('test_cfg', 'data_preprocessor')})
    if key not in _SHRUNK_MODELS:
        model = MODELS.build(model_cfg)
        if repr(model_cfg.backbone) not in _CHECKED_BACKBONES:
            _check_backbone_channels(model, model.panoptic_head.in_channels)
            _CHECKED_BACKBONES.add(repr(model_cfg.backbone))
        head = model.panoptic_head
        _SHRUNK_MODELS[key] = ((head.num_classes, head.num_queries, head.text_mapper.num_ctx, head.in_channels),
                               {k: tuple(v.shape) for k, v in model.state_dict().items()})
        del model, head
        gc.collect()
    return _SHRUNK_MODELS[key]


def _check_backbone_channels(model, in_channels):
    """The backbone's (+ neck's) 4 feature maps have the head's in_channels at strides 4..32."""
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.zeros(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == list(in_channels)
    assert [64 // f.shape[-1] for f in feats] == [4, 8, 16, 32]


@pytest.mark.slow
@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_model_and_runs_its_pipelines(name, tmp_path_factory):
    cfg = _load(name)
    assert cfg.default_scope == 'mmdet' and 'oneformer' in cfg.custom_imports.imports
    meta = _check_consistency(cfg)

    # ---- data: a synthetic panoptic sample with the dataset's classes, read by the config's dataset class
    shape, out, val = _run_pipelines(name, cfg, meta, tmp_path_factory)
    img, sample = out['inputs'], out['data_samples']
    crop_w, crop_h = cfg.get('crop_size') or cfg.get('image_size')  # mmdet sizes are (w, h)
    assert img.shape[0] == 3 and img.shape[1] <= crop_h and img.shape[2] <= crop_w
    labels = sample.gt_instances.labels
    assert len(labels) > 0 and (labels < len(meta['classes'])).all()
    assert tuple(sample.gt_instances.masks.masks.shape[1:]) == tuple(img.shape[1:])
    # one text entry per target; the head pads / truncates the list to num_queries - N_ctx itself
    assert sample.text_tokens.shape == (len(labels), 77)

    # ---- model with one block per backbone stage (the full-size families are built below)
    (num_classes, num_queries, num_ctx, in_channels), _ = _shrunk_model(cfg.model)
    assert num_classes == len(meta['classes']) and num_queries == cfg.num_queries
    if name in PAPER:  # found from the (shrunk: same widths) backbone: the official channels
        assert in_channels == PAPER[name]['backbone']['in_channels']
    elif name in VIT_RECIPES:  # the simple feature pyramid's 4 levels
        assert in_channels == [cfg.model.neck.out_channels] * 4
    assert num_ctx == 16 or name == DEMO  # TEXT_ENCODER.N_CTX
    preprocessor = MODELS.build(cfg.model.data_preprocessor)
    batch = preprocessor(dict(inputs=[img], data_samples=[sample]), training=True)
    inputs = batch['inputs']
    assert inputs.shape[-2] % 32 == 0 and inputs.shape[-1] % 32 == 0
    exp = PAPER.get(name)
    if exp and exp['pad']:  # INPUT.SIZE_DIVISIBILITY = crop (ADE20K, Mapillary) / LSJ: padded to the crop
        assert tuple(inputs.shape[-2:]) == exp['pad']
    (padded, ) = batch['data_samples']
    assert tuple(padded.gt_instances.masks.masks.shape[1:]) == tuple(inputs.shape[-2:])

    # ---- test pipeline: resized like the official test mapper, ground truth at the original size, no text list
    vimg, vsample = val['inputs'], val['data_samples']
    assert vsample.ori_shape == shape
    assert tuple(vsample.gt_sem_seg.sem_seg.shape[1:]) == shape
    assert 'text_tokens' not in vsample  # the task comes from the model's test_cfg
    if exp:
        assert tuple(vimg.shape[1:]) == _official_resize(*shape, *exp['test'])  # MIN_SIZE_TEST, MAX_SIZE_TEST


def dinat_pairs(depths):
    """Official D2DiNAT names (spec sec. 1.2.1 / 6.1) -> ours: the same names (our DiNAT keeps the module tree)."""
    names = [f'patch_embed.proj.{i}.{p}' for i in (0, 1) for p in ('weight', 'bias')]
    names += ['patch_embed.norm.weight', 'patch_embed.norm.bias']
    for s, depth in enumerate(depths):
        for b in range(depth):
            blk = f'levels.{s}.blocks.{b}'
            for sub in ('norm1', 'attn.qkv', 'attn.proj', 'norm2', 'mlp.fc1', 'mlp.fc2'):
                names += [f'{blk}.{sub}.weight', f'{blk}.{sub}.bias']
            names.append(f'{blk}.attn.rpb')
        if s < len(depths) - 1:  # conv 3x3 stride 2 without bias + LayerNorm
            names += [f'levels.{s}.downsample.reduction.weight'] + [f'levels.{s}.downsample.norm.{p}'
                                                                   for p in ('weight', 'bias')]
    names += [f'norm{i}.{p}' for i in range(len(depths)) for p in ('weight', 'bias')]
    return [(f'backbone.{n}', f'backbone.{n}') for n in names]


def _official_backbone_shapes(bb, in_channels):
    """Shapes of official backbone tensors (spec sec. 1.2 / 6.1), independent of our modules."""
    c0 = in_channels[0]
    if bb.type == 'SwinTransformer':
        return {'backbone.patch_embed.projection.weight': (c0, 3, 4, 4),
                'backbone.stages.2.blocks.0.attn.w_msa.relative_position_bias_table':
                ((2 * bb.window_size - 1)**2, bb.num_heads[2])}
    if bb.type == 'mmpretrain.ConvNeXt':
        return {'backbone.downsample_layers.0.0.weight': (c0, 3, 4, 4),
                'backbone.stages.2.0.depthwise_conv.weight': (in_channels[2], 1, 7, 7),
                'backbone.stages.2.0.gamma': (in_channels[2], )}
    k = bb.kernel_size
    return {'backbone.patch_embed.proj.0.weight': (c0 // 2, 3, 3, 3),
            'backbone.patch_embed.proj.1.weight': (c0, c0 // 2, 3, 3),
            'backbone.levels.2.blocks.0.attn.rpb': (bb.num_heads[2], 2 * k - 1, 2 * k - 1),
            'backbone.levels.0.downsample.reduction.weight': (2 * c0, c0, 3, 3),
            'backbone.levels.1.blocks.0.mlp.fc1.weight': (int(2 * c0 * bb.mlp_ratio), 2 * c0)}


def _check_official_checkpoint_loads(model, bb, in_channels):
    """An official-layout checkpoint (detectron2 names, official depths and layer counts) converts without leftovers
    and loads strictly; the official tensor sizes are checked on the model independently."""
    sd = model.state_dict()
    c, n = 256, model.panoptic_head.num_queries
    official_shapes = {  # spec sec. 1 / 6: hidden 256, text width 256, 77 tokens, CLIP vocab, N_ctx 16
        'panoptic_head.query_embed.weight': (n, c),
        'panoptic_head.cls_embed.weight': (model.panoptic_head.num_classes + 1, c),
        'panoptic_head.text_mapper.prompt_ctx.weight': (16, c),
        'panoptic_head.text_mapper.text_encoder.token_embedding.weight': (49408, 256),
        'panoptic_head.text_mapper.text_encoder.positional_embedding': (77, 256),
        'panoptic_head.task_encoder.task_mlp.layers.0.weight': (c, 77),
        'panoptic_head.pixel_decoder.input_convs.0.conv.weight': (c, in_channels[3], 1, 1),  # res5
        'panoptic_head.pixel_decoder.lateral_convs.0.conv.weight': (c, in_channels[0], 1, 1),  # res2
        'backbone.norm3.weight': (in_channels[3], ),
        **_official_backbone_shapes(bb, in_channels),
    }
    for key, shape in official_shapes.items():
        assert tuple(sd[key].shape) == shape, key
    kind = {'SwinTransformer': 'swin', 'mmpretrain.ConvNeXt': 'convnext', 'DiNAT': 'dinat'}[bb.type]
    depths = bb.depths if kind != 'convnext' else {'large': (3, 3, 27, 3), 'xlarge': (3, 3, 27, 3)}[bb.arch]
    backbone = dict(swin=swin_pairs, convnext=convnext_pairs, dinat=dinat_pairs)[kind](depths)
    pairs = backbone + head_pairs(enc_layers=6, dec_layers=9, qt_layers=2, text_layers=6)  # ENC 6, DEC_LAYERS 10
    missing = sorted({dst for _, dst in pairs} - set(sd))
    assert not missing, f'official tensors without a place in the model: {missing[:5]}'
    leftover = sorted(set(sd) - {dst for _, dst in pairs} - {k for k in sd if k.endswith('relative_position_index')})
    assert not leftover, f'model tensors the official checkpoint does not have: {leftover[:5]}'
    # expanded scalars: the shapes of a real checkpoint without its memory
    official = {src: torch.zeros(()).expand(sd[dst].shape) for src, dst in pairs}
    if kind == 'swin':
        for key in [s for s, _ in pairs if s.endswith('relative_position_bias_table')]:
            official[key.replace('bias_table', 'index')] = official_swin_relative_position_index(bb.window_size)
    conv, detected = convert_d2_checkpoint(dict(model=official))
    assert detected == kind and conv.unconsumed == []
    result = model.load_state_dict(conv.state_dict, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


@pytest.mark.slow
@pytest.mark.parametrize('family', sorted(FULL_SIZE))
def test_full_size_model_has_the_official_size_and_checkpoint_layout(family):
    name = FULL_SIZE[family]
    cfg, bb = _load(name), PAPER[name]['backbone']
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    # the official "#params" is the inference model (MODEL.IS_TRAIN False: no text mapper)
    inference = sum(p.numel() for n, p in model.named_parameters() if '.text_mapper.' not in n)
    assert round(inference / 1e6) == bb['params'], inference
    _check_official_checkpoint_loads(model, cfg.model.backbone, bb['in_channels'])
    del model
    gc.collect()


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(n for n, p in PAPER.items() if p.get('load_from')))
def test_pretraining_checkpoint_fits_except_the_class_head(name):
    """Fine-tuning configs start from the model of their pre-training config: same tensors and shapes, except the
    class head (another dataset's classes), which mmengine's load_from skips."""
    (_, ours), (_, pretrained) = (_shrunk_model(_load(n).model) for n in (name, PAPER[name]['load_from'][1]))
    assert set(ours) == set(pretrained)
    differ = sorted(k for k in ours if ours[k] != pretrained[k])
    assert differ == ['panoptic_head.cls_embed.bias', 'panoptic_head.cls_embed.weight']


@pytest.mark.parametrize('name', sorted(VIT_RECIPES))
def test_foundation_vit_recipes(name):
    """ADE20K-640 data, schedule, queries and thresholds of the Swin-L config; a plain ViT from the named mmpretrain
    checkpoint (its URL as in mmpretrain's metafile), the simple feature pyramid, no hand-written in_channels, layer
    decay on top of the project's optimizer rules."""
    import mmpretrain
    cfg, exp = _load(name), VIT_RECIPES[name]
    ref = _load(f'oneformer_{SL}_8xb2-160k_ade20k-panoptic-640x640.py')
    for key in ('train_pipeline', 'test_pipeline', 'train_dataloader', 'val_evaluator', 'param_scheduler',
                'train_cfg', 'num_queries'):
        assert cfg[key] == ref[key], key
    m = cfg.model
    for key in ('panoptic_fusion_head', 'test_cfg', 'train_cfg'):
        assert m[key] == ref.model[key], key
    assert m.panoptic_head.num_queries == 250 and m.panoptic_head.in_channels is None
    assert m.data_preprocessor.batch_augments == ref.model.data_preprocessor.batch_augments
    assert cfg.custom_imports.imports == ['oneformer', 'mmpretrain.models']

    bb = m.backbone
    assert (bb.type, bb.arch, bb.patch_size, bb.out_type) == (exp['type'], exp['arch'], exp['patch'], 'featmap')
    folder, model_name = exp['model']
    with open(osp.join(osp.dirname(mmpretrain.__file__), '.mim', 'configs', folder, 'metafile.yml')) as f:
        (entry, ) = [e for e in yaml.safe_load(f)['Models'] if e['Name'] == model_name]
    assert bb.init_cfg == dict(type='Pretrained', checkpoint=entry['Weights'], prefix='backbone.')
    with open(osp.join(CFG_DIR, name), encoding='utf-8') as f:
        assert model_name in f.read()  # the comment names the mmpretrain model
    assert m.neck == dict(type='SimpleFeaturePyramid', out_channels=256)
    if folder == 'eva02':  # CLIP's pixel statistics, as EVA-02 was pre-trained
        assert m.data_preprocessor.mean == [122.771, 116.746, 104.094]
    assert m.backbone_checkpoint == (exp['arch'] == 'l')

    ow = cfg.optim_wrapper
    assert ow.constructor == 'LayerDecayOptimWrapperConstructor' and ow.type == ref.optim_wrapper.type
    assert ow.paramwise_cfg.layer_decay_rate == exp['decay']
    assert ow.paramwise_cfg.custom_keys['backbone'] == dict(lr_mult=1.0, decay_mult=1.0)
    assert (ow.optimizer, ow.clip_grad) == (ref.optim_wrapper.optimizer, ref.optim_wrapper.clip_grad)
    assert ow.paramwise_cfg.norm_decay_mult == 0.0 and ow.paramwise_cfg.embed_decay_mult == 0.0


# ------------------------------------------------------------------------------------------------ documentation
def _fmt(x):
    return f'{x:.1f}'


def test_readme_metafile_and_model_index_quote_the_published_numbers():
    with open(osp.join(CFG_DIR, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    with open(osp.join(CFG_DIR, 'metafile.yml'), encoding='utf-8') as f:
        meta = yaml.safe_load(f)
    with open(osp.join(REPO, 'model-index.yml'), encoding='utf-8') as f:
        assert yaml.safe_load(f) == dict(Import=['configs/oneformer/metafile.yml'])
    models = {m['Name']: m for m in meta['Models']}
    assert set(models) == {osp.splitext(c)[0] for c in CONFIGS}
    for name in CONFIGS:
        entry = models[osp.splitext(name)[0]]
        assert entry['Config'] == f'configs/oneformer/{name}' and entry['In Collection'] == 'OneFormer'
        assert entry['Metadata']['Batch Size'] == (4 if name == DEMO else 16)
        if name in PAPER:
            assert entry['Metadata']['Iterations'] == PAPER[name]['max_iters']
        assert f'(./{name})' in readme, name
    for name, (ckpt, pq, ap, miou, ms, params) in PUBLISHED.items():
        entry = models[osp.splitext(name)[0]]
        assert entry['Converted From']['Weights'] == CKPT_URL + ckpt
        metrics = {}
        for result in entry['Results']:
            metrics.update(result['Metrics'])
        expected = {'PQ': pq, 'mask AP': ap, 'mIoU': miou, 'mIoU(ms+flip)': ms}
        if name in COCO_PQ_TH_ST:
            expected['PQ_th'], expected['PQ_st'] = COCO_PQ_TH_ST[name]
        assert metrics == {k: v for k, v in expected.items() if v is not None}, name
        # the README row: config link, checkpoint, the numbers in order, the paper's #params
        rows = [line for line in readme.splitlines() if line.startswith('|') and f'(./{name})' in line]
        (row, ) = [line for line in rows if f'{CKPT_URL}{ckpt}' in line]
        cells = [c.strip() for c in row.split('|')]
        numbers = [c for c in cells if re.fullmatch(r'\d+\.\d', c)]
        assert numbers[:4] == [_fmt(v) for v in (pq, ap, miou, ms) if v is not None], (name, numbers)
        assert f'{params}M' in cells, name
    assert 'not reproduced here' in readme and 'count_params.py' in readme
    assert 'oneformer_d2_to_mm.py' in readme and 'oneformer_hf_to_mm.py' in readme


def test_count_params_tool(capsys):
    """tools/analysis_tools/count_params.py on the demo config: one markdown row, the parts adding up."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('count_params', osp.join(REPO, 'tools', 'analysis_tools',
                                                                           'count_params.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main([osp.join(CFG_DIR, DEMO), '--unit', 'exact']) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith('| oneformer_')]
    (row, ) = rows
    backbone, head, text, inference, training = map(int, row.split('|')[2:7])
    cfg = _load(DEMO)
    model = MODELS.build(cfg.model)
    total = sum(p.numel() for p in model.parameters())
    assert training == total and inference == backbone + head and training == inference + text
    assert backbone == sum(p.numel() for p in model.backbone.parameters())
    assert text == sum(p.numel() for p in model.panoptic_head.text_mapper.parameters()) > 0
    assert tool.main([osp.join(CFG_DIR, 'no_such_config.py')]) == 1
