"""Checkpoint converters: HF transformers and official detectron2 OneFormer weights -> this project's layout.

The CLIs are ``tools/model_converters/oneformer_hf_to_mm.py`` and ``tools/model_converters/oneformer_d2_to_mm.py``.
"""
from .backbones import (convnext_hf_to_mm, convnext_official_to_mm, resnet_d2_to_mm, resnet_hf_to_mm,
                        swin_hf_to_mm, swin_official_to_mm, swin_relative_position_index)
from .classes import dataset_meta, load_class_info, reorder_class_head, things_first_order
from .common import Conversion, RenameRules, fuse_qkv
from .d2 import convert_d2_checkpoint
from .hf import convert_hf_dir, convert_hf_state_dict, load_hf_dir
from .hf_config import backbone_cfg, model_cfg

__all__ = [
    'Conversion', 'RenameRules', 'fuse_qkv', 'swin_official_to_mm', 'swin_hf_to_mm', 'convnext_official_to_mm',
    'convnext_hf_to_mm', 'resnet_d2_to_mm', 'resnet_hf_to_mm', 'swin_relative_position_index', 'load_class_info',
    'things_first_order', 'reorder_class_head', 'dataset_meta', 'convert_d2_checkpoint', 'convert_hf_dir',
    'convert_hf_state_dict', 'load_hf_dir', 'backbone_cfg', 'model_cfg'
]
