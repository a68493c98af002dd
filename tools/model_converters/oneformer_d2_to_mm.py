"""Convert an official (detectron2) OneFormer checkpoint to this project's key layout.

    # weights only (for a config of configs/oneformer/):
    python tools/model_converters/oneformer_d2_to_mm.py SRC.pth DST.pth [--class-info FILE | --dataset NAME]
    # weights + config built from the official yaml of the checkpoint:
    python tools/model_converters/oneformer_d2_to_mm.py SRC.pth OUT_DIR --config-yaml MODEL.yaml \\
        [--dataset coco|ade20k|cityscapes|mapillary|DATASET_CONFIG] [--class-info FILE]

Backbones: Swin (-> mmdet SwinTransformer), ConvNeXt (-> mmpretrain ConvNeXt, gap_before_final_norm=False),
ResNet (detectron2 names -> mmdet ResNet), DiNAT (-> this project's DiNAT). Text-mapper weights and
``criterion.logit_scale`` are kept; ``criterion.empty_weight`` and ``pixel_mean/std`` are dropped with a note. Every
other source key is converted or listed as unconverted (``--strict`` makes that an error).

``--config-yaml`` (the official yaml, e.g. ``configs/ade20k/dinat/oneformer_dinat_large_bs16_160k.yaml`` of
SHI-Labs/OneFormer; its ``_BASE_`` files must sit beside it as in that repository) writes ``OUT_DIR/model.pth`` and
``OUT_DIR/config.py`` reproducing the architecture, queries, classes, losses and test thresholds. With ``--dataset``
that config inherits the dataset (and its schedule) so ``tools/test.py OUT_DIR/config.py OUT_DIR/model.pth``
evaluates it, resizing test images like the yaml; without it the config is for inference only.

Classes: official checkpoints number them like their dataset registration (ADE20K and Cityscapes do not list the
thing classes first, as our models need). The class head is permuted to our order (the dataset's classes, matched
by name, with ``--dataset``; thing classes first otherwise) using ``--class-info`` (JSON with "isthing" flags, e.g.
HF OneFormer's ``{"0": {"name": ..., "isthing": 0|1}, ...}``) or the official class list of COCO / ADE20K /
Cityscapes (from ``--dataset`` or the yaml's ``DATASETS``). Without either, weights-only conversion keeps the
official order.
"""
import argparse
import pickle
import sys

import torch

from oneformer.model_converters import convert_d2_checkpoint, convert_d2_with_config, resolve_dataset
from oneformer.model_converters.d2 import checkpoint_sizes, reorder_classes


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='official OneFormer checkpoint (.pth with a "model" state dict)')
    parser.add_argument('dst', help='output checkpoint, or output directory with --config-yaml')
    parser.add_argument('--config-yaml', help='official yaml of the checkpoint: also write DST/config.py')
    parser.add_argument('--dataset', help='coco, ade20k, cityscapes, mapillary or a dataset config file: our class '
                        'order and (with --config-yaml) the dataset the written config evaluates on')
    parser.add_argument('--class-info', help='JSON class info with "isthing" flags (class names in official order)')
    parser.add_argument('--object-mask-thr', type=float, help="override the yaml's OBJECT_MASK_THRESHOLD")
    parser.add_argument('--iou-thr', type=float, help="override the yaml's OVERLAP_THRESHOLD")
    parser.add_argument('--strict', action='store_true', help='fail if any source key is not converted')
    args = parser.parse_args(argv)
    if args.config_yaml is None and (args.object_mask_thr is not None or args.iou_thr is not None):
        parser.error('--object-mask-thr / --iou-thr go into the written config: they need --config-yaml')
    return args


def load_checkpoint(path: str):
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError:
        # detectron2 training checkpoints also pickle trainer / scheduler state
        print(f'{path} holds non-tensor objects; loading it with weights_only=False (only for trusted files)')
        return torch.load(path, map_location='cpu', weights_only=False)


def summary(sd) -> str:
    """Sizes a config must match, read from the converted tensors."""
    s = checkpoint_sizes(sd)
    return (f'num_queries {s["num_queries"]}, classes {s["num_classes"]}, hidden {s["hidden"]}, '
            f'decoder layers {s["decoder_layers"]}, pixel-decoder encoder layers {s["encoder_layers"]}, '
            f'text mapper: {"yes" if s["text_layers"] else "no"}')


def main(argv=None) -> int:
    args = parse_args(argv)
    ckpt = load_checkpoint(args.src)
    if args.config_yaml:
        try:
            conv = convert_d2_with_config(ckpt, args.dst, args.config_yaml, class_info=args.class_info,
                                          dataset=args.dataset, object_mask_thr=args.object_mask_thr,
                                          iou_thr=args.iou_thr, strict=args.strict, source=args.src)
        except KeyError as e:  # --strict: unconverted keys, nothing written
            print(f'error: {e.args[0]} (--strict)', file=sys.stderr)
            return 1
        print(conv.report())
        print(summary(conv.state_dict))
        print(f'wrote {args.dst}/model.pth and {args.dst}/config.py')
        return 0

    conv, kind = convert_d2_checkpoint(ckpt)
    print(f'backbone: {kind}')
    print(conv.report())
    if conv.unconsumed and args.strict:
        print(f'error: {len(conv.unconsumed)} source keys not converted (--strict)', file=sys.stderr)
        return 1
    meta = dict(converted_from=args.src, converter='oneformer_d2_to_mm')
    if args.class_info or args.dataset:
        choice = resolve_dataset(args.dataset) if args.dataset else None
        meta['dataset_meta'] = reorder_classes(conv, args.class_info, choice.name if choice else None, None, choice)
        print(f'classes reordered: {len(meta["dataset_meta"]["thing_classes"])} things first')
    print(summary(conv.state_dict))
    torch.save(dict(state_dict=conv.state_dict, meta=meta), args.dst)
    print(f'wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
