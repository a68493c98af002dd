"""Annotation converters on tiny hand-made inputs: panoptic -> instance, Cityscapes, ADE20K."""
import json
import os.path as osp

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from mmdet.registry import DATASETS
from mmengine.registry import init_default_scope
from PIL import Image

from oneformer.dataset_converters import (
    convert_ade20k_panoptic,
    convert_cityscapes_panoptic,
    panoptic_to_instance,
    read_panoptic_png,
    write_panoptic_png,
)
from oneformer.datasets import ADE20K_PANOPTIC_METAINFO, ADE20K_SEMANTIC_CLASSES, CITYSCAPES_PANOPTIC_METAINFO


# ----------------------------------------------------------------------------------------- panoptic -> instance
def _tiny_panoptic(tmp_path):
    ids = np.zeros((10, 12), np.int64)
    ids[:5] = 50  # stuff
    ids[6:9, 1:4] = 61  # thing
    ids[6:10, 6:11] = 62  # crowd thing
    write_panoptic_png(ids, str(tmp_path / 'pan' / '1.png'))
    data = dict(
        images=[dict(id=1, file_name='1.jpg', height=10, width=12)],
        annotations=[dict(image_id=1, file_name='1.png', segments_info=[
            dict(id=50, category_id=9, iscrowd=0), dict(id=61, category_id=4, iscrowd=0),
            dict(id=62, category_id=4, iscrowd=1)])],
        categories=[dict(id=4, name='box', isthing=1), dict(id=9, name='wall', isthing=0)])
    return ids, data


def test_panoptic_to_instance(tmp_path):
    ids, data = _tiny_panoptic(tmp_path)
    out = panoptic_to_instance(data, str(tmp_path / 'pan'), str(tmp_path / 'inst.json'))
    assert out['categories'] == [dict(id=4, name='box', isthing=1)]
    assert [a['iscrowd'] for a in out['annotations']] == [0, 1]
    a = out['annotations'][0]
    assert a['category_id'] == 4 and a['image_id'] == 1 and a['area'] == 9
    assert a['bbox'] == [1.0, 6.0, 3.0, 3.0]
    np.testing.assert_array_equal(mask_utils.decode(a['segmentation']).astype(bool), ids == 61)
    with open(tmp_path / 'inst.json') as f:
        assert json.load(f) == out
    # pycocotools reads it
    from pycocotools.coco import COCO
    coco = COCO(str(tmp_path / 'inst.json'))
    assert coco.getAnnIds(imgIds=[1], iscrowd=False) == [1]


def test_panoptic_to_instance_errors(tmp_path):
    _, data = _tiny_panoptic(tmp_path)
    with pytest.raises(FileNotFoundError, match='1.png'):
        panoptic_to_instance(data, str(tmp_path / 'elsewhere'))
    data['annotations'][0]['segments_info'].append(dict(id=77, category_id=4, iscrowd=0))
    with pytest.raises(ValueError, match='segment id 77'):
        panoptic_to_instance(data, str(tmp_path / 'pan'))


# ----------------------------------------------------------------------------------------- Cityscapes
def _fake_cityscapes(root):
    """One 'aachen' train image: road, sky, two cars, a crowd of persons, a license plate (ignored)."""
    inst = np.full((16, 24), 7, np.uint16)  # road (label id 7)
    inst[:6] = 23  # sky
    inst[8:12, 2:8] = 26001  # car 1
    inst[8:12, 10:16] = 26002  # car 2
    inst[12:16, 18:24] = 24  # person without instance id -> crowd
    inst[0, 0] = 5  # 'dynamic': ignoreInEval, becomes void
    stem = 'aachen_000000_000019'
    gt = root / 'gtFine' / 'train' / 'aachen'
    gt.mkdir(parents=True)
    assert cv2.imwrite(str(gt / f'{stem}_gtFine_instanceIds.png'), inst)
    img = root / 'leftImg8bit' / 'train' / 'aachen'
    img.mkdir(parents=True)
    Image.fromarray(np.zeros((16, 24, 3), np.uint8)).save(img / f'{stem}_leftImg8bit.png')
    return inst, stem


def test_cityscapes_converter(tmp_path):
    inst, stem = _fake_cityscapes(tmp_path)
    assert convert_cityscapes_panoptic(str(tmp_path), splits=['train']) == {'train': 1}
    gt = tmp_path / 'gtFine'
    with open(gt / 'panoptic_train.json') as f:
        data = json.load(f)
    assert [c['name'] for c in data['categories']] == list(CITYSCAPES_PANOPTIC_METAINFO['classes'])
    assert data['categories'][0]['id'] == 24  # Cityscapes label ids kept
    img = data['images'][0]
    rel = f'aachen/{stem}_leftImg8bit.png'
    assert img['id'] == 1 and img['file_name'] == rel and img['image_name'] == stem
    ann = data['annotations'][0]
    png = f'{stem}_leftImg8bit.png'  # flat, named like the image: CocoPanopticMetric looks it up by basename
    assert ann['image_id'] == 1 and ann['file_name'] == png
    ids = read_panoptic_png(str(gt / 'panoptic_train' / png))
    segs = {s['id']: s for s in ann['segments_info']}
    assert set(segs) == {7, 23, 26001, 26002, 24}
    assert segs[24]['iscrowd'] == 1 and segs[26001]['iscrowd'] == 0
    assert ids[0, 0] == 0  # license plate -> void
    np.testing.assert_array_equal(ids == 26002, inst == 26002)
    with open(gt / 'instances_train.json') as f:
        inst_json = json.load(f)
    assert sorted((a['category_id'], a['iscrowd']) for a in inst_json['annotations']) == [(24, 1), (26, 0), (26, 0)]

    init_default_scope('mmdet')
    ds = DATASETS.build(dict(
        type='CityscapesPanopticDataset', data_root=str(tmp_path), ann_file='gtFine/panoptic_train.json',
        data_prefix=dict(img='leftImg8bit/train/', seg='gtFine/panoptic_train/'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadPanopticSegments')]))
    out = ds[0]
    labels = dict(zip([s['id'] for s in ds.get_data_info(0)['segments_info']], out['gt_bboxes_labels'].tolist()))
    assert labels == {7: 8, 23: 18, 24: 0, 26001: 2, 26002: 2}  # road, sky, person, car (things first)
    assert out['gt_seg_map'][14, 20] == 0 and out['gt_seg_map'][0, 0] == 255


def test_cityscapes_converter_missing_split(tmp_path):
    with pytest.raises(FileNotFoundError, match='gtFine/val'):
        convert_cityscapes_panoptic(str(tmp_path), splits=['val'])


# ----------------------------------------------------------------------------------------- ADE20K
def _sem(name):
    return ADE20K_SEMANTIC_CLASSES.index(name) + 1


def _fake_ade(root, mapping=True):
    """Wall / floor stuff, two beds and a person as instances; one bed-labelled pixel block without instance."""
    h, w = 12, 16
    sem = np.full((h, w), _sem('wall'), np.uint8)
    sem[6:] = _sem('floor')
    sem[0, 0] = 0  # unlabeled
    sem[7:11, 1:6] = _sem('bed')
    sem[7:11, 7:11] = _sem('bed')
    sem[2:5, 12:15] = _sem('person')
    sem[0:2, 6:8] = _sem('bed')  # thing pixels not covered by any instance -> void
    ins = np.zeros((h, w, 3), np.uint8)
    ins[7:11, 1:6] = (1, 0, 1)  # R = instance category 1 (bed), B = instance id
    ins[7:11, 7:11] = (1, 0, 2)
    ins[2:5, 12:15] = (2, 0, 3)  # person
    sem[3, 3] = _sem('person')
    ins[3, 3] = (2, 0, 4)  # a one-pixel person inside the wall
    for sub, arr in (('annotations', sem), ('annotations_instance', ins)):
        d = root / sub / 'training'
        d.mkdir(parents=True)
        Image.fromarray(arr).save(d / 'ADE_train_00000001.png')
    d = root / 'images' / 'training'
    d.mkdir(parents=True)
    Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(d / 'ADE_train_00000001.jpg')
    if mapping:
        (root / 'categoryMapping.txt').write_text(
            f"Instance100\tSceneParsing150\tName\n1\t{_sem('bed')}\tbed\n2\t{_sem('person')}\tperson\n")
    return sem, ins


@pytest.mark.parametrize('mapping', [True, False])
def test_ade20k_converter(tmp_path, mapping):
    sem, ins = _fake_ade(tmp_path, mapping)
    assert convert_ade20k_panoptic(str(tmp_path), splits=['train']) == {'train': 1}
    with open(tmp_path / 'ade20k_panoptic_train.json') as f:
        data = json.load(f)
    classes = ADE20K_PANOPTIC_METAINFO['classes']
    assert [c['name'] for c in data['categories']] == list(classes)
    assert [c['isthing'] for c in data['categories']] == [1] * 100 + [0] * 50
    cat_name = {c['id']: c['name'] for c in data['categories']}
    ann = data['annotations'][0]
    assert ann['file_name'] == 'ADE_train_00000001.png' and data['images'][0]['file_name'] == 'ADE_train_00000001.jpg'
    names = sorted(cat_name[s['category_id']] for s in ann['segments_info'])
    assert names == ['bed', 'bed', 'floor', 'person', 'person', 'wall']
    ids = read_panoptic_png(str(tmp_path / 'ade20k_panoptic_train' / 'ADE_train_00000001.png'))
    by_name = {}
    for s in ann['segments_info']:
        by_name.setdefault(cat_name[s['category_id']], []).append(ids == s['id'])
    assert ids[0, 0] == 0 and (ids[0:2, 6:8] == 0).all()  # unlabeled and instance-less bed pixels are void
    assert by_name['person'][0][3, 3] or by_name['person'][1][3, 3]
    wall = by_name['wall'][0]
    assert not wall[3, 3] and wall[1, 1]
    with open(tmp_path / 'ade20k_instance_train.json') as f:
        inst = json.load(f)
    assert len(inst['annotations']) == 4 and len(inst['categories']) == 100


def test_ade20k_mapping_to_stuff_is_rejected(tmp_path):
    _fake_ade(tmp_path)
    (tmp_path / 'categoryMapping.txt').write_text(f"header\n1\t{_sem('wall')}\twall\n")
    with pytest.raises(ValueError, match='non-thing classes'):
        convert_ade20k_panoptic(str(tmp_path), splits=['train'])


def test_ade20k_missing_instance_map(tmp_path):
    _fake_ade(tmp_path)
    (tmp_path / 'annotations_instance' / 'training' / 'ADE_train_00000001.png').unlink()
    with pytest.raises(FileNotFoundError, match=osp.join('annotations_instance', 'training')):
        convert_ade20k_panoptic(str(tmp_path), splits=['train'])


# ----------------------------------------------------------------------------------------- CLIs
def _tool(name):
    import importlib.util
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    spec = importlib.util.spec_from_file_location(name, osp.join(repo, 'tools', 'dataset_converters', f'{name}.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_converter_clis(tmp_path):
    _, data = _tiny_panoptic(tmp_path)
    (tmp_path / 'pan.json').write_text(json.dumps(data))
    _tool('panoptic2instance').main([str(tmp_path / 'pan.json'), str(tmp_path / 'pan'), str(tmp_path / 'i.json')])
    with open(tmp_path / 'i.json') as f:
        assert len(json.load(f)['annotations']) == 2
    ade = tmp_path / 'ade'
    _fake_ade(ade)
    _tool('ade20k_panoptic').main([str(ade), '--splits', 'train', '--out-dir', str(tmp_path / 'ade_out')])
    assert (tmp_path / 'ade_out' / 'ade20k_panoptic_train' / 'ADE_train_00000001.png').is_file()
    cs = tmp_path / 'cs'
    _fake_cityscapes(cs)
    _tool('cityscapes_panoptic').main([str(cs), '--splits', 'train'])
    assert (cs / 'gtFine' / 'instances_train.json').is_file()
