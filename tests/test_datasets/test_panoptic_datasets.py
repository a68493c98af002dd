"""OneFormerPanopticDataset and the Cityscapes / ADE20K metainfo."""
import json

import numpy as np
import pytest
from mmdet.datasets import ADE20KPanopticDataset, CocoPanopticDataset
from mmdet.registry import DATASETS, TRANSFORMS
from mmengine.registry import init_default_scope
from PIL import Image

from oneformer.dataset_converters import write_panoptic_png
from oneformer.datasets import (
    ADE20K_PANOPTIC_METAINFO,
    ADE20K_SEMANTIC_CLASSES,
    CITYSCAPES_PANOPTIC_METAINFO,
    LABEL_TO_CITYSCAPES_ID,
    LABEL_TO_TRAIN_ID,
    TRAIN_ID_TO_LABEL,
    OneFormerPanopticDataset,
)

META = dict(classes=('cat', 'dog', 'grass', 'sky'), thing_classes=('cat', 'dog'), stuff_classes=('grass', 'sky'))
# JSON categories deliberately in another order (stuff first, odd ids): labels must follow metainfo by name
CATEGORIES = [dict(id=10, name='sky', isthing=0), dict(id=3, name='dog', isthing=1),
              dict(id=7, name='grass', isthing=0), dict(id=1, name='cat', isthing=1)]


def _write_dataset(root, categories=CATEGORIES):
    ids = np.zeros((6, 8), np.int64)
    ids[:3] = 100  # sky
    ids[3:] = 200  # grass
    ids[1:3, 1:3] = 11  # cat
    ids[4:6, 4:7] = 12  # dog, crowd
    (root / 'img').mkdir()
    (root / 'pan').mkdir()
    for name in ('a', 'b'):
        Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(root / 'img' / f'{name}.jpg')
    write_panoptic_png(ids, str(root / 'pan' / 'a_pan.png'))  # PNG name from the annotation, not the image
    write_panoptic_png(np.zeros((6, 8), np.int64), str(root / 'pan' / 'b.png'))
    segs = [dict(id=100, category_id=10, area=18, bbox=[0, 0, 8, 3], iscrowd=0),
            dict(id=200, category_id=7, area=18, bbox=[0, 3, 8, 3], iscrowd=0),
            dict(id=11, category_id=1, area=4, bbox=[1, 1, 2, 2], iscrowd=0),
            dict(id=12, category_id=3, area=6, bbox=[4, 4, 3, 2], iscrowd=1),
            dict(id=13, category_id=3, area=0, bbox=[0, 0, 0, 0], iscrowd=0)]  # not drawn: dropped
    data = dict(
        images=[dict(id=1, file_name='a.jpg', height=6, width=8), dict(id=2, file_name='b.jpg', height=6, width=8)],
        annotations=[dict(image_id=1, file_name='a_pan.png', segments_info=segs),
                     dict(image_id=2, file_name='b.png', segments_info=[])],
        categories=categories)
    (root / 'pan.json').write_text(json.dumps(data))


def _build(root, **kw):
    cfg = dict(type='OneFormerPanopticDataset', data_root=str(root), ann_file='pan.json',
               data_prefix=dict(img='img/', seg='pan/'), metainfo=META)
    cfg.update(kw)
    return DATASETS.build(cfg)


def test_labels_by_name_crowd_kept_and_injected_keys(tmp_path):
    init_default_scope('mmdet')
    _write_dataset(tmp_path)
    ds = _build(tmp_path)
    assert len(ds) == 2  # the image without segments is kept
    info = ds.get_data_info(0)
    assert info['seg_map_path'].endswith('pan/a_pan.png')
    segs = {s['id']: s for s in info['segments_info']}
    assert set(segs) == {100, 200, 11, 12}
    assert segs[100]['category'] == 3 and segs[200]['category'] == 2  # sky, grass
    assert segs[11]['category'] == 0 and segs[12]['category'] == 1  # cat, dog
    assert segs[12]['iscrowd'] == 1 and segs[12]['is_thing'] is True  # crowd thing stays a thing
    assert info['classes'] == META['classes'] and info['num_things_classes'] == 2
    assert [(i['bbox_label'], i['ignore_flag']) for i in info['instances']] == [(0, 0), (1, 1)]
    assert ds.get_data_info(1)['segments_info'] == []


def test_pipeline_loads_segments_and_mmdet_test_loader_works(tmp_path):
    init_default_scope('mmdet')
    _write_dataset(tmp_path)
    ds = _build(tmp_path, pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadPanopticSegments')])
    out = ds[0]
    assert sorted(out['gt_bboxes_labels'].tolist()) == [0, 1, 2, 3]
    assert out['gt_seg_map'][5, 5] == 1  # crowd dog pixels keep their class
    assert ds[1]['gt_masks'].masks.shape == (0, 6, 8)
    # the test pipelines use mmdet's loader on the same data_info
    load = TRANSFORMS.build(dict(type='LoadPanopticAnnotations'))
    info = ds.get_data_info(0)
    info['ori_shape'] = (6, 8)
    res = load(info)
    assert len(res['gt_masks']) == len(res['gt_bboxes']) == 2
    assert res['gt_ignore_flags'].tolist() == [False, True]
    np.testing.assert_array_equal(res['gt_seg_map'], out['gt_seg_map'])


def test_filter_empty_gt(tmp_path):
    init_default_scope('mmdet')
    _write_dataset(tmp_path)
    assert len(_build(tmp_path, filter_cfg=dict(filter_empty_gt=True))) == 1
    ds = _build(tmp_path, filter_cfg=dict(filter_empty_gt=False, min_size=7), lazy_init=True)
    ds.data_list = ds.load_data_list()
    with pytest.raises(ValueError, match=r'pan.json: filter_cfg=.*min_size.* drops all 2 images'):
        ds.filter_data()  # both images are 6 px high (mmengine would fail with "need at least one array")
    assert len(_build(tmp_path, filter_cfg=dict(filter_empty_gt=True), test_mode=True)) == 2


def test_json_without_images_is_named(tmp_path):
    init_default_scope('mmdet')
    _write_dataset(tmp_path)
    data = json.loads((tmp_path / 'pan.json').read_text())
    data['images'], data['annotations'] = [], []
    (tmp_path / 'pan.json').write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"pan.json lists no images \('images' is empty\)"):
        _build(tmp_path)


def test_json_order_differing_from_classes_is_reported(tmp_path):
    init_default_scope('mmdet')
    _write_dataset(tmp_path)
    with pytest.warns(UserWarning, match='JSON category order differs'):
        _build(tmp_path)


@pytest.mark.parametrize('meta, match', [
    (dict(classes=('grass', 'cat', 'dog', 'sky')), "must list the thing classes first.*'grass' breaks this"),
    (dict(classes=('cat', 'dog', 'grass', 'sky', 'tree'), stuff_classes=('grass', 'sky', 'tree')),
     r"classes \['tree'\] have no JSON category"),
    (dict(classes=('cat', 'dog', 'grass', 'sky'), stuff_classes=('grass', )), r"mismatch on \['sky'\]"),
])
def test_metainfo_errors(tmp_path, meta, match):
    init_default_scope('mmdet')
    _write_dataset(tmp_path)
    with pytest.raises(ValueError, match=match):
        _build(tmp_path, metainfo=dict(META, **meta))


def test_isthing_disagreement(tmp_path):
    init_default_scope('mmdet')
    cats = [dict(c, isthing=1) if c['name'] == 'sky' else c for c in CATEGORIES]
    _write_dataset(tmp_path, cats)
    with pytest.raises(ValueError, match="'sky' has isthing=1 but metainfo lists it as a stuff class"):
        _build(tmp_path)


def test_default_metainfo_is_mmdet_coco():
    assert OneFormerPanopticDataset.METAINFO['classes'] == CocoPanopticDataset.METAINFO['classes']
    assert len(CocoPanopticDataset.METAINFO['thing_classes']) == 80


def test_cityscapes_metainfo_things_first():
    meta = CITYSCAPES_PANOPTIC_METAINFO
    assert len(meta['classes']) == 19 and len(meta['palette']) == 19
    assert meta['thing_classes'] == ('person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle')
    assert meta['classes'][:8] == meta['thing_classes'] and meta['classes'][8] == 'road'
    assert meta['classes'][-1] == 'sky'
    assert LABEL_TO_TRAIN_ID[0] == 11 and LABEL_TO_TRAIN_ID[8] == 0 and LABEL_TO_TRAIN_ID[18] == 10
    assert LABEL_TO_CITYSCAPES_ID[0] == 24 and LABEL_TO_CITYSCAPES_ID[8] == 7
    assert all(TRAIN_ID_TO_LABEL[t] == (t - 11 if t >= 11 else t + 8) for t in range(19))


def test_ade20k_metainfo_reuses_mmdet_and_semantic_order_is_consistent():
    assert ADE20K_PANOPTIC_METAINFO is ADE20KPanopticDataset.METAINFO
    classes = ADE20K_PANOPTIC_METAINFO['classes']
    things = ADE20K_PANOPTIC_METAINFO['thing_classes']
    assert len(classes) == 150 and len(things) == 100 and classes[:100] == things
    assert len(ADE20K_SEMANTIC_CLASSES) == 150 and set(ADE20K_SEMANTIC_CLASSES) == set(classes)
    # mmdet lists things and stuff in the semantic-map order: our 150-order must agree
    assert tuple(c for c in ADE20K_SEMANTIC_CLASSES if c in things) == things
    assert tuple(c for c in ADE20K_SEMANTIC_CLASSES if c not in things) == classes[100:]
