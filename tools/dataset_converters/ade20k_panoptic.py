"""ADEChallengeData2016 semantic + instance annotations -> COCO panoptic (things first) + instance JSON.

Expects ``images/``, ``annotations/`` and ``annotations_instance/`` (``training``/``validation``) and, ideally,
``categoryMapping.txt`` in the ADE root (see ``oneformer.dataset_converters.ade20k``). Example::

    python tools/dataset_converters/ade20k_panoptic.py data/ADEChallengeData2016
"""
import argparse

from oneformer.dataset_converters import convert_ade20k_panoptic


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Prepare ADE20K panoptic annotations for OneFormer')
    parser.add_argument('root', help='ADEChallengeData2016 folder')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'], choices=['train', 'val'])
    parser.add_argument('--mapping-file', default=None,
                        help='instance->semantic category mapping (default: ROOT/categoryMapping.txt)')
    parser.add_argument('--out-dir', default=None, help='output folder (default: ROOT)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    counts = convert_ade20k_panoptic(args.root, args.splits, args.mapping_file, args.out_dir)
    print('Converted ' + ', '.join(f'{n} {s} images' for s, n in counts.items()))


if __name__ == '__main__':
    main()
