"""Mapillary Vistas v1.2 panoptic: class order, the release converter, the dataset and its base config.

A tiny fake release is written in the layout of the official download (``{training,validation}/images/*.jpg``,
``{split}/panoptic/panoptic_2018.json`` + one PNG per image, string image keys, categories in Mapillary id order),
converted with ``tools/dataset_converters/mapillary_panoptic.py``, then read by ``MapillaryVistasPanopticDataset``
and the pipelines / metrics of ``configs/_base_/datasets/mapillary_panoptic.py``.
"""
import copy
import importlib.util
import json
import os
import os.path as osp
import warnings

import numpy as np
import pytest
import torch
from mmdet.registry import DATASETS, METRICS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from oneformer.dataset_converters import convert_mapillary_panoptic, write_panoptic_png
from oneformer.datasets.mapillary_panoptic import (
    LABEL_TO_MAPILLARY_ID,
    MAPILLARY_ID_TO_LABEL,
    MAPILLARY_VISTAS_CATEGORIES,
    MAPILLARY_VISTAS_OFFICIAL_CLASSES,
    MAPILLARY_VISTAS_OFFICIAL_THING_IDS,
    MAPILLARY_VISTAS_PANOPTIC_METAINFO,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
H, W = 24, 32
# Mapillary category ids used below (official registration, register_mapillary_vistas_panoptic.py)
BIRD, CROSSWALK, ROAD, SKY, CAR, POTHOLE, EGO = 1, 9, 14, 28, 56, 44, 65


def test_official_classes_and_thing_split():
    meta = MAPILLARY_VISTAS_PANOPTIC_METAINFO
    assert len(MAPILLARY_VISTAS_CATEGORIES) == 65 and [c[0] for c in MAPILLARY_VISTAS_CATEGORIES] == list(range(1, 66))
    assert len(meta['thing_classes']) == 37 and len(meta['stuff_classes']) == 28  # Mapillary Vistas v1.2
    assert meta['classes'] == meta['thing_classes'] + meta['stuff_classes'] and len(meta['palette']) == 65
    # official order, things interleaved: what the class head of the official checkpoints follows
    assert MAPILLARY_VISTAS_OFFICIAL_CLASSES[:4] == ('Bird', 'Ground Animal', 'Curb', 'Fence')
    assert MAPILLARY_VISTAS_OFFICIAL_CLASSES[-1] == 'Ego Vehicle'
    assert MAPILLARY_VISTAS_OFFICIAL_THING_IDS[:4] == (0, 1, 8, 19)  # Bird, Ground Animal, Crosswalk - Plain, Person
    # ours: things first, each group in official order
    assert meta['thing_classes'][:3] == ('Bird', 'Ground Animal', 'Crosswalk - Plain')
    assert meta['stuff_classes'][:3] == ('Curb', 'Fence', 'Guard Rail')
    assert meta['stuff_classes'][-3:] == ('On Rails', 'Car Mount', 'Ego Vehicle')
    # the official split has a few surprises: these follow the official registration, not intuition
    assert {'Crosswalk - Plain', 'Lane Marking - Crosswalk', 'Pole', 'Banner'} <= set(meta['thing_classes'])
    assert {'Pothole', 'On Rails', 'Lane Marking - General'} <= set(meta['stuff_classes'])
    for label, cat_id in enumerate(LABEL_TO_MAPILLARY_ID):
        assert MAPILLARY_ID_TO_LABEL[cat_id] == label
        assert MAPILLARY_VISTAS_CATEGORIES[cat_id - 1][1] == meta['classes'][label]
    assert MAPILLARY_ID_TO_LABEL[CAR] == meta['classes'].index('Car') < 37
    assert MAPILLARY_ID_TO_LABEL[ROAD] == meta['classes'].index('Road') >= 37


def _release_categories():
    """The categories of a v1.2 ``panoptic_2018.json``: Mapillary id order, readable names, label keys."""
    return [dict(id=cid, name=name, supercategory=key, isthing=isthing, color=list(color))
            for cid, name, key, isthing, color in MAPILLARY_VISTAS_CATEGORIES]


def _segment(seg_id, cat_id, mask):
    ys, xs = np.nonzero(mask)
    bbox = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
    return dict(id=seg_id, category_id=cat_id, area=int(mask.sum()), bbox=bbox, iscrowd=0)


def _image(rng):
    """Panoptic ids of one image: road (bottom), sky (top), two cars, a crosswalk and a bird; a void strip."""
    ids = np.zeros((H, W), np.int64)
    layout = [(ROAD, (slice(12, 24), slice(0, 32))), (SKY, (slice(0, 12), slice(0, 32))),
              (CAR, (slice(14, 20), slice(2, 10))), (CAR, (slice(14, 20), slice(14, 24))),
              (CROSSWALK, (slice(21, 24), slice(4, 28))), (BIRD, (slice(2, 5), slice(20, 24)))]
    segments = []
    for k, (cat_id, region) in enumerate(layout):
        seg_id = int(rng.integers(1, 2**24 - 1)) if k else 7  # any ids, as the release has
        while seg_id in segments:
            seg_id += 1
        ids[region] = seg_id
        segments.append(seg_id)
    ids[:, 30:] = 0  # void
    return ids, [_segment(s, cat, ids == s) for s, (cat, _) in zip(segments, layout)]


def _fake_release(root, keys=None, subdir='panoptic', categories=None):
    """A Mapillary Vistas v1.2-layout release under ``root``; returns {split: {key: segments_info}}."""
    keys = keys or dict(training=['zKey_b', 'aKey_a', 'mKey_c'], validation=['vKey_1'])
    rng = np.random.default_rng(0)
    out = {}
    for split, split_keys in keys.items():
        img_dir, pan_dir = osp.join(root, split, 'images'), osp.join(root, split, subdir)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(pan_dir, exist_ok=True)
        images, annotations, out[split] = [], [], {}
        for key in split_keys:
            ids, segments = _image(rng)
            Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(osp.join(img_dir, f'{key}.jpg'))
            write_panoptic_png(ids, osp.join(pan_dir, f'{key}.png'))
            images.append(dict(id=key, file_name=f'{key}.jpg', height=H, width=W))
            annotations.append(dict(image_id=key, file_name=f'{key}.png', segments_info=segments))
            out[split][key] = segments
        with open(osp.join(pan_dir, 'panoptic_2018.json'), 'w') as f:
            json.dump(dict(images=images, annotations=annotations,
                           categories=categories if categories is not None else _release_categories()), f)
    return out


def _convert_with_the_tool(root):
    spec = importlib.util.spec_from_file_location(
        'mapillary_panoptic', osp.join(REPO, 'tools', 'dataset_converters', 'mapillary_panoptic.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tool.main([root])


def test_convert_and_load(tmp_path, capsys):
    root = str(tmp_path / 'mapillary_vistas')
    release = _fake_release(root)
    _convert_with_the_tool(root)
    assert 'Converted 3 training images, 1 validation images' in capsys.readouterr().out
    ann_dir = osp.join(root, 'annotations')
    assert sorted(os.listdir(ann_dir)) == ['instances_val.json', 'panoptic_train.json', 'panoptic_val.json']

    with open(osp.join(ann_dir, 'panoptic_train.json')) as f:
        data = json.load(f)
    meta = MAPILLARY_VISTAS_PANOPTIC_METAINFO
    # categories in our label order (things first) under our names, Mapillary ids kept
    assert [c['name'] for c in data['categories']] == list(meta['classes'])
    assert [c['id'] for c in data['categories']] == list(LABEL_TO_MAPILLARY_ID)
    assert [c['isthing'] for c in data['categories']] == [1] * 37 + [0] * 28
    # integer image ids in key order, the key kept; annotations untouched apart from the image id
    assert [(i['id'], i['image_name'], i['file_name']) for i in data['images']] == [
        (1, 'aKey_a', 'aKey_a.jpg'), (2, 'mKey_c', 'mKey_c.jpg'), (3, 'zKey_b', 'zKey_b.jpg')]
    for ann in data['annotations']:
        key = data['images'][ann['image_id'] - 1]['image_name']
        assert ann['file_name'] == f'{key}.png' and ann['segments_info'] == release['training'][key]

    with open(osp.join(ann_dir, 'instances_val.json')) as f:
        inst = json.load(f)
    assert [c['name'] for c in inst['categories']] == list(meta['thing_classes'])
    assert sorted(a['category_id'] for a in inst['annotations']) == sorted([BIRD, CROSSWALK, CAR, CAR])

    # the dataset reads it without the "category order differs" warning mmdet's metrics would need
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        ds = DATASETS.build(dict(type='MapillaryVistasPanopticDataset', data_root=root,
                                 ann_file='annotations/panoptic_train.json',
                                 data_prefix=dict(img='training/images/', seg='training/panoptic/'), pipeline=[]))
    assert len(ds) == 3 and ds.metainfo['classes'] == meta['classes'] and ds.num_things_classes == 37
    info = ds.get_data_info(0)
    assert info['img_path'].endswith('training/images/aKey_a.jpg')
    assert info['seg_map_path'].endswith('training/panoptic/aKey_a.png')
    labels = {meta['classes'][s['category']]: s['is_thing'] for s in info['segments_info']}
    assert labels == {'Road': False, 'Sky': False, 'Car': True, 'Crosswalk - Plain': True, 'Bird': True}
    cats = sorted(s['category'] for s in info['segments_info'])
    assert cats == sorted(MAPILLARY_ID_TO_LABEL[c] for c in (ROAD, SKY, CAR, CAR, CROSSWALK, BIRD))
    assert len(info['instances']) == 4  # thing boxes: 2 cars, the crosswalk, the bird


def _config_dataset(root, split_cfg):
    split_cfg = copy.deepcopy(split_cfg)
    split_cfg.data_root = root
    return DATASETS.build(split_cfg)


def test_dataset_config_on_a_converted_release(tmp_path):
    """configs/_base_/datasets/mapillary_panoptic.py: the release layout, the official task sampling, sizes."""
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets', 'mapillary_panoptic.py'))
    root = str(tmp_path / 'mapillary_vistas') + '/'
    _fake_release(root)
    convert_mapillary_panoptic(root)
    assert (cfg.num_things_classes, cfg.num_stuff_classes, cfg.num_classes) == (37, 28, 65)
    assert cfg.task_probs == dict(semantic=0.5, instance=0.0, panoptic=0.5)  # TASK_PROB 0.50 / 0.50

    train = _config_dataset(root, cfg.train_dataloader.dataset)
    np.random.seed(0)
    tasks = set()
    for i in range(8):
        out = train[i % len(train)]
        img, sample = out['inputs'], out['data_samples']
        assert img.shape[0] == 3 and img.shape[1] <= 1024 and img.shape[2] <= 1024  # CROP.SIZE 1024
        tasks.add(sample.task)
        labels = sample.gt_instances.labels
        assert len(labels) and (labels < 65).all()
        assert sample.text_tokens.shape == (len(labels), 77)
    assert tasks == {'semantic', 'panoptic'}  # never instance

    val = _config_dataset(root, cfg.val_dataloader.dataset)
    sample = val[0]['data_samples']
    assert sample.ori_shape == (H, W) and tuple(sample.gt_sem_seg.sem_seg.shape) == (1, H, W)
    assert val[0]['inputs'].shape[1:] == (1536, 2048)  # MIN/MAX_SIZE_TEST 2048: the long edge becomes 2048
    sem = sample.gt_sem_seg.sem_seg[0]
    assert (sem[:, 30:] == 255).all()  # void
    assert int(sem[0, 0]) == MAPILLARY_ID_TO_LABEL[SKY] and int(sem[-4, 0]) == MAPILLARY_ID_TO_LABEL[ROAD]
    for m in cfg.val_evaluator:
        m = copy.deepcopy(m)
        for key in ('ann_file', 'seg_prefix'):
            if key in m:
                m[key] = root + m[key][len(cfg.data_root):]
                assert osp.exists(m[key]), m[key]
        METRICS.build(m).dataset_meta = val.metainfo


def test_ground_truth_as_prediction_scores_perfectly(tmp_path):
    """Converted labels, PNG names and image ids agree with mmdet's panoptic metric (category order!)."""
    from mmdet.evaluation.functional import INSTANCE_OFFSET
    from mmengine.evaluator import Evaluator
    from mmengine.structures import PixelData

    from oneformer.datasets import LoadPanopticSegments

    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets', 'mapillary_panoptic.py'))
    root = str(tmp_path / 'mv') + '/'
    _fake_release(root, keys=dict(validation=['k1', 'k2']))
    convert_mapillary_panoptic(root, splits=['validation'])
    val = _config_dataset(root, cfg.val_dataloader.dataset)
    pq_cfg = copy.deepcopy(cfg.val_evaluator[0])
    pq_cfg.ann_file = root + 'annotations/panoptic_val.json'
    pq_cfg.seg_prefix = root + 'validation/panoptic/'
    evaluator = Evaluator([pq_cfg])
    evaluator.dataset_meta = val.metainfo
    load = LoadPanopticSegments()
    for i in range(len(val)):
        sample = val[i]['data_samples']
        gt = load(dict(val.get_data_info(i), ori_shape=(H, W)))
        pan = np.full((H, W), 65, np.int64)  # void
        for k, (mask, label) in enumerate(zip(gt['gt_masks'].masks.astype(bool), gt['gt_bboxes_labels'])):
            pan[mask] = label + (k + 1) * INSTANCE_OFFSET if label < 37 else label
        sample.pred_panoptic_seg = PixelData(sem_seg=torch.from_numpy(pan)[None])
        evaluator.process([sample])
    res = evaluator.evaluate(len(val))
    assert res['coco_panoptic/PQ'] == pytest.approx(100.0)


def test_converter_errors(tmp_path):
    root = str(tmp_path / 'a')
    with pytest.raises(FileNotFoundError, match='panoptic_2018.json'):
        convert_mapillary_panoptic(root)
    # the v2.0 download keeps the v1.2 labels one level down: the error says how to point at them
    _fake_release(root, keys=dict(training=['k']), subdir='v1.2/panoptic')
    with pytest.raises(FileNotFoundError, match='v1.2/panoptic'):
        convert_mapillary_panoptic(root, splits=['training'])
    assert convert_mapillary_panoptic(root, splits=['training'], panoptic_subdir='v1.2/panoptic') == dict(training=1)
    with pytest.raises(ValueError, match='unknown Mapillary Vistas split'):
        convert_mapillary_panoptic(root, splits=['train'])

    # v2.0 labels (124 classes) or a renamed category are refused
    root = str(tmp_path / 'b')
    cats = _release_categories() + [dict(id=66, name='Unlabeled', supercategory='void--unlabeled', isthing=0)]
    _fake_release(root, keys=dict(training=['k']), categories=cats)
    with pytest.raises(ValueError, match='ids 1..65'):
        convert_mapillary_panoptic(root, splits=['training'])
    root = str(tmp_path / 'c')
    cats = _release_categories()
    cats[13] = dict(cats[13], name='Street', supercategory='flat--street')
    _fake_release(root, keys=dict(training=['k']), categories=cats)
    with pytest.raises(ValueError, match="category id 14 is 'Street'"):
        convert_mapillary_panoptic(root, splits=['training'])

    # a PNG not named after its image (mmdet's panoptic metric could not find it)
    root = str(tmp_path / 'd')
    _fake_release(root, keys=dict(training=['k']))
    json_file = osp.join(root, 'training', 'panoptic', 'panoptic_2018.json')
    with open(json_file) as f:
        data = json.load(f)
    data['annotations'][0]['file_name'] = 'other.png'
    with open(json_file, 'w') as f:
        json.dump(data, f)
    with pytest.raises(ValueError, match="expected 'k.png'"):
        convert_mapillary_panoptic(root, splits=['training'])
    # a missing image
    root = str(tmp_path / 'e')
    _fake_release(root, keys=dict(training=['k']))
    os.remove(osp.join(root, 'training', 'images', 'k.jpg'))
    with pytest.raises(FileNotFoundError, match='1 images'):
        convert_mapillary_panoptic(root, splits=['training'])
