"""The shared dataset: a COCO-panoptic dataset base config, its files and classes, and the derived files some
peers read (semantic label maps from the panoptic PNGs; the COCO instance JSONs are checked, with the command that
makes them)."""
import hashlib
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple

from .common import PANOPTIC2INSTANCE, CompareError, strip_root


@dataclass
class DatasetInfo:
    """Where a COCO-panoptic dataset base config keeps its files, and its classes.

    Paths are relative to ``data_root`` unless absolute. ``cfg`` is the loaded dataset base config.
    """
    base: str
    cfg: object
    base_root: str
    data_root: str
    classes: Tuple[str, ...]
    thing_classes: Tuple[str, ...]
    stuff_classes: Tuple[str, ...]
    splits: Dict[str, Dict[str, str]] = field(default_factory=dict)  # split -> ann_file, img, seg, instance_ann

    def path(self, rel: str) -> str:
        """Absolute path of a file given relative to the data root."""
        return rel if osp.isabs(rel) else osp.join(self.data_root, rel)

    def semantic_dir(self, split: str) -> str:
        """Folder (relative to the data root) of the semantic label maps derived from ``split``'s panoptic PNGs."""
        seg = self.splits[split]['seg'].rstrip('/')
        parent, name = osp.split(seg)
        name = name.replace('panoptic', 'semantic') if 'panoptic' in name else name + '_semantic'
        return osp.join(parent, name) + '/'


def _swap_split(path: str, src: str, dst: str) -> str:
    """``path`` of split ``src`` turned into the one of split ``dst`` (``instances_val.json`` -> ``..._train``):
    the tokens that differ between the two splits' panoptic JSON names are swapped in the file name."""
    a, b = osp.basename(src), osp.basename(dst)
    prefix = len(osp.commonprefix([a, b]))
    suffix = len(osp.commonprefix([a[::-1], b[::-1]]))
    tok_a, tok_b = a[prefix:len(a) - suffix], b[prefix:len(b) - suffix]
    head, name = osp.split(path)
    if not tok_a or tok_a not in name:
        return ''
    return osp.join(head, name.replace(tok_a, tok_b))


def _instance_name(panoptic_ann: str) -> str:
    """Default name of a split's COCO instance JSON: its panoptic JSON's with ``panoptic`` -> ``instances``."""
    head, name = osp.split(panoptic_ann)
    return osp.join(head, name.replace('panoptic', 'instances') if 'panoptic' in name else 'instances_' + name)


def read_dataset(base: str, data_root: Optional[str] = None, instance_anns: Sequence[Optional[str]] = (None, None)
                 ) -> DatasetInfo:
    """Read the files and classes of a COCO-panoptic dataset base config.

    Args:
        base: Dataset base config (e.g. ``configs/_base_/datasets/synthetic_panoptic.py``): a train and a val
            dataloader whose datasets have ``data_root``, ``ann_file`` (COCO panoptic JSON) and
            ``data_prefix=dict(img=..., seg=...)``, classes in ``metainfo`` or in the dataset class' ``METAINFO``
            (``classes``, ``thing_classes``, ``stuff_classes``, things first).
        data_root: Use this data root instead of the config's.
        instance_anns: COCO instance JSONs of the train and val split (relative to the data root); ``None``: the
            val one of the config's ``CocoMetric``, the train one named alike.

    Returns:
        DatasetInfo: The dataset's files and classes.

    Raises:
        CompareError: The config does not describe a COCO-panoptic dataset.
    """
    from mmdet.registry import DATASETS
    from mmengine.config import Config
    if not osp.isfile(base):
        raise CompareError(f'dataset base config not found: {base}')
    cfg = Config.fromfile(base)
    splits = {}
    for split, loader in (('train', 'train_dataloader'), ('val', 'val_dataloader')):
        ds = cfg.get(loader, {}).get('dataset')
        prefix = (ds or {}).get('data_prefix') or {}
        if not ds or 'ann_file' not in ds or 'img' not in prefix or 'seg' not in prefix:
            raise CompareError(f'{base}: {loader}.dataset needs ann_file and data_prefix=dict(img=..., seg=...) '
                               '(a COCO-panoptic dataset, like configs/_base_/datasets/synthetic_panoptic.py)')
        splits[split] = dict(ann_file=ds.ann_file, img=prefix['img'], seg=prefix['seg'], type=ds.type,
                             root=ds.get('data_root', ''))
    base_root = splits['train']['root']
    meta = dict(cfg.train_dataloader.dataset.get('metainfo') or {})
    if not meta.get('classes'):
        try:
            meta = dict(getattr(DATASETS.get(splits['train']['type']), 'METAINFO', {}))
        except KeyError:
            meta = {}
    missing = [k for k in ('classes', 'thing_classes', 'stuff_classes') if k not in meta]
    if missing:
        raise CompareError(f'{base}: the train dataset has no {missing} (in metainfo or its class METAINFO); the '
                           'panoptic peers need the thing / stuff split')
    classes, things, stuff = (tuple(meta[k]) for k in ('classes', 'thing_classes', 'stuff_classes'))
    if classes != things + stuff:
        raise CompareError(f'{base}: classes must be thing_classes followed by stuff_classes, got {classes}')
    val_instance = None
    for metric in cfg.get('val_evaluator') or []:
        if metric.get('type') == 'CocoMetric' and metric.get('ann_file'):
            val_instance = strip_root(metric['ann_file'], base_root)
    val_instance = instance_anns[1] or val_instance or _instance_name(splits['val']['ann_file'])
    train_instance = instance_anns[0] or _swap_split(val_instance, splits['val']['ann_file'],
                                                     splits['train']['ann_file']) or _instance_name(
                                                         splits['train']['ann_file'])
    splits['val']['instance_ann'] = val_instance
    splits['train']['instance_ann'] = train_instance
    root = osp.abspath(data_root or base_root or '.')
    return DatasetInfo(base=osp.abspath(base), cfg=cfg, base_root=base_root, data_root=root.rstrip('/') + '/',
                       classes=classes, thing_classes=things, stuff_classes=stuff, splits=splits)


def ensure_synthetic(ds: DatasetInfo) -> bool:
    """Generate the synthetic dataset (as ``make demo`` does) when the base is the synthetic one and it is missing.

    Returns:
        bool: Whether data was generated.
    """
    if ds.splits['train']['type'] != 'SyntheticPanopticDataset':
        return False
    if all(osp.isfile(ds.path(ds.splits[s]['ann_file'])) for s in ('train', 'val')):
        return False
    from oneformer.dataset_converters import generate_synthetic_panoptic
    print(f'[compare] generating the synthetic panoptic dataset in {ds.data_root} ...', flush=True)
    generate_synthetic_panoptic(ds.data_root)
    return True


def check_data(ds: DatasetInfo, runs: Sequence) -> None:
    """Fail before any training when a requested run (a :class:`~segcompare.peers.RunSpec`) cannot read the
    dataset.

    Raises:
        CompareError: Naming the missing file and the command that makes it.
    """
    for split in ('train', 'val'):
        info = ds.splits[split]
        for key, what in (('ann_file', 'COCO panoptic JSON'), ('img', 'image folder'), ('seg', 'panoptic PNG folder')):
            path = ds.path(info[key])
            if not (osp.isfile(path) if key == 'ann_file' else osp.isdir(path)):
                raise CompareError(f'{split} {what} not found: {path} (dataset base {ds.base}, data root '
                                   f'{ds.data_root}; pass --data-root if the data lives elsewhere)')
    needs_instances = {'val': [r.name for r in runs if 'instance' in r.tasks],
                       'train': [r.name for r in runs if r.kind == 'instance']}
    for split in ('train', 'val'):
        if not needs_instances[split]:
            continue
        info = ds.splits[split]
        rel = info['instance_ann']
        path = ds.path(rel) if rel else None
        if path and osp.isfile(path):
            continue
        target = path or ds.path(f'annotations/instances_{split}.json')
        purpose = 'training' if split == 'train' else 'mask AP'
        raise CompareError(
            f'the COCO instance annotation of the {split} split is missing: {target} (needed by '
            f'{", ".join(needs_instances[split])} for {purpose}). Make it from the panoptic annotation with:\n'
            f'    python {PANOPTIC2INSTANCE} {ds.path(info["ann_file"])} {ds.path(info["seg"])} {target}\n'
            f'or pass its path with --instance-{split}-ann.')


def make_semantic_labels(ds: DatasetInfo, split: str, quiet: bool = False) -> str:
    """Write the semantic label maps of ``split`` derived from its panoptic PNGs (once; a stamp records the source).

    Each pixel gets the class index of its segment (``classes`` order, things first), 255 where no segment is
    (void) or the category is not among ``classes``: the semantic ground truth OneFormer's evaluation reads from the
    same PNGs (``LoadPanopticAnnotations``). One PNG per image, named like the image.

    Args:
        ds: The dataset.
        split: ``train`` or ``val``.
        quiet: Do not print progress.

    Returns:
        str: The folder of the label maps (absolute).
    """
    import cv2
    import numpy as np

    from oneformer.dataset_converters import read_panoptic_png
    info = ds.splits[split]
    ann_path = ds.path(info['ann_file'])
    out_dir = ds.path(ds.semantic_dir(split))
    stamp_path = osp.join(out_dir, '.source.json')
    with open(ann_path, 'rb') as f:
        digest = hashlib.sha1(f.read()).hexdigest()
    stamp = dict(ann_file=ann_path, sha1=digest, classes=list(ds.classes))
    if osp.isfile(stamp_path):
        with open(stamp_path) as f:
            if json.load(f) == stamp:
                return out_dir
    if len(ds.classes) > 255:
        raise CompareError(f'{len(ds.classes)} classes do not fit 8-bit label maps (255 = void)')
    with open(ann_path) as f:
        ann = json.load(f)
    label_of = {c['id']: ds.classes.index(c['name']) for c in ann['categories'] if c['name'] in ds.classes}
    images = {img['id']: img for img in ann['images']}
    if not quiet:
        print(f'[compare] writing {len(ann["annotations"])} semantic label maps of the {split} split to {out_dir} '
              '(from the panoptic PNGs) ...', flush=True)
    for a in ann['annotations']:
        ids = read_panoptic_png(osp.join(ds.path(info['seg']), a['file_name']))
        labels = np.full(ids.shape, 255, np.uint8)
        for seg in a['segments_info']:
            labels[ids == seg['id']] = label_of.get(seg['category_id'], 255)
        name = osp.splitext(images[a['image_id']]['file_name'])[0] + '.png'
        path = osp.join(out_dir, name)
        os.makedirs(osp.dirname(path), exist_ok=True)
        if not cv2.imwrite(path, labels):
            raise CompareError(f'cannot write {path}')
    with open(stamp_path, 'w') as f:
        json.dump(stamp, f)
    return out_dir


def image_suffix(ds: DatasetInfo, split: str) -> str:
    """The one image file extension of ``split`` (mmseg's dataset lists its image folder by suffix)."""
    with open(ds.path(ds.splits[split]['ann_file'])) as f:
        suffixes = {osp.splitext(img['file_name'])[1] for img in json.load(f)['images']}
    if len(suffixes) != 1:
        raise CompareError(f'the semantic Mask2Former (mmseg) needs one image suffix per split, {split} has '
                           f'{sorted(suffixes)}')
    return suffixes.pop()
