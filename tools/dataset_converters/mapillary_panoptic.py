"""Mapillary Vistas v1.2 panoptic release -> COCO panoptic (things first) + instance JSON for OneFormer.

Expects the release layout ``MAPILLARY_ROOT/{training,validation}/images/*.jpg`` and
``MAPILLARY_ROOT/{training,validation}/panoptic/{panoptic_2018.json,*.png}`` (v2.0 download: the v1.2 labels are in
``{split}/v1.2/panoptic``, pass ``--panoptic-subdir v1.2/panoptic`` and set the dataset's ``seg`` prefix to match).
Writes ``annotations/panoptic_{train,val}.json`` and ``annotations/instances_val.json`` (see
``oneformer.dataset_converters.mapillary``). Example::

    python tools/dataset_converters/mapillary_panoptic.py data/mapillary_vistas
"""
import argparse

from oneformer.dataset_converters import convert_mapillary_panoptic


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Prepare Mapillary Vistas v1.2 panoptic annotations for OneFormer')
    parser.add_argument('root', help='Mapillary Vistas root (holds training/ and validation/)')
    parser.add_argument('--splits', nargs='+', default=['training', 'validation'], help='split folders to convert')
    parser.add_argument('--out-dir', default=None, help='output folder (default: ROOT/annotations)')
    parser.add_argument('--panoptic-subdir', default='panoptic',
                        help="folder of panoptic_2018.json inside a split ('v1.2/panoptic' for the v2.0 download)")
    parser.add_argument('--instance-splits', nargs='*', default=['validation'],
                        help='splits that also get instances_{train,val}.json for mask AP')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    counts = convert_mapillary_panoptic(args.root, args.splits, args.out_dir, args.panoptic_subdir,
                                        args.instance_splits)
    print('Converted ' + ', '.join(f'{n} {s} images' for s, n in counts.items()))


if __name__ == '__main__':
    main()
