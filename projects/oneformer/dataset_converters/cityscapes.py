"""Cityscapes ``gtFine/*_instanceIds.png`` -> COCO panoptic (things first) + COCO instance JSON.

The PNGs are made by cityscapesscripts' ``createPanopticImgs.convert2panoptic`` (Cityscapes label ids, crowd =
instance-less pixels of a thing class); we then

- order the JSON categories things first (:data:`oneformer.datasets.cityscapes_panoptic.CITYSCAPES_PANOPTIC_METAINFO`),
  keeping the Cityscapes label ids as category ids,
- give images integer ids (the original string id is kept as ``image_name``) and ``file_name``
  ``{city}/{stem}_leftImg8bit.png`` relative to ``leftImg8bit/{split}``,
- store each panoptic PNG flat as ``{stem}_leftImg8bit.png`` (the image's base name): mmdet's
  ``CocoPanopticMetric`` looks the ground truth up as ``seg_prefix/basename(img_path)`` (with '.jpg' -> '.png'),
- write the instance JSON for mask AP.

Output (``out_dir`` defaults to ``{root}/gtFine``): ``panoptic_{split}.json``, ``panoptic_{split}/*.png``,
``instances_{split}.json``.
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Optional, Sequence

from .common import dump_json
from .panoptic2instance import panoptic_to_instance


def convert_cityscapes_panoptic(root: str, splits: Sequence[str] = ('train', 'val'),
                                out_dir: Optional[str] = None) -> dict:
    """Convert the Cityscapes fine annotations of ``splits`` under ``root`` (which holds ``gtFine/``).

    Returns:
        dict: ``{split: number of images}``.
    """
    from cityscapesscripts.preparation.createPanopticImgs import convert2panoptic

    from ..datasets.cityscapes_panoptic import CITYSCAPES_PANOPTIC_METAINFO
    gt_dir = osp.join(root, 'gtFine')
    out_dir = out_dir or gt_dir
    counts = {}
    for split in splits:
        split_dir = osp.join(gt_dir, split)
        if not osp.isdir(split_dir):
            raise FileNotFoundError(f'Cityscapes split folder not found: {split_dir}')
        with tempfile.TemporaryDirectory() as tmp:
            convert2panoptic(cityscapesPath=gt_dir, outputFolder=tmp, useTrainId=False, setNames=[split])
            with open(osp.join(tmp, f'cityscapes_panoptic_{split}.json')) as f:
                data = json.load(f)
            if not data['images']:
                raise FileNotFoundError(f'No *_gtFine_instanceIds.png found under {split_dir}')
            by_name = {c['name']: c for c in data['categories']}
            categories = [by_name[n] for n in CITYSCAPES_PANOPTIC_METAINFO['classes']]
            pan_dir = osp.join(out_dir, f'panoptic_{split}')
            images, annotations = [], []
            anns = {a['image_id']: a for a in data['annotations']}
            for idx, img in enumerate(sorted(data['images'], key=lambda im: im['id']), start=1):
                name = img['id']  # '{city}_{seq}_{frame}'
                # (the script's own file_name wrongly reads '*_gtFine_leftImg8bit.png')
                png = f'{name}_leftImg8bit.png'
                ann = anns[name]
                os.makedirs(pan_dir, exist_ok=True)
                shutil.move(osp.join(tmp, f'cityscapes_panoptic_{split}', ann['file_name']), osp.join(pan_dir, png))
                images.append(dict(id=idx, file_name=f"{name.split('_')[0]}/{png}", height=img['height'],
                                   width=img['width'], image_name=name))
                annotations.append(dict(image_id=idx, file_name=png, segments_info=ann['segments_info']))
        panoptic = dict(images=images, annotations=annotations, categories=categories)
        dump_json(panoptic, osp.join(out_dir, f'panoptic_{split}.json'))
        panoptic_to_instance(panoptic, pan_dir, osp.join(out_dir, f'instances_{split}.json'))
        counts[split] = len(images)
    return counts
