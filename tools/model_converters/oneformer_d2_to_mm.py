"""Convert an official (detectron2) OneFormer checkpoint to this project's key layout.

    python tools/model_converters/oneformer_d2_to_mm.py SRC.pth DST.pth [--class-info FILE] [--strict]

Backbones: Swin (-> mmdet SwinTransformer), ConvNeXt (-> mmpretrain ConvNeXt, gap_before_final_norm=False),
ResNet (detectron2 names -> mmdet ResNet). Text-mapper weights and ``criterion.logit_scale`` are kept;
``criterion.empty_weight`` and ``pixel_mean/std`` are dropped with a note. Every other source key is converted or
listed as unconverted (``--strict`` makes that an error).

The official class order is kept unless ``--class-info`` (JSON with "isthing" flags, e.g. HF OneFormer's
``{"0": {"name": ..., "isthing": 0|1}, ...}``) is given: then thing classes are moved first, as our models expect
(Cityscapes and ADE20K checkpoints do not list things first), and the class names go to ``meta.dataset_meta``.
"""
import argparse
import pickle
import sys

import torch

from oneformer.converters import (convert_d2_checkpoint, dataset_meta, load_class_info, reorder_class_head,
                                  things_first_order)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official OneFormer checkpoint (.pth with a "model" state dict)')
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument('--class-info', help='JSON class info with "isthing" flags: move thing classes first')
    parser.add_argument('--strict', action='store_true', help='fail if any source key is not converted')
    return parser.parse_args(argv)


def load_checkpoint(path: str):
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError:
        # detectron2 training checkpoints also pickle trainer / scheduler state
        print(f'{path} holds non-tensor objects; loading it with weights_only=False (only for trusted files)')
        return torch.load(path, map_location='cpu', weights_only=False)


def summary(sd) -> str:
    """Sizes a config must match, read from the converted tensors."""
    def count(prefix):
        return len({k[len(prefix):].split('.')[0] for k in sd if k.startswith(prefix)})
    q, c = sd['panoptic_head.query_embed.weight'].shape
    return (f'num_queries {q}, classes {sd["panoptic_head.cls_embed.weight"].shape[0] - 1}, hidden {c}, '
            f'decoder layers {count("panoptic_head.transformer_decoder.layers.")}, '
            f'pixel-decoder encoder layers {count("panoptic_head.pixel_decoder.encoder.layers.")}, '
            f'text mapper: {"yes" if any(k.startswith("panoptic_head.text_mapper.") for k in sd) else "no"}')


def main(argv=None) -> int:
    args = parse_args(argv)
    ckpt = load_checkpoint(args.src)
    conv, kind = convert_d2_checkpoint(ckpt)
    print(f'backbone: {kind}')
    print(conv.report())
    if conv.unconsumed and args.strict:
        print(f'error: {len(conv.unconsumed)} source keys not converted (--strict)', file=sys.stderr)
        return 1
    meta = dict(converted_from=args.src, converter='oneformer_d2_to_mm')
    if args.class_info:
        names, thing_ids = load_class_info(args.class_info)
        num_classes = conv.state_dict['panoptic_head.cls_embed.weight'].shape[0] - 1
        order = things_first_order(num_classes, thing_ids)
        conv.state_dict = reorder_class_head(conv.state_dict, order)
        meta['dataset_meta'] = dataset_meta(names, num_classes, thing_ids, order)
        print(f'classes reordered things first: {len(meta["dataset_meta"]["thing_classes"])} things')
    print(summary(conv.state_dict))
    torch.save(dict(state_dict=conv.state_dict, meta=meta), args.dst)
    print(f'wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
