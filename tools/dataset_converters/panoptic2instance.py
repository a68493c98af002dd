"""COCO panoptic JSON + PNGs -> COCO instance JSON (thing segments, RLE, crowd kept) for mask AP.

Example::

    python tools/dataset_converters/panoptic2instance.py \
        data/coco/annotations/panoptic_val2017.json data/coco/annotations/panoptic_val2017 \
        data/coco/annotations/panoptic2instances_val2017.json
"""
import argparse

from oneformer.dataset_converters import panoptic_to_instance


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Convert a COCO panoptic annotation to COCO instance format')
    parser.add_argument('panoptic_json', help='COCO panoptic JSON')
    parser.add_argument('panoptic_dir', help='folder of the panoptic PNGs')
    parser.add_argument('out_file', help='instance JSON to write')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out = panoptic_to_instance(args.panoptic_json, args.panoptic_dir, args.out_file)
    print(f'Wrote {len(out["annotations"])} instances of {len(out["categories"])} thing classes '
          f'to {args.out_file}')


if __name__ == '__main__':
    main()
