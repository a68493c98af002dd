"""Mapillary Vistas v1.2 panoptic release -> our COCO panoptic annotation (things first) + COCO instance JSON.

The release already is in COCO panoptic format (``{split}/panoptic/panoptic_2018.json`` and one PNG per image next
to it; the v2.0 download keeps the v1.2 labels under ``{split}/v1.2/panoptic/``). It is rewritten so that our
dataset and mmdet's metrics read it consistently:

- the 65 categories are written in our label order (the 37 thing classes, then the 28 stuff classes, each group in
  the official order; :data:`oneformer.datasets.mapillary_panoptic.MAPILLARY_VISTAS_PANOPTIC_METAINFO`) under our
  class names, keeping the Mapillary category ids and taking ``isthing`` from the official split. mmdet's
  ``CocoPanopticMetric`` / ``CocoMetric`` map label ``i`` to the ``i``-th JSON category, so this order matters;
- images get integer ids (1, 2, ... in the order of the Mapillary image keys; the key is kept as ``image_name``);
  ``file_name`` stays the image's name in ``{split}/images/``;
- every annotation must name the PNG ``{image key}.png`` (the name mmdet's ``CocoPanopticMetric`` looks up), the
  PNGs stay where they are;
- the instance JSON (thing segments as RLE) is written for mask AP.

Output (``out_dir``, default ``{root}/annotations``): ``panoptic_{train,val}.json`` (``training`` -> ``train``,
``validation`` -> ``val``) and ``instances_{split}.json`` for ``instance_splits``.
"""
import json
import os.path as osp
from typing import Dict, Optional, Sequence

from .common import dump_json
from .panoptic2instance import panoptic_to_instance

#: release split folder -> short name of our annotation files
SPLIT_NAMES = {'training': 'train', 'validation': 'val'}
PANOPTIC_JSON = 'panoptic_2018.json'


def _panoptic_dir(root: str, split: str, panoptic_subdir: str) -> str:
    pan_dir = osp.join(root, split, panoptic_subdir)
    if osp.isfile(osp.join(pan_dir, PANOPTIC_JSON)):
        return pan_dir
    hint = ''
    if osp.isfile(osp.join(root, split, 'v1.2', 'panoptic', PANOPTIC_JSON)):
        hint = " (this is the v2.0 download: pass panoptic_subdir='v1.2/panoptic', --panoptic-subdir v1.2/panoptic)"
    raise FileNotFoundError(f'Mapillary Vistas panoptic annotation not found: {osp.join(pan_dir, PANOPTIC_JSON)}'
                            f'{hint}')


def _categories(categories: Sequence[dict], src: str) -> Dict[int, dict]:
    """Our category list keyed by Mapillary id, after checking the release's categories are the official 65."""
    from ..datasets.mapillary_panoptic import LABEL_TO_MAPILLARY_ID, MAPILLARY_VISTAS_CATEGORIES
    official = {c[0]: c for c in MAPILLARY_VISTAS_CATEGORIES}
    by_id = {}
    for cat in categories:
        if cat['id'] in by_id:
            raise ValueError(f"{src}: category id {cat['id']} appears twice")
        by_id[cat['id']] = cat
    if set(by_id) != set(official):
        raise ValueError(f'{src}: expected the 65 Mapillary Vistas v1.2 categories with ids 1..65, got ids '
                         f'{sorted(by_id)} (v2.0 annotations have 124 classes; use the v1.2 folder)')
    for cat_id, (_, name, key, _, _) in official.items():
        cat = by_id[cat_id]
        if cat.get('name') != name and cat.get('supercategory') != key:
            raise ValueError(f"{src}: category id {cat_id} is {cat.get('name')!r} / {cat.get('supercategory')!r}, "
                             f'the official v1.2 category {cat_id} is {name!r} / {key!r}')
    out = {}
    for cat_id in LABEL_TO_MAPILLARY_ID:
        _, name, key, isthing, color = official[cat_id]
        out[cat_id] = dict(id=cat_id, name=name, supercategory=key, isthing=isthing, color=list(color))
    return out


def convert_mapillary_split(root: str, split: str, out_file: str, panoptic_subdir: str = 'panoptic',
                            instance_file: Optional[str] = None) -> int:
    """Convert one split folder (``training`` / ``validation``) of the release under ``root``.

    Returns:
        int: The number of images.
    """
    pan_dir = _panoptic_dir(root, split, panoptic_subdir)
    src = osp.join(pan_dir, PANOPTIC_JSON)
    with open(src, encoding='utf-8') as f:
        data = json.load(f)
    for key in ('images', 'annotations', 'categories'):
        if key not in data:
            raise KeyError(f'{src} has no {key!r}: not a COCO panoptic annotation file')
    if not data['images']:
        raise ValueError(f'{src} lists no images')
    categories = _categories(data['categories'], src)

    new_id = {}
    images = []
    for idx, img in enumerate(sorted(data['images'], key=lambda im: str(im['id'])), start=1):
        if img['id'] in new_id:
            raise ValueError(f"{src}: image id {img['id']!r} appears twice")
        new_id[img['id']] = idx
        images.append(dict(id=idx, file_name=img['file_name'], height=img['height'], width=img['width'],
                           image_name=str(img['id'])))
    names = {img['id']: img['file_name'] for img in data['images']}

    img_dir = osp.join(root, split, 'images')
    missing = [im['file_name'] for im in images if not osp.isfile(osp.join(img_dir, im['file_name']))]
    if missing:
        raise FileNotFoundError(f'{len(missing)} images of {src} are not in {img_dir}, e.g. {missing[:3]}')

    annotations, seen = [], set()
    for ann in data['annotations']:
        if ann['image_id'] not in new_id:
            raise ValueError(f"{src}: annotation {ann.get('file_name')!r} refers to unknown image id "
                             f"{ann['image_id']!r}")
        if ann['image_id'] in seen:
            raise ValueError(f"{src}: image {ann['image_id']!r} has two annotations")
        seen.add(ann['image_id'])
        expected = osp.splitext(names[ann['image_id']])[0] + '.png'
        if ann['file_name'] != expected:
            # mmdet's CocoPanopticMetric finds the ground truth as seg_prefix / {image name}.png
            raise ValueError(f"{src}: the PNG of image {names[ann['image_id']]!r} is {ann['file_name']!r}, expected "
                             f'{expected!r}')
        if not osp.isfile(osp.join(pan_dir, ann['file_name'])):
            raise FileNotFoundError(f"panoptic PNG {osp.join(pan_dir, ann['file_name'])} does not exist")
        for seg in ann['segments_info']:
            if seg['category_id'] not in categories:
                raise ValueError(f"{src}: segment {seg['id']} of {ann['file_name']} has unknown category_id "
                                 f"{seg['category_id']}")
        annotations.append(dict(image_id=new_id[ann['image_id']], file_name=ann['file_name'],
                                segments_info=ann['segments_info']))
    annotations.sort(key=lambda a: a['image_id'])

    panoptic = dict(images=images, annotations=annotations, categories=list(categories.values()))
    dump_json(panoptic, out_file)
    if instance_file is not None:
        panoptic_to_instance(panoptic, pan_dir, instance_file)
    return len(images)


def convert_mapillary_panoptic(root: str, splits: Sequence[str] = ('training', 'validation'),
                               out_dir: Optional[str] = None, panoptic_subdir: str = 'panoptic',
                               instance_splits: Sequence[str] = ('validation', )) -> Dict[str, int]:
    """Convert the Mapillary Vistas v1.2 panoptic annotations of ``splits`` under ``root``.

    Args:
        root (str): The release folder, holding ``{split}/images/`` and ``{split}/{panoptic_subdir}/``.
        splits (Sequence[str]): Split folders to convert (``training``, ``validation``).
        out_dir (str, optional): Output folder; defaults to ``{root}/annotations``.
        panoptic_subdir (str): Folder of ``panoptic_2018.json`` and the PNGs inside a split: ``panoptic`` (v1.2
            download) or ``v1.2/panoptic`` (v2.0 download).
        instance_splits (Sequence[str]): Splits that also get ``instances_{split}.json`` (mask AP); the train
            split does not need one.

    Returns:
        dict: ``{split: number of images}``.
    """
    out_dir = out_dir or osp.join(root, 'annotations')
    counts = {}
    for split in splits:
        if split not in SPLIT_NAMES:
            raise ValueError(f'unknown Mapillary Vistas split {split!r}; choose from {sorted(SPLIT_NAMES)}')
        name = SPLIT_NAMES[split]
        instance_file = osp.join(out_dir, f'instances_{name}.json') if split in instance_splits else None
        counts[split] = convert_mapillary_split(root, split, osp.join(out_dir, f'panoptic_{name}.json'),
                                                panoptic_subdir, instance_file)
    return counts
