"""LoadPanopticSegments / LoadSemSegAsSegments: per-segment masks, semantic map, errors, mmdet augmentations."""
import json

import numpy as np
import pytest
from mmdet.registry import DATASETS, TRANSFORMS
from mmengine.registry import init_default_scope
from PIL import Image

from oneformer.dataset_converters import mask_to_rle
from oneformer.datasets import LoadPanopticSegments, LoadSemSegAsSegments

CLASSES = ('cat', 'dog', 'grass', 'sky')  # 2 things + 2 stuff


def _ids():
    ids = np.zeros((8, 10), np.int64)
    ids[:4] = 30  # sky (stuff)
    ids[4:, :5] = 20  # grass
    ids[1:3, 1:4] = 5  # cat
    ids[5:7, 6:9] = 7  # dog crowd
    ids[7, 9] = 0  # void pixel
    return ids


SEGMENTS = [
    dict(id=5, category=0, is_thing=True, iscrowd=0),
    dict(id=7, category=1, is_thing=True, iscrowd=1),
    dict(id=20, category=2, is_thing=False, iscrowd=0),
    dict(id=30, category=3, is_thing=False, iscrowd=0),
]


def test_one_mask_per_segment_and_semantic_map(panoptic_results):
    ids = _ids()
    out = LoadPanopticSegments()(panoptic_results(ids, SEGMENTS, classes=CLASSES, num_things_classes=2))
    masks = out['gt_masks'].masks
    assert masks.shape == (4, 8, 10)
    for m, seg in zip(masks, SEGMENTS):
        np.testing.assert_array_equal(m.astype(bool), ids == seg['id'])
    assert out['gt_bboxes_labels'].dtype == np.int64
    assert out['gt_bboxes_labels'].tolist() == [0, 1, 2, 3]
    assert out['gt_ignore_flags'].tolist() == [False, True, False, False]
    assert out['gt_bboxes'].tensor.tolist()[0] == [1, 1, 4, 3]  # cat box from its mask (x2/y2 exclusive)
    seg = out['gt_seg_map']
    assert seg.dtype == np.uint8
    assert seg[7, 9] == 255  # void
    assert seg[5, 6] == 1  # crowd pixels keep their class
    assert seg[1, 1] == 0 and seg[0, 0] == 3 and seg[6, 0] == 2
    # grass pixels outside the masked region (below the dog crowd on the right) are void
    assert seg[4, 9] == 255


def test_zero_segments_is_valid(panoptic_results):
    out = LoadPanopticSegments()(panoptic_results(np.zeros((6, 7), np.int64), [], classes=CLASSES))
    assert out['gt_masks'].masks.shape == (0, 6, 7)
    assert len(out['gt_bboxes']) == 0 and out['gt_bboxes_labels'].shape == (0, )
    assert out['gt_ignore_flags'].shape == (0, )
    assert (out['gt_seg_map'] == 255).all()


def test_missing_png_names_path(panoptic_results):
    res = panoptic_results(_ids(), SEGMENTS)
    res['seg_map_path'] = '/nonexistent/dir/seg_000.png'
    with pytest.raises(FileNotFoundError, match='seg_000.png'):
        LoadPanopticSegments()(res)


@pytest.mark.parametrize('segments, match', [
    (SEGMENTS[:3], r'contains segment id\(s\) \[30\]'),
    (SEGMENTS + [dict(id=99, category=0, is_thing=True, iscrowd=0)], 'Segment id 99 .* absent from the PNG'),
    (SEGMENTS[:3] + [dict(id=30, category=4, is_thing=False, iscrowd=0)], r'category 4 outside \[0, 4\)'),
    (SEGMENTS[:3] + [dict(id=30, category=-1, is_thing=False, iscrowd=0)], 'category -1'),
    (SEGMENTS[:3] + [dict(id=30, category=3, is_thing=True, iscrowd=0)], 'is_thing=True but category 3'),
    (SEGMENTS + [SEGMENTS[0]], r'segment id\(s\) \[5\] more than once'),
])
def test_bad_annotations_raise_clear_errors(panoptic_results, segments, match):
    res = panoptic_results(_ids(), segments, classes=CLASSES, num_things_classes=2)
    with pytest.raises(ValueError, match=match) as e:
        LoadPanopticSegments()(res)
    assert 'img.png' in str(e.value)  # names the file


def test_num_classes_argument_overrides_dataset(panoptic_results):
    res = panoptic_results(_ids(), SEGMENTS)  # no 'classes' injected
    with pytest.raises(ValueError, match=r'category 3 outside \[0, 3\)'):
        LoadPanopticSegments(num_classes=3)(res)


def test_shape_mismatch_with_image(panoptic_results):
    res = panoptic_results(_ids(), SEGMENTS, classes=CLASSES)
    res['ori_shape'] = (9, 10)
    with pytest.raises(ValueError, match=r'shape \(8, 10\).*\(9, 10\)'):
        LoadPanopticSegments()(res)


def test_mmdet_augmentations_keep_masks_and_semantic_map_consistent(panoptic_results):
    init_default_scope('mmdet')
    ids = np.zeros((40, 60), np.int64)
    ids[:20] = 30
    ids[20:] = 20
    ids[5:15, 5:25] = 5
    ids[22:38, 30:55] = 7
    res = panoptic_results(ids, SEGMENTS, classes=CLASSES, num_things_classes=2)
    res['img'] = np.zeros((40, 60, 3), np.uint8)
    pipeline = [
        LoadPanopticSegments(),
        TRANSFORMS.build(dict(type='RandomFlip', prob=1.0)),
        TRANSFORMS.build(dict(type='Resize', scale=(90, 60), keep_ratio=True)),
        TRANSFORMS.build(dict(type='RandomCrop', crop_size=(45, 30), recompute_bbox=True,  # (w, h)
                              allow_negative_crop=True)),
        TRANSFORMS.build(dict(type='Pad', size=(48, 32))),  # (w, h)
    ]
    np.random.seed(0)
    for t in pipeline:
        res = t(res)
    seg, masks = res['gt_seg_map'], res['gt_masks'].masks.astype(bool)
    assert seg.shape == masks.shape[1:] == (32, 48)
    assert (seg[30:, :] == 255).all() and (seg[:, 45:] == 255).all()  # padding is void
    for m, label in zip(masks, res['gt_bboxes_labels']):
        assert (seg[m] == label).all()
    covered = masks.any(0)
    assert (seg[~covered] == 255).all()  # every labelled pixel belongs to a segment
    assert len(res['gt_bboxes']) == len(masks) == len(res['gt_ignore_flags'])


def _write_label_map(tmp_path, arr):
    path = str(tmp_path / 'label.png')
    Image.fromarray(arr.astype(np.uint8)).save(path)
    return dict(seg_map_path=path, img_path=str(tmp_path / 'x.jpg'))


def test_semseg_as_segments(tmp_path):
    arr = np.array([[0, 0, 2, 2], [0, 255, 2, 2], [5, 5, 5, 255]])
    out = LoadSemSegAsSegments(num_classes=6)(_write_label_map(tmp_path, arr))
    assert out['gt_bboxes_labels'].tolist() == [0, 2, 5]
    for m, c in zip(out['gt_masks'].masks, [0, 2, 5]):
        np.testing.assert_array_equal(m.astype(bool), arr == c)
    assert not out['gt_ignore_flags'].any()
    np.testing.assert_array_equal(out['gt_seg_map'], arr)
    assert out['gt_seg_map'].dtype == np.uint8


def test_semseg_reduce_zero_label_and_range_check(tmp_path):
    arr = np.array([[0, 1], [2, 3]])
    out = LoadSemSegAsSegments(num_classes=3, reduce_zero_label=True)(_write_label_map(tmp_path, arr))
    assert out['gt_bboxes_labels'].tolist() == [0, 1, 2]
    assert out['gt_seg_map'][0, 0] == 255
    with pytest.raises(ValueError, match=r'label\(s\) \[3\] outside \[0, 3\)'):
        LoadSemSegAsSegments(num_classes=3)(_write_label_map(tmp_path, arr))


def test_semseg_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.png'):
        LoadSemSegAsSegments(num_classes=3)(dict(seg_map_path=str(tmp_path / 'nope.png')))


def test_instance_only_coco_json_pipeline(tmp_path):
    """mmdet's CocoDataset + LoadAnnotations(poly2mask) already gives one mask per thing: OneFormer targets work."""
    init_default_scope('mmdet')
    h, w = 32, 40
    Image.fromarray(np.full((h, w, 3), 90, np.uint8)).save(tmp_path / 'a.jpg')
    crowd = np.zeros((h, w), bool)
    crowd[20:30, 2:12] = True
    ann = dict(
        images=[dict(id=1, file_name='a.jpg', height=h, width=w)],
        categories=[dict(id=1, name='cup'), dict(id=2, name='pen')],
        annotations=[
            dict(id=1, image_id=1, category_id=2, bbox=[4, 4, 10, 8], area=80, iscrowd=0,
                 segmentation=[[4, 4, 14, 4, 14, 12, 4, 12]]),
            dict(id=2, image_id=1, category_id=1, bbox=[20, 10, 12, 12], area=144, iscrowd=0,
                 segmentation=[[20, 10, 32, 10, 32, 22, 20, 22]]),
            dict(id=3, image_id=1, category_id=1, bbox=[2, 20, 10, 10], area=100, iscrowd=1,
                 segmentation=mask_to_rle(crowd)),
        ])
    (tmp_path / 'inst.json').write_text(json.dumps(ann))
    ds = DATASETS.build(dict(
        type='CocoDataset', data_root=str(tmp_path), ann_file='inst.json', data_prefix=dict(img=''),
        metainfo=dict(classes=('cup', 'pen')),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True, poly2mask=True),
            dict(type='RandomFlip', prob=0.5),
            dict(type='OneFormerTaskTargets', num_things_classes=2, task_probs=dict(instance=1.0),
                 class_names=('cup', 'pen')),
            dict(type='PackDetInputs', meta_keys=('img_id', 'task', 'text_tokens')),
        ]))
    sample = ds[0]['data_samples']
    assert sample.task == 'instance'
    assert sorted(sample.gt_instances.labels.tolist()) == [0, 1]  # the crowd cup is not a target
    assert sample.gt_instances.masks.masks.shape == (2, h, w)
    assert sample.text_tokens.shape == (2, 77)  # one text per target, unpadded
    assert len(sample.ignored_instances) == 0
