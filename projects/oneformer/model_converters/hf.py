"""HF ``OneFormerForUniversalSegmentation`` checkpoint -> our mmdet-layout state dict (+ config).

Handles transformers 4.x key names (the hub checkpoints) and 5.x names (``swin.`` backbone prefix,
``attention.q_proj`` ...), with or without the ``model.`` prefix of the task model. HF names are renamed to the
official ones first (:mod:`.head`, :mod:`.backbones`), then the official -> ours tables do the rest.
"""
import json
import os.path as osp
import re
from collections import OrderedDict
from typing import Dict, Optional, Tuple

import torch

from .backbones import convnext_hf_to_mm, dinat_hf_to_mm, resnet_hf_to_mm, swin_hf_to_mm
from .classes import load_class_info, official_classes, plan_classes, reorder_class_head
from .common import Conversion, StateDict, split_prefix
from .config_files import resolve_dataset, write_converted
from .head import hf_head_to_mm
from .hf_config import model_cfg, preprocessor_cfg, preprocessor_test_size

BACKBONE_PREFIX = 'pixel_level_module.encoder.'
BACKBONES = dict(swin=swin_hf_to_mm, convnext=convnext_hf_to_mm, resnet=resnet_hf_to_mm, dinat=dinat_hf_to_mm)


def load_hf_dir(hf_dir: str) -> Tuple[Dict, StateDict]:
    """``config.json`` and the weights (``model.safetensors``, sharded safetensors or ``pytorch_model.bin``).

    Args:
        hf_dir (str): A directory written by ``save_pretrained``.

    Raises:
        FileNotFoundError: No ``config.json`` or no weights file.
        ValueError: ``config.json`` is not a OneFormer's.
    """
    cfg_path = osp.join(hf_dir, 'config.json')
    if not osp.isfile(cfg_path):
        raise FileNotFoundError(f'{cfg_path} not found: HF_DIR must be a saved OneFormerForUniversalSegmentation')
    with open(cfg_path, encoding='utf-8') as f:
        config = json.load(f)
    if config.get('model_type') != 'oneformer':
        raise ValueError(f'{cfg_path}: model_type is {config.get("model_type")!r}, expected "oneformer"')
    single = osp.join(hf_dir, 'model.safetensors')
    index = osp.join(hf_dir, 'model.safetensors.index.json')
    binary = osp.join(hf_dir, 'pytorch_model.bin')
    if osp.isfile(single) or osp.isfile(index):
        from safetensors.torch import load_file
        if osp.isfile(single):
            files = [single]
        else:
            with open(index, encoding='utf-8') as f:
                files = [osp.join(hf_dir, s) for s in sorted(set(json.load(f)['weight_map'].values()))]
        sd = OrderedDict()
        for path in files:
            sd.update(load_file(path))
    elif osp.isfile(binary):
        sd = torch.load(binary, map_location='cpu', weights_only=True)
    else:
        raise FileNotFoundError(f'no model.safetensors(.index.json) or pytorch_model.bin in {hf_dir}')
    return config, sd


def strip_task_prefix(sd: StateDict) -> StateDict:
    """``model.*`` of OneFormerForUniversalSegmentation -> OneFormerModel names (``criterion.*`` stays).

    Args:
        sd (dict): HF state dict, with or without the ``model.`` prefix.
    """
    if not any(k.startswith('model.') for k in sd):
        return OrderedDict(sd)
    return OrderedDict((k[len('model.'):] if k.startswith('model.') else k, v) for k, v in sd.items())


def convert_hf_state_dict(sd: StateDict, backbone_type: str, with_text: bool) -> Conversion:
    """Rename an HF state dict (4.x or 5.x names) to ours: HF -> official names -> ours.

    Args:
        sd (dict): HF state dict.
        backbone_type (str): ``config.backbone_config.model_type`` ('swin', 'convnext', 'resnet' or 'dinat').
        with_text (bool): Keep the text mapper and contrastive logit scale (else ``criterion.logit_scale`` is
            dropped with a note; text-mapper keys would be reported as unconsumed).

    Returns:
        Conversion: Our tensors, the HF keys no rule knows, notes on the keys dropped on purpose.
    """
    if backbone_type not in BACKBONES:
        raise ValueError(f'backbone model_type {backbone_type!r} is not supported (supported: {sorted(BACKBONES)})')
    sd = strip_task_prefix(sd)
    out = BACKBONES[backbone_type](split_prefix(sd, BACKBONE_PREFIX), prefix='model.' + BACKBONE_PREFIX)
    rest = OrderedDict((k, v) for k, v in sd.items() if not k.startswith(BACKBONE_PREFIX))
    if not with_text and 'criterion.logit_scale' in rest:
        rest.pop('criterion.logit_scale')
        out.notes.append('criterion.logit_scale: no text mapper in the checkpoint, so no contrastive loss')
    return out.merge(hf_head_to_mm(rest))


def has_text_weights(sd: StateDict) -> bool:
    """Whether an HF state dict carries the text mapper (training checkpoints; the hub ones do not)."""
    return any(re.match(r'(model\.)?text_mapper\.', k) for k in sd)


def _source_classes(config: Dict, num_classes: int, class_info: Optional[str], dataset: Optional[str],
                    num_things: Optional[int]):
    """Class names and thing indices in the checkpoint's order: ``class_info`` > the official order of a built-in
    ``dataset`` > ``config.id2label`` / ``num_things``."""
    if class_info is not None:
        names, thing_ids = load_class_info(class_info)
        if len(names) != num_classes:
            raise ValueError(f'{class_info} lists {len(names)} classes; the checkpoint has {num_classes}')
        return names, thing_ids
    official = official_classes(dataset) if dataset is not None else None
    if official is not None:
        names, thing_ids = official
        if len(names) != num_classes:
            raise ValueError(f'the checkpoint has {num_classes} classes, official {dataset} checkpoints {len(names)}')
        return names, thing_ids
    id2label = {int(k): v for k, v in (config.get('id2label') or {}).items()}
    names = [id2label[i] for i in range(num_classes)] if sorted(id2label) == list(range(num_classes)) else None
    thing_ids = None
    if num_things is not None:
        if not 0 <= num_things <= num_classes:
            raise ValueError(f'--num-things {num_things} is outside 0..{num_classes}')
        thing_ids = list(range(num_things))
    return names, thing_ids


def convert_hf_dir(hf_dir: str, out_dir: str, class_info: Optional[str] = None, num_things: Optional[int] = None,
                   object_mask_thr: Optional[float] = None, iou_thr: float = 0.8, strict: bool = False,
                   dataset: Optional[str] = None) -> Conversion:
    """Write ``out_dir/model.pth`` and ``out_dir/config.py`` for a saved HF OneFormer.

    Classes: names from ``class_info``, else the official order of a built-in ``dataset`` (the hub checkpoints
    number classes like the official ones), else ``config.id2label``; the thing/stuff split likewise, else
    ``num_things`` (the first N classes are things), else every class is a thing. Without ``dataset`` the thing
    classes are moved first (our convention); with it our classes are the dataset's, matched by name. The class
    head rows are permuted accordingly.

    Args:
        hf_dir (str): A saved ``OneFormerForUniversalSegmentation`` (``config.json`` + weights).
        out_dir (str): Output folder.
        class_info (str, optional): Class-info JSON (see :func:`load_class_info`).
        num_things (int, optional): The first N classes are things (ignored with ``class_info``).
        object_mask_thr (float, optional): Panoptic / instance score threshold; defaults to the official value of
            a built-in ``dataset``, else HF's post-processing default 0.5.
        iou_thr (float): Panoptic overlap threshold (HF and official: 0.8).
        strict (bool): Raise on HF keys the converter does not know.
        dataset (str, optional): 'coco', 'ade20k', 'cityscapes', 'mapillary' or a dataset config file: the
            written config inherits it (plus a schedule and the runtime) so that ``tools/test.py`` evaluates it.
            Without it the config holds the model only (inference).

    Returns:
        Conversion: What was converted, reported and dropped.
    """
    config, sd = load_hf_dir(hf_dir)
    with_text = has_text_weights(sd)
    conv = convert_hf_state_dict(sd, config['backbone_config'].get('model_type'), with_text)
    if conv.unconsumed and strict:
        raise KeyError(f'{len(conv.unconsumed)} HF keys not converted: {conv.unconsumed}')
    processor = None
    processor_path = osp.join(hf_dir, 'preprocessor_config.json')
    if osp.isfile(processor_path):
        with open(processor_path, encoding='utf-8') as f:
            processor = json.load(f)
    test_size = preprocessor_test_size(processor)
    choice = resolve_dataset(dataset, test_size[0] if test_size else None) if dataset is not None else None

    num_classes = conv.state_dict['panoptic_head.cls_embed.weight'].shape[0] - 1
    names, thing_ids = _source_classes(config, num_classes, class_info, choice.name if choice else None, num_things)
    order, meta = plan_classes(num_classes, names, thing_ids, choice.metainfo if choice else None,
                               what=f'{hf_dir} vs --dataset {dataset}')
    conv.state_dict = reorder_class_head(conv.state_dict, order)
    things = len(meta['thing_classes'])

    if object_mask_thr is None:
        object_mask_thr = choice.object_mask_thr if choice and choice.object_mask_thr is not None else 0.5
    model = model_cfg(config, things, num_classes - things, with_text, object_mask_thr, iou_thr)
    norm = preprocessor_cfg(processor)
    if norm:
        model = dict(data_preprocessor=norm, **model)
    header = (f'Converted by tools/model_converters/oneformer_hf_to_mm.py from the HF OneFormer checkpoint\n'
              f'    {osp.abspath(hf_dir)}\n'
              f'{things} thing / {num_classes - things} stuff classes; the class names are in model.pth meta.')
    write_converted(out_dir, conv.state_dict, meta, model, choice, test_size, header,
                    converted_from=osp.abspath(hf_dir), converter='oneformer_hf_to_mm')
    return conv
