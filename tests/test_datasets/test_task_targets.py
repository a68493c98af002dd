"""OneFormerTaskTargets: per-task targets, crowd/void/empty handling, text list, tokens, task sampling."""
import numpy as np
import pytest
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks

from oneformer.datasets import OneFormerTaskTargets, check_task_probs
from oneformer.tasks import tokenize

CLASSES = ('cat', 'dog', 'grass', 'sky')  # 2 things, 2 stuff


def _results():
    """Segments: dog A, cat, dog B, dog crowd, sky, grass, cat cropped away (empty)."""
    h, w = 6, 8
    rects = [(0, 2, 0, 2), (0, 2, 3, 5), (3, 5, 0, 2), (3, 5, 3, 5), (0, 3, 6, 8), (5, 6, 0, 8), None]
    labels = [1, 0, 1, 1, 3, 2, 0]
    crowd = [False, False, False, True, False, False, False]
    masks = np.zeros((len(rects), h, w), np.uint8)
    for m, r in zip(masks, rects):
        if r:
            m[r[0]:r[1], r[2]:r[3]] = 1
    seg = np.full((h, w), 255, np.uint8)
    for m, lb in zip(masks, labels):
        seg[m.astype(bool)] = lb
    gt_masks = BitmapMasks(masks, h, w)
    return dict(gt_masks=gt_masks, gt_bboxes=HorizontalBoxes.from_instance_masks(gt_masks),
                gt_bboxes_labels=np.array(labels, np.int64), gt_ignore_flags=np.array(crowd),
                gt_seg_map=seg, classes=CLASSES, num_things_classes=2, img_path='x.jpg'), masks


def _run(task, **kw):
    res, masks = _results()
    t = OneFormerTaskTargets(task_probs={task: 1.0}, **kw)
    return t(res), masks


def test_semantic_targets_merge_non_crowd_segments_per_class():
    out, masks = _run('semantic')
    assert out['task'] == 'semantic'
    assert out['gt_bboxes_labels'].tolist() == [0, 1, 2, 3]
    got = out['gt_masks'].masks.astype(bool)
    np.testing.assert_array_equal(got[1], masks[0].astype(bool) | masks[2].astype(bool))  # dog A | dog B
    assert not (got[1] & masks[3].astype(bool)).any()  # crowd dog excluded
    np.testing.assert_array_equal(got[0], masks[1].astype(bool))  # empty cropped cat adds nothing


def test_instance_targets_are_non_crowd_non_empty_things():
    out, masks = _run('instance')
    assert out['gt_bboxes_labels'].tolist() == [1, 0, 1]
    np.testing.assert_array_equal(out['gt_masks'].masks, masks[[0, 1, 2]])
    assert out['gt_bboxes_labels'].dtype == np.int64


def test_panoptic_targets_are_all_non_crowd_non_empty_segments():
    out, masks = _run('panoptic')
    assert out['gt_bboxes_labels'].tolist() == [1, 0, 1, 3, 2]
    np.testing.assert_array_equal(out['gt_masks'].masks, masks[[0, 1, 2, 4, 5]])
    assert out['gt_ignore_flags'].tolist() == [False] * 5
    np.testing.assert_array_equal(out['gt_bboxes'].tensor.numpy(),
                                  HorizontalBoxes.from_instance_masks(out['gt_masks']).tensor.numpy())
    res, _ = _results()
    np.testing.assert_array_equal(out['gt_seg_map'], res['gt_seg_map'])  # semantic map kept


def test_text_list_in_class_id_order_unpadded():
    """One text per target in class-id order; padding to the model's size is the head's job."""
    out, _ = _run('panoptic')
    texts = ['a photo with a cat', 'a photo with a dog', 'a photo with a dog', 'a photo with a grass',
             'a photo with a sky']
    assert out['text_tokens'].dtype == np.int64 and out['text_tokens'].shape == (5, 77)
    np.testing.assert_array_equal(out['text_tokens'], tokenize(texts).numpy())
    assert 'texts' not in out and 'task_tokens' not in out  # the head derives task tokens from the task
    out, _ = _run('instance')
    np.testing.assert_array_equal(out['text_tokens'], tokenize(texts[:3]).numpy())


def test_class_names_and_thing_count_from_arguments_or_dataset():
    res, _ = _results()
    res.pop('classes')
    res.pop('num_things_classes')
    t = OneFormerTaskTargets(task_probs=dict(instance=1.0), num_things_classes=2, class_names=('a', 'b', 'c', 'd'))
    np.testing.assert_array_equal(t(res)['text_tokens'], tokenize(['a photo with a a', 'a photo with a b',
                                                                   'a photo with a b']).numpy())
    res, _ = _results()
    res.pop('classes')
    with pytest.raises(KeyError, match='class_names'):
        OneFormerTaskTargets()(res)
    res, _ = _results()
    res.pop('num_things_classes')
    with pytest.raises(KeyError, match='num_things_classes'):
        OneFormerTaskTargets()(res)


def test_model_sizes_are_refused_with_a_pointer_to_the_model():
    for key in ('num_queries', 'num_text_ctx', 'num_stuff_classes', 'test_task'):
        with pytest.raises(TypeError, match=f'no longer takes {key}.*model owns'):
            OneFormerTaskTargets(**{key: 1})


def test_empty_image_gives_no_targets():
    res = dict(gt_masks=BitmapMasks([], 5, 5), gt_bboxes=HorizontalBoxes(np.zeros((0, 4), np.float32)),
               gt_bboxes_labels=np.zeros(0, np.int64), gt_ignore_flags=np.zeros(0, bool), classes=CLASSES,
               num_things_classes=2)
    for task in ('semantic', 'instance', 'panoptic'):
        out = OneFormerTaskTargets(task_probs={task: 1.0})(dict(res))
        assert out['gt_masks'].masks.shape == (0, 5, 5) and len(out['gt_bboxes']) == 0
        assert out['text_tokens'].shape == (0, 77)


def test_label_and_dataset_consistency_errors():
    res, _ = _results()
    res['gt_bboxes_labels'][0] = 4
    with pytest.raises(ValueError, match=r'Label\(s\) \[4\] of x.jpg are outside \[0, 4\)'):
        OneFormerTaskTargets(task_probs=dict(panoptic=1.0))(res)
    res, _ = _results()
    with pytest.raises(ValueError, match='dataset has 2 thing classes .* num_things_classes=3'):
        OneFormerTaskTargets(num_things_classes=3)(res)
    res, _ = _results()
    with pytest.raises(KeyError, match='LoadPanopticSegments'):
        OneFormerTaskTargets()(dict(img_path='x.jpg', classes=CLASSES, num_things_classes=2))


@pytest.mark.parametrize('probs, match', [
    (dict(semantic=0.5, depth=0.5), "unknown task 'depth'"),
    (dict(semantic=1.2, panoptic=-0.2), r"task_probs\['panoptic'\] must be a non-negative number, got -0.2"),
    (dict(semantic=0.3, panoptic=0.3), 'must sum to 1, got 0.6'),
    (dict(semantic=float('nan'), panoptic=1.0), 'semantic'),
    (dict(semantic='0.5', panoptic=0.5), "'0.5'"),
    ({}, 'non-empty'),
])
def test_task_probs_validation(probs, match):
    with pytest.raises(ValueError, match=match):
        check_task_probs(probs)
    with pytest.raises(ValueError, match=match):
        OneFormerTaskTargets(task_probs=probs)


def test_sampling_frequencies_match_probabilities():
    np.random.seed(1)
    t = OneFormerTaskTargets(task_probs=dict(semantic=0.2, instance=0.3, panoptic=0.5))
    draws = [t.sample_task() for _ in range(3000)]
    for task, p in dict(semantic=0.2, instance=0.3, panoptic=0.5).items():
        assert abs(draws.count(task) / 3000 - p) < 0.03, task


def test_zero_probability_task_never_drawn():
    np.random.seed(2)
    t = OneFormerTaskTargets(task_probs=dict(semantic=0.5, instance=0.0, panoptic=0.5))  # Mapillary
    draws = [t.sample_task() for _ in range(3000)]
    assert 'instance' not in draws
    assert abs(draws.count('semantic') / 3000 - 0.5) < 0.03


def test_default_is_uniform_and_thresholds_follow_official_order(monkeypatch):
    t = OneFormerTaskTargets()
    assert t.task_probs == pytest.approx(dict(semantic=1 / 3, instance=1 / 3, panoptic=1 / 3))
    t = OneFormerTaskTargets(task_probs=dict(semantic=0.33, instance=0.33, panoptic=0.34))
    for u, task in ((0.0, 'semantic'), (0.3299, 'semantic'), (0.33, 'instance'), (0.6599, 'instance'),
                    (0.66, 'panoptic'), (0.9999999, 'panoptic')):
        monkeypatch.setattr(np.random, 'random_sample', lambda u=u: u)
        assert t.sample_task() == task, u


def test_sampling_is_reproducible_with_numpy_seed():
    t = OneFormerTaskTargets()
    np.random.seed(123)
    a = [t.sample_task() for _ in range(50)]
    np.random.seed(123)
    assert a == [t.sample_task() for _ in range(50)]
    assert len(set(a)) == 3
