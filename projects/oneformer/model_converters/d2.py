"""Official OneFormer (detectron2) checkpoint -> our mmdet-layout state dict.

Source layout: ``backbone.*``, ``sem_seg_head.pixel_decoder.*``, ``sem_seg_head.predictor.*``, ``task_mlp.*``,
training-only ``text_encoder.*`` / ``text_projector.*`` / ``prompt_ctx.*`` and ``criterion.*``. The backbone goes
through :mod:`.backbones`, the rest through the official -> ours table of :mod:`.head`.
"""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from .backbones import (
    convnext_official_to_mm,
    detect_official_backbone,
    dinat_official_to_mm,
    resnet_d2_to_mm,
    swin_official_to_mm,
)
from .classes import load_class_info, official_classes, plan_classes, reorder_class_head
from .common import Conversion, StateDict, split_prefix
from .config_files import DatasetChoice, resolve_dataset, write_converted
from .d2_config import OfficialConfig, load_official_yaml, official_model_cfg
from .head import official_head_to_mm

BACKBONES = dict(swin=swin_official_to_mm, convnext=convnext_official_to_mm, resnet=resnet_d2_to_mm,
                 dinat=dinat_official_to_mm)


def _as_state_dict(ckpt: Dict) -> StateDict:
    """The model state dict of a detectron2 checkpoint (``{'model': ...}``) or a bare state dict; numpy arrays
    (detectron2 pickles) become tensors."""
    sd = ckpt.get('model', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(sd, dict):
        raise ValueError('expected a detectron2 checkpoint dict with a "model" state dict')
    out = OrderedDict()
    for k, v in sd.items():
        if isinstance(v, np.ndarray):
            v = torch.from_numpy(v)
        if not isinstance(v, torch.Tensor):
            raise ValueError(f'checkpoint entry model[{k!r}] is a {type(v).__name__}, not a tensor')
        out[k] = v
    return out


def _legacy_head_names(sd: StateDict) -> Tuple[StateDict, list]:
    """Checkpoints older than the official head's version 2 keep the pixel decoder directly under
    ``sem_seg_head.``; move it under ``sem_seg_head.pixel_decoder.`` as the official loader does."""
    out, notes = OrderedDict(), []
    for k, v in sd.items():
        if k.startswith('sem_seg_head.') and not k.startswith(('sem_seg_head.pixel_decoder.',
                                                               'sem_seg_head.predictor.')):
            new = 'sem_seg_head.pixel_decoder.' + k[len('sem_seg_head.'):]
            notes.append(f'{k}: legacy name, read as {new}')
            k = new
        out[k] = v
    return out, notes


def convert_d2_checkpoint(ckpt: Dict) -> Tuple[Conversion, str]:
    """Convert an official checkpoint's tensors (class order kept).

    Args:
        ckpt (dict): ``{'model': state_dict, ...}`` as detectron2 saves it, or a bare state dict.

    Returns:
        tuple: the :class:`Conversion` (state dict in our names, unconsumed keys, notes) and the backbone kind
        ('swin' | 'convnext' | 'resnet' | 'dinat').
    """
    sd = _as_state_dict(ckpt)
    kind = detect_official_backbone(split_prefix(sd, 'backbone.'))
    out = BACKBONES[kind](split_prefix(sd, 'backbone.'))
    rest, notes = _legacy_head_names(OrderedDict((k, v) for k, v in sd.items() if not k.startswith('backbone.')))
    out.merge(official_head_to_mm(rest))
    out.notes = notes + out.notes
    return out, kind


def checkpoint_sizes(sd: StateDict) -> Dict[str, int]:
    """Sizes a config must match, read from converted tensors (our names)."""
    def count(prefix: str) -> int:
        return len({k[len(prefix):].split('.')[0] for k in sd if k.startswith(prefix)})

    queries, hidden = sd['panoptic_head.query_embed.weight'].shape
    # deformable attention weights: one per head, level (3) and sampling point (4)
    attn = sd.get('panoptic_head.pixel_decoder.encoder.layers.0.self_attn.attention_weights.weight')
    return dict(num_queries=queries, num_classes=sd['panoptic_head.cls_embed.weight'].shape[0] - 1, hidden=hidden,
                decoder_layers=count('panoptic_head.transformer_decoder.layers.'),
                encoder_layers=count('panoptic_head.pixel_decoder.encoder.layers.'),
                encoder_heads=None if attn is None else attn.shape[0] // 12,
                text_layers=count('panoptic_head.text_mapper.text_encoder.transformer.resblocks.'))


def _check_sizes(sd: StateDict, model: Dict, source: str) -> None:
    """The yaml describes this checkpoint: queries, classes, widths and layer counts agree."""
    head = model['panoptic_head']
    text = head.get('text_mapper') or {}
    expected = dict(num_queries=('NUM_OBJECT_QUERIES', head['num_queries']),
                    num_classes=('NUM_CLASSES', head['num_things_classes'] + head['num_stuff_classes']),
                    hidden=('HIDDEN_DIM', head['feat_channels']),
                    decoder_layers=('DEC_LAYERS - 1', head['transformer_decoder']['num_layers']),
                    encoder_layers=('TRANSFORMER_ENC_LAYERS', head['pixel_decoder']['encoder']['num_layers']),
                    encoder_heads=('ONE_FORMER.NHEADS (heads of the pixel decoder)',
                                   head['pixel_decoder']['encoder']['layer_cfg']['self_attn_cfg']['num_heads']),
                    text_layers=('TEXT_ENCODER.NUM_LAYERS', text.get('num_layers', 0)))
    got = checkpoint_sizes(sd)
    wrong = [f'{key} {value} (checkpoint: {got[name]})' for name, (key, value) in expected.items()
             if got[name] is not None and got[name] != value]
    if wrong:
        raise ValueError(f'{source} does not describe this checkpoint: {", ".join(wrong)}')


def _official_source_classes(num_classes: int, class_info: Optional[str], datasets: List[Optional[str]]):
    """Class names / thing ids in the official checkpoint's order: ``class_info`` or the first built-in dataset
    with a known official class list; (None, None) if neither."""
    if class_info is not None:
        names, thing_ids = load_class_info(class_info)
        if len(names) != num_classes:
            raise ValueError(f'{class_info} lists {len(names)} classes; the checkpoint has {num_classes}')
        return names, thing_ids
    for dataset in datasets:
        official = official_classes(dataset) if dataset else None
        if official is not None:
            if len(official[0]) != num_classes:
                raise ValueError(f'the checkpoint has {num_classes} classes, official {dataset} models '
                                 f'{len(official[0])}')
            return official
    return None, None


def reorder_classes(conv: Conversion, class_info: Optional[str] = None, dataset: Optional[str] = None,
                    yaml_dataset: Optional[str] = None, choice: Optional[DatasetChoice] = None) -> Dict:
    """Permute the class head of a converted official checkpoint into our class order; returns ``dataset_meta``.

    Source classes: ``class_info``, else the official order of the built-in ``dataset`` or of the yaml's dataset.
    Our order: the classes of ``choice`` (a resolved ``--dataset``) matched by name, else things first.

    Raises:
        ValueError: The thing / stuff split cannot be known (no class info, no known dataset).
    """
    num_classes = conv.state_dict['panoptic_head.cls_embed.weight'].shape[0] - 1
    names, thing_ids = _official_source_classes(num_classes, class_info, [dataset, yaml_dataset])
    if thing_ids is None and choice is None:
        raise ValueError('cannot tell thing from stuff classes: give --class-info (a JSON with "isthing" flags, e.g. '
                         'the shi-labs/oneformer_demo class-info file of the dataset) or --dataset')
    order, meta = plan_classes(num_classes, names, thing_ids, choice.metainfo if choice else None,
                               what=f'checkpoint vs --dataset {dataset}')
    conv.state_dict = reorder_class_head(conv.state_dict, order)
    return meta


def convert_d2_with_config(ckpt: Dict, out_dir: str, config_yaml: str, class_info: Optional[str] = None,
                           dataset: Optional[str] = None, object_mask_thr: Optional[float] = None,
                           iou_thr: Optional[float] = None, strict: bool = False, source: str = '') -> Conversion:
    """Convert an official checkpoint and write ``out_dir/model.pth`` + ``out_dir/config.py`` from its yaml.

    Args:
        ckpt (dict): The loaded official checkpoint.
        out_dir (str): Output folder.
        config_yaml (str): The official yaml the checkpoint was trained with (``_BASE_`` chain followed).
        class_info (str, optional): Class-info JSON; needed where the yaml's dataset has no class list here
            (Mapillary Vistas, custom data).
        dataset (str, optional): 'coco', 'ade20k', 'cityscapes', 'mapillary' or a dataset config: the written
            config inherits it so that ``tools/test.py`` evaluates it; without it the config is inference-only.
        object_mask_thr (float, optional): Overrides the yaml's ``MODEL.TEST.OBJECT_MASK_THRESHOLD``.
        iou_thr (float, optional): Overrides the yaml's ``MODEL.TEST.OVERLAP_THRESHOLD``.
        strict (bool): Raise on source keys the converter does not know.
        source (str): The checkpoint path, recorded in ``meta``.

    Returns:
        Conversion: What was converted, reported and dropped.

    Raises:
        ValueError: The yaml does not describe the checkpoint (backbone family, sizes), or the classes cannot be
            placed.
        UnsupportedConfig: The yaml has a setting this project cannot reproduce.
    """
    conv, kind = convert_d2_checkpoint(ckpt)
    if conv.unconsumed and strict:
        raise KeyError(f'{len(conv.unconsumed)} source keys not converted: {conv.unconsumed}')
    cfg = OfficialConfig(load_official_yaml(config_yaml), config_yaml)
    choice = resolve_dataset(dataset, cfg.test_size()[0]) if dataset is not None else None
    meta = reorder_classes(conv, class_info, choice.name if choice else None, cfg.dataset(), choice)
    things = len(meta['thing_classes'])
    with_text = any(k.startswith('panoptic_head.text_mapper.') for k in conv.state_dict)
    yaml_kind, model = official_model_cfg(cfg, things, len(meta['classes']) - things, with_text, object_mask_thr,
                                          iou_thr)
    if yaml_kind != kind:
        raise ValueError(f'{config_yaml} builds a {yaml_kind} backbone, the checkpoint has a {kind} one')
    _check_sizes(conv.state_dict, model, config_yaml)
    header = (f'Converted by tools/model_converters/oneformer_d2_to_mm.py from the official OneFormer checkpoint\n'
              f'    {source or "(in memory)"}\nand its config\n    {osp.abspath(config_yaml)}\n'
              f'{things} thing / {len(meta["classes"]) - things} stuff classes; the class names are in model.pth meta.')
    write_converted(out_dir, conv.state_dict, meta, model, choice, cfg.test_size(), header,
                    converted_from=source, config_yaml=osp.abspath(config_yaml), converter='oneformer_d2_to_mm')
    return conv
