"""Convert a Hugging Face OneFormer checkpoint directory to this project (model.pth + config.py).

    python tools/model_converters/oneformer_hf_to_mm.py HF_DIR OUT_DIR [--class-info FILE | --num-things N] \\
        [--dataset coco|ade20k|cityscapes|mapillary|DATASET_CONFIG]

HF_DIR is a saved ``OneFormerForUniversalSegmentation`` (``config.json`` + ``model.safetensors`` or
``pytorch_model.bin``; transformers 4.x or 5.x key names). Swin, ConvNeXt, ResNet and DiNAT backbones are
supported. OUT_DIR receives ``model.pth`` (``state_dict`` + ``meta.dataset_meta`` with the class names) and
``config.py`` (inherits this package's base configs by absolute path: the installed ``oneformer/.mim/configs`` or
the source checkout's ``configs/``).

Without ``--dataset`` the config holds the model (sizes, normalisation, classes, thresholds): enough for inference
(``demo/image_demo.py``, ``OneFormerInferencer``). With ``--dataset`` it also inherits that dataset's base config,
schedule and runtime, so ``tools/test.py OUT_DIR/config.py OUT_DIR/model.pth`` evaluates it; the test resize follows
the HF image processor when ``preprocessor_config.json`` is in HF_DIR.

Thing / stuff classes: the HF config has no such split. With a built-in ``--dataset`` the official class list of
that dataset is used (the hub checkpoints number classes like the official ones). Otherwise give ``--class-info``
(HF OneFormer class-info JSON, ``{"0": {"name": ..., "isthing": 0|1}, ...}``) or ``--num-things N`` (the first N
classes are things); else every class is treated as a thing. The class head is permuted to our order (the dataset's
classes matched by name, or thing classes first).

Text mapper: the published HF checkpoints carry no text-mapper weights, so the config gets ``text_mapper=None``
(inference only). When they are present they are converted; note that HF's text encoder ignores its causal mask
while ours applies it as the official code does: this only changes training (the contrastive loss).
"""
import argparse
import sys

from oneformer.model_converters import convert_hf_dir


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('hf_dir', help='directory of a saved HF OneFormerForUniversalSegmentation')
    parser.add_argument('out_dir', help='output directory (model.pth, config.py)')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--class-info', help='JSON class info with "isthing" flags (HF OneFormer format)')
    group.add_argument('--num-things', type=int, help='the first N classes are thing classes')
    parser.add_argument('--dataset', help='coco, ade20k, cityscapes, mapillary or a dataset config file: the written '
                        'config evaluates on it with tools/test.py')
    parser.add_argument('--object-mask-thr', type=float,
                        help='panoptic/instance score threshold (default: the official value of --dataset, COCO / '
                        'Cityscapes / Mapillary 0.8, ADE20K 0.5; else HF\'s 0.5)')
    parser.add_argument('--iou-thr', type=float, default=0.8, help='panoptic mask overlap threshold (0.8)')
    parser.add_argument('--strict', action='store_true', help='fail if any HF key is not converted')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    conv = convert_hf_dir(args.hf_dir, args.out_dir, class_info=args.class_info, num_things=args.num_things,
                          object_mask_thr=args.object_mask_thr, iou_thr=args.iou_thr, strict=args.strict,
                          dataset=args.dataset)
    print(conv.report())
    print(f'wrote {args.out_dir}/model.pth and {args.out_dir}/config.py')
    return 0


if __name__ == '__main__':
    sys.exit(main())
