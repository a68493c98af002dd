"""OneFormerFusionHead on hand-built logits: panoptic thresholds/overlap/stuff merge, instance top-k, semantic."""

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import ConfigDict

import oneformer  # noqa: F401

INF = 20.0
K = 4  # classes 0, 1 are things; 2, 3 stuff


def _head(**test_cfg):
    return MODELS.build(dict(type='OneFormerFusionHead', num_things_classes=2, num_stuff_classes=2,
                             test_cfg=ConfigDict(dict(object_mask_thr=0.8, iou_thr=0.8, max_per_image=4), **test_cfg)))


def _cls(label, prob):
    """Logits over K+1 whose softmax gives ``prob`` for ``label`` and splits the rest evenly."""
    rest = (1 - prob) / K
    p = torch.full((K + 1, ), rest)
    p[label] = prob
    return p.log()


def _mask(*boxes, size=8):
    m = torch.full((size, size), -INF)
    for y0, y1, x0, x1 in boxes:
        m[y0:y1, x0:x1] = INF
    return m


def _queries():
    cls = torch.stack([
        _cls(0, 0.95),  # q0 person, top-left
        _cls(0, 0.90),  # q1 person, bottom-left
        _cls(2, 0.92),  # q2 sky, top-right
        _cls(2, 0.91),  # q3 sky, bottom-right -> merged with q2
        _cls(1, 0.50),  # q4 below object_mask_thr -> dropped
        _cls(1, 0.85),  # q5 same pixels as q0 but lower score: argmax region empty -> dropped
        _cls(K, 0.99),  # q6 "no object"
    ])
    masks = torch.stack([
        _mask((0, 4, 0, 4)), _mask((4, 8, 0, 4)), _mask((0, 4, 4, 8)), _mask((4, 8, 4, 8)),
        _mask((0, 8, 0, 8)), _mask((0, 4, 0, 4)), _mask((0, 8, 0, 8))
    ])
    return cls, masks


def test_panoptic_thresholds_instances_and_stuff_merge():
    cls, masks = _queries()
    pan = _head().panoptic_postprocess(cls, masks).sem_seg[0]
    expected = torch.empty(8, 8, dtype=torch.int32)
    expected[:4, :4] = 0 + 1 * 1000
    expected[4:, :4] = 0 + 2 * 1000
    expected[:, 4:] = 2  # both stuff queries of class 2 share one segment
    assert torch.equal(pan, expected)


def test_panoptic_overlap_threshold_drops_mostly_covered_segment():
    cls = torch.stack([_cls(0, 0.95), _cls(1, 0.90)])
    # q1's mask is 4x8 = 32 px, but q0 (higher score) takes 4x5 = 20 of them: 12/32 < 0.8 -> dropped
    masks = torch.stack([_mask((0, 4, 0, 5)), _mask((0, 4, 0, 8))])
    pan = _head().panoptic_postprocess(cls, masks).sem_seg[0]
    assert set(pan.unique().tolist()) == {1000, K}  # q0 and void
    # with a permissive overlap threshold q1 keeps the pixels it won
    pan = _head(iou_thr=0.3).panoptic_postprocess(cls, masks).sem_seg[0]
    assert (pan[:4, 5:] == 1 + 2 * 1000).all()


def test_panoptic_segment_is_argmax_region_intersected_with_mask():
    cls = torch.stack([_cls(2, 0.95)])
    m = _mask((0, 4, 0, 8))
    m[:4, 6:] = -0.5  # sigmoid < 0.5 but still this query's argmax (it is the only query)
    pan = _head(iou_thr=0.0).panoptic_postprocess(cls, torch.stack([m])).sem_seg[0]
    assert (pan[:4, :6] == 2).all() and (pan[:4, 6:] == K).all() and (pan[4:] == K).all()


def test_panoptic_nothing_kept_is_all_void():
    cls = torch.stack([_cls(0, 0.5)])
    pan = _head().panoptic_postprocess(cls, torch.stack([_mask((0, 8, 0, 8))])).sem_seg
    assert (pan == K).all()


def test_instance_topk_scores_and_thing_filter():
    cls, masks = _queries()
    res = _head().instance_postprocess(cls, masks)
    # top-4 of the 7x4 class probabilities are q0/0 .95, q2/2 .92, q3/2 .91, q1/0 .90; stuff is then removed
    assert sorted(res.labels.tolist()) == [0, 0]
    order = res.scores.argsort(descending=True)
    # score = class prob x mean sigmoid inside the binary mask (sigmoid(20) ~ 1)
    assert torch.allclose(res.scores[order], torch.tensor([0.95, 0.90]) * torch.sigmoid(torch.tensor(INF)),
                          atol=1e-6)
    top = res.masks[order[0]]
    assert top[:4, :4].all() and top.sum() == 16
    assert res.bboxes[order[0]].tolist() == [0, 0, 4, 4]


def test_semantic_is_argmax_of_prob_weighted_masks():
    cls, masks = _queries()
    head = _head()
    scores = head.semantic_scores(cls, masks)
    expected = torch.einsum('qc,qhw->chw', torch.softmax(cls, -1)[:, :-1], masks.sigmoid())
    torch.testing.assert_close(scores, expected)
    sem = head.semantic_postprocess(cls, masks).sem_seg[0]
    assert (sem[:, 4:] == 2).all()
    # top-left: class 1 gets q4 (0.5) + q5 (0.85) = 1.35 > class 0 from q0 (0.95); bottom-left: q1 0.90 > q4 0.5
    assert (sem[:4, :4] == 1).all() and (sem[4:, :4] == 0).all()
    # by hand at pixel (0, 0): queries covering it are q0, q4, q5, q6 with class-1 probs .0125, .5, .85, .0025
    assert float(scores[1, 0, 0]) == pytest.approx(0.0125 + 0.5 + 0.85 + 0.0025, abs=1e-5)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_instance_postprocess_equals_mmdet_formulation(seed):
    """Our instance post-processing (owned here, also used to pick the mask rows to upsample) gives exactly what
    mmdet 3.3's ``MaskFormerFusionHead.instance_postprocess`` computes on the same logits."""
    from mmdet.models.seg_heads.panoptic_fusion_heads import MaskFormerFusionHead
    g = torch.Generator().manual_seed(seed)
    head = _head(max_per_image=7)
    cls = 2 * torch.randn(6, K + 1, generator=g)
    masks = 3 * torch.randn(6, 8, 8, generator=g)
    ours = head.instance_postprocess(cls, masks)
    ref = MaskFormerFusionHead.instance_postprocess(head, cls, masks)
    assert len(ref) > 0 and (ref.labels < 2).all()
    for key in ('labels', 'scores', 'masks', 'bboxes'):
        assert torch.equal(ours.get(key), ref.get(key)), key
    queries = head.instance_queries(cls)[0]
    assert set(queries.tolist()) <= set(head.read_queries(cls, ('instance', )).tolist())
