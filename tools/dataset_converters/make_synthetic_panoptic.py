"""Write the synthetic shapes panoptic dataset (demo / smoke-test data).

Example::

    python tools/dataset_converters/make_synthetic_panoptic.py data/synthetic --num-train 200 --num-val 50
"""
import argparse

from oneformer.dataset_converters import generate_synthetic_panoptic


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Generate a deterministic synthetic COCO-panoptic dataset')
    parser.add_argument('out_dir', help='output folder, e.g. data/synthetic')
    parser.add_argument('--num-train', type=int, default=200, help='number of training images')
    parser.add_argument('--num-val', type=int, default=50, help='number of validation images')
    parser.add_argument('--size', type=int, default=128, help='image side in pixels')
    parser.add_argument('--seed', type=int, default=0, help='random seed (same seed -> same files)')
    parser.add_argument('--max-objects', type=int, default=5, help='maximum thing instances per image')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    meta = generate_synthetic_panoptic(args.out_dir, num_train=args.num_train, num_val=args.num_val,
                                       img_size=args.size, seed=args.seed, max_objects=args.max_objects)
    print(f'Wrote {args.num_train} train / {args.num_val} val images to {args.out_dir} '
          f'(classes: {", ".join(meta["classes"])})')


if __name__ == '__main__':
    main()
