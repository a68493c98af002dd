"""Checkpoint converters: HF transformers and official detectron2 OneFormer weights -> this project's layout.

Non-backbone keys: one official -> ours table (:mod:`.head`); HF names are first renamed to official ones. Backbones
likewise (:mod:`.backbones`). Configs: from the HF ``config.json`` (:mod:`.hf_config`) or the official yaml
(:mod:`.d2_config`), written next to the weights by :mod:`.config_files`.

The CLIs are ``tools/model_converters/oneformer_hf_to_mm.py`` and ``tools/model_converters/oneformer_d2_to_mm.py``.
"""
from .backbones import (
                        convnext_hf_to_mm,
                        convnext_official_to_mm,
                        detect_official_backbone,
                        dinat_hf_to_mm,
                        dinat_official_to_mm,
                        resnet_d2_to_mm,
                        resnet_hf_to_mm,
                        swin_hf_to_mm,
                        swin_official_to_mm,
                        swin_relative_position_index,
)
from .classes import (
                        dataset_meta,
                        load_class_info,
                        official_classes,
                        plan_classes,
                        reorder_class_head,
                        things_first_order,
)
from .common import Conversion, RenameRules, fuse_qkv
from .config_files import (
                        BUILTIN_DATASETS,
                        DatasetChoice,
                        config_text,
                        configs_root,
                        format_value,
                        repo_base_configs,
                        resolve_dataset,
                        write_converted,
)
from .d2 import convert_d2_checkpoint, convert_d2_with_config
from .d2_config import OfficialConfig, load_official_yaml, official_model_cfg
from .head import HF_TO_OFFICIAL, OFFICIAL_TO_OURS, hf_head_to_mm, hf_head_to_official, official_head_to_mm
from .hf import convert_hf_dir, convert_hf_state_dict, load_hf_dir
from .hf_config import backbone_cfg, model_cfg
from .model_config import UnsupportedConfig

__all__ = [
    'Conversion', 'RenameRules', 'fuse_qkv', 'swin_official_to_mm', 'swin_hf_to_mm', 'convnext_official_to_mm',
    'convnext_hf_to_mm', 'resnet_d2_to_mm', 'resnet_hf_to_mm', 'dinat_official_to_mm', 'dinat_hf_to_mm',
    'detect_official_backbone', 'swin_relative_position_index', 'load_class_info', 'things_first_order',
    'reorder_class_head', 'dataset_meta', 'official_classes', 'plan_classes', 'OFFICIAL_TO_OURS', 'HF_TO_OFFICIAL',
    'official_head_to_mm', 'hf_head_to_official', 'hf_head_to_mm', 'convert_d2_checkpoint', 'convert_d2_with_config',
    'load_official_yaml', 'OfficialConfig', 'official_model_cfg', 'convert_hf_dir', 'convert_hf_state_dict',
    'load_hf_dir', 'backbone_cfg', 'model_cfg', 'UnsupportedConfig', 'BUILTIN_DATASETS', 'DatasetChoice',
    'configs_root', 'repo_base_configs', 'resolve_dataset', 'write_converted', 'config_text', 'format_value'
]
