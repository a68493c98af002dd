"""Cityscapes fine annotations -> COCO panoptic (things first) + instance JSON, via cityscapesscripts.

Expects ``CITYSCAPES_ROOT/gtFine/{split}/{city}/*_gtFine_instanceIds.png`` (and images in
``leftImg8bit/{split}/{city}/``). Writes ``gtFine/panoptic_{split}.json``, ``gtFine/panoptic_{split}/`` and
``gtFine/instances_{split}.json`` (see ``oneformer.dataset_converters.cityscapes``). Example::

    python tools/dataset_converters/cityscapes_panoptic.py data/cityscapes --splits train val
"""
import argparse

from oneformer.dataset_converters import convert_cityscapes_panoptic


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Prepare Cityscapes panoptic annotations for OneFormer')
    parser.add_argument('root', help='Cityscapes root (holds gtFine/ and leftImg8bit/)')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'], help='splits to convert')
    parser.add_argument('--out-dir', default=None, help='output folder (default: ROOT/gtFine)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    counts = convert_cityscapes_panoptic(args.root, args.splits, args.out_dir)
    print('Converted ' + ', '.join(f'{n} {s} images' for s, n in counts.items()))


if __name__ == '__main__':
    main()
