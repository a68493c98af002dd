"""The post-processing speed-ups leave results unchanged: ``OneFormerFusionHead.predict`` on 1/4-scale masks (only
the queries an output reads are upsampled) vs. upsampling every query to the padded input first, then the
per-task post-processors (bit-exact on mask logits whose bilinear upsampling is exact, equal up to float rounding
(~1 ulp) on arbitrary floats); the vectorised panoptic post-processing vs. the per-segment loop."""
import itertools

import pytest
import torch
import torch.nn.functional as F
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict

import oneformer  # noqa: F401
from oneformer.tasks import TASKS

pytestmark = pytest.mark.usefixtures('one_thread')


NT, NS = 3, 2  # things 0..2, stuff 3..4
K = NT + NS
NQ = 12


def _fusion_head(thr, max_per_image, iou_thr=0.8):
    return MODELS.build(dict(type='OneFormerFusionHead', num_things_classes=NT, num_stuff_classes=NS,
                             test_cfg=ConfigDict(object_mask_thr=thr, iou_thr=iou_thr,
                                                 max_per_image=max_per_image)))


def _structured_inputs(seed, batch, quarter_shape, nobody_passes=False, quantum=1 / 64):
    """Class logits with a few confident (thing and stuff) queries, some confident "no object" ones, the rest
    vague; masks: smooth blobs, near duplicates (overlap / close argmax) and exact duplicates with the same
    class logits (exact ties).

    ``quantum``: mask logits are rounded to multiples of it. With 1/64, a 4x bilinear upsampling (weights k/8)
    is exact in float32 whichever kernel path computes it, so "old" and "new" must agree bit for bit. CPU
    bilinear kernels vectorise over channels in blocks (8 floats here): on arbitrary floats a query's values
    then depend on its position among the resized channels by ~1 ulp (see the float test below)."""
    g = torch.Generator().manual_seed(seed)
    cls = 0.5 * torch.randn(batch, NQ, K + 1, generator=g)
    if not nobody_passes:
        for b in range(batch):
            confident = torch.randperm(NQ, generator=g)[:6]
            for i, q in enumerate(confident.tolist()):
                label = [0, 1, 3, 4, 2, 0][i]  # things and stuff, two queries of class 0
                cls[b, q, label] += float(torch.empty(1).uniform_(3.0, 7.0, generator=g))
            cls[b, confident[-1], K] += 2.0  # competes with "no object"
    no_object = torch.randperm(NQ, generator=g)[:2]
    cls[:, no_object, K] += 8.0
    h, w = quarter_shape
    low = torch.randn(batch, NQ, max(h // 2, 1), max(w // 2, 1), generator=g) * 4
    masks = F.interpolate(low, size=(h, w), mode='bilinear', align_corners=False)
    masks = masks + 0.5 * torch.randn(batch, NQ, h, w, generator=g)
    masks[:, 1] = masks[:, 0] + 0.05 * torch.randn(batch, h, w, generator=g)  # near duplicate
    masks[:, 3] = masks[:, 2]  # exact duplicate ...
    cls[:, 3] = cls[:, 2]  # ... with the same class logits: exact ties in the panoptic argmax
    masks[:, 5] = masks[:, 4] - 0.3  # same shape, lower
    masks[:, 6] = -12.0
    masks[:, 6, :, :w // 2] = 12.0  # saturated on the left half
    if quantum:
        masks = (masks / quantum).round() * quantum
    return cls, masks


def _samples(batch_input_shape, shapes):
    samples = []
    for img_shape, ori_shape in shapes:
        s = DetDataSample()
        s.set_metainfo(dict(img_shape=img_shape, ori_shape=ori_shape, batch_input_shape=batch_input_shape))
        samples.append(s)
    return samples


def _old_predict(head, cls, masks, samples, rescale, outputs):
    """The pre-optimisation pipeline: every query upsampled to the padded input, cropped, resized."""
    full = F.interpolate(masks, size=samples[0].metainfo['batch_input_shape'], mode='bilinear',
                         align_corners=False)
    results = []
    for mask_cls, mask_pred, sample in zip(cls, full, samples):
        h, w = sample.metainfo['img_shape'][:2]
        mask_pred = mask_pred[:, :h, :w]
        if rescale:
            mask_pred = F.interpolate(mask_pred[:, None], size=sample.metainfo['ori_shape'][:2],
                                      mode='bilinear', align_corners=False)[:, 0]
        result = {}
        for task in outputs:
            result[task] = getattr(head, f'{task}_postprocess')(mask_cls, mask_pred)
        results.append(result)
    return results


def _assert_same_results(new, old, outputs):
    assert len(new) == len(old)
    for a, b in zip(new, old):
        assert set(a) == set(outputs) == set(b)
        if 'panoptic' in b:
            assert torch.equal(a['panoptic'].sem_seg, b['panoptic'].sem_seg)
        if 'semantic' in b:
            assert torch.equal(a['semantic'].sem_seg, b['semantic'].sem_seg)
        if 'instance' in b:
            for key in ('labels', 'scores', 'masks', 'bboxes'):
                assert torch.equal(a['instance'].get(key), b['instance'].get(key)), key


ALL_OUTPUTS = [combo for r in (1, 2, 3) for combo in itertools.combinations(TASKS, r)]
BATCH_INPUT = (32, 40)
# (img_shape, ori_shape): padded on both sides / one side / not at all; ori larger, smaller, other aspect, equal
SHAPES = [((27, 35), (54, 30)), ((32, 29), (16, 20)), ((32, 40), (32, 40))]


@pytest.mark.parametrize('thr', [0.0, 0.5, 0.8])
@pytest.mark.parametrize('rescale', [False, True])
def test_fusion_predict_quarter_masks_equals_full_upsampling(thr, rescale):
    checked = dict(kept=0, instances=0, subsets=0, things=0, stuff=0)
    for seed, max_per_image, iou_thr in [(0, 7, 0.8), (1, NQ, 0.5), (2, NQ * K, 0.3)]:
        head = _fusion_head(thr, max_per_image, iou_thr)
        cls, masks = _structured_inputs(seed, len(SHAPES), (BATCH_INPUT[0] // 4, BATCH_INPUT[1] // 4))
        samples = _samples(BATCH_INPUT, SHAPES)
        for outputs in ALL_OUTPUTS:
            for c in cls:  # the partial-upsampling path is taken (not only "all queries")
                read = head.read_queries(c, outputs)
                checked['subsets'] += int(read is not None and 0 < read.numel() < NQ)
            new = head.predict(cls, masks, samples, rescale=rescale, tasks=outputs)
            old = _old_predict(head, cls, masks, samples, rescale, outputs)
            _assert_same_results(new, old, outputs)
            if 'panoptic' in outputs:
                checked['kept'] += sum(int((r['panoptic'].sem_seg != K).sum()) for r in old)
                ids = torch.cat([r['panoptic'].sem_seg.flatten() for r in old])
                checked['things'] += int((ids >= 1000).sum())
                checked['stuff'] += int(((ids >= NT) & (ids < K)).sum())
            if 'instance' in outputs:
                checked['instances'] += sum(len(r['instance']) for r in old)
            for r, s in zip(new, samples):
                expected = s.metainfo['ori_shape'] if rescale else s.metainfo['img_shape']
                for key in ('panoptic', 'semantic'):
                    if key in r:
                        assert tuple(r[key].sem_seg.shape[-2:]) == expected
    # the inputs exercise real segments and instances (not only void / empty results)
    assert checked['kept'] > 0 and checked['instances'] > 0 and checked['subsets'] > 0
    assert checked['things'] > 0 and checked['stuff'] > 0


def test_fusion_predict_float_masks_equal_up_to_rounding():
    """Unquantised logits: the resized rows agree with the full resize to ~1 ulp (not bit for bit), discrete
    results (ids, labels, binary masks, boxes) are the same and the instance scores equal to float rounding."""
    head = _fusion_head(0.5, NQ)
    cls, masks = _structured_inputs(5, len(SHAPES), (8, 10), quantum=None)
    samples = _samples(BATCH_INPUT, SHAPES)
    full = F.interpolate(masks, size=BATCH_INPUT, mode='bilinear', align_corners=False)
    for queries in ([0], [2, 3, 7], list(range(NQ))):
        rows = head.resize_masks(masks[0], torch.tensor(queries), BATCH_INPUT, BATCH_INPUT, BATCH_INPUT)[queries]
        torch.testing.assert_close(rows, full[0, queries], atol=1e-5, rtol=1e-6)
    for rescale, outputs in itertools.product([False, True], ALL_OUTPUTS):
        new = head.predict(cls, masks, samples, rescale=rescale, tasks=outputs)
        old = _old_predict(head, cls, masks, samples, rescale, outputs)
        for a, b in zip(new, old):
            if 'instance' in b:
                torch.testing.assert_close(a['instance'].scores, b['instance'].scores, atol=1e-6, rtol=1e-5)
                a['instance'].scores = b['instance'].scores
        _assert_same_results(new, old, outputs)


def test_fusion_predict_full_resolution_masks_unchanged():
    """Masks already at the padded input size (the previous contract) give the same results as before."""
    head = _fusion_head(0.5, NQ)
    cls, masks = _structured_inputs(7, len(SHAPES), (8, 10))
    masks = F.interpolate(masks, size=BATCH_INPUT, mode='bilinear', align_corners=False)
    samples = _samples(BATCH_INPUT, SHAPES)
    for rescale, outputs in itertools.product([False, True], ALL_OUTPUTS):
        _assert_same_results(head.predict(cls, masks, samples, rescale=rescale, tasks=outputs),
                             _old_predict(head, cls, masks, samples, rescale, outputs), outputs)


def test_fusion_predict_no_query_passes_panoptic_threshold():
    head = _fusion_head(0.8, NQ)
    cls, masks = _structured_inputs(3, len(SHAPES), (8, 10), nobody_passes=True)
    assert head.read_queries(cls[0], ('panoptic', )).numel() == 0
    samples = _samples(BATCH_INPUT, SHAPES)
    for rescale, outputs in itertools.product([False, True], ALL_OUTPUTS):
        new = head.predict(cls, masks, samples, rescale=rescale, tasks=outputs)
        _assert_same_results(new, _old_predict(head, cls, masks, samples, rescale, outputs), outputs)
        if 'panoptic' in outputs:
            assert all((r['panoptic'].sem_seg == K).all() for r in new)


def test_fusion_read_queries_is_what_the_postprocessors_read():
    """NaN in every unread query: the results still equal the reference computed without them."""
    for thr, outputs in itertools.product([0.0, 0.5, 0.8], [('panoptic', ), ('instance', ),
                                                             ('panoptic', 'instance')]):
        head = _fusion_head(thr, 7)
        cls, masks = _structured_inputs(11, 1, (8, 10))
        read = head.read_queries(cls[0], outputs)
        unread = torch.ones(NQ, dtype=torch.bool)
        unread[read] = False
        assert unread.any()  # the selection does skip queries
        poisoned = masks.clone()
        poisoned[0, unread] = float('nan')
        samples = _samples(BATCH_INPUT, SHAPES[:1])
        new = head.predict(cls, poisoned, samples, rescale=True, tasks=outputs)
        _assert_same_results(new, _old_predict(head, cls, masks, samples, True, outputs), outputs)


def test_fusion_max_indices_break_ties_like_argmax():
    """``max(0).indices`` replaced ``argmax(0)``: on exact ties both must pick the first query / class."""
    head = _fusion_head(0.3, NQ, iou_thr=0.0)
    g = torch.Generator().manual_seed(0)
    masks = torch.randn(NQ, 16, 16, generator=g).round()  # many equal values
    masks[4:] = masks[:4].repeat(2, 1, 1)  # every mask three times
    cls = torch.zeros(NQ, K + 1)
    cls[:, 0] = 5.0  # same thing class for all queries: identical scores, so score x mask ties exactly
    cls[:, 1] = 5.0  # class 1 ties with class 0 in the semantic scores everywhere
    sem = head.semantic_postprocess(cls, masks).sem_seg[0]
    assert torch.equal(sem, head.semantic_scores(cls, masks).argmax(0)) and (sem == 0).all()
    # panoptic: copies 4..7 / 8..11 of masks 0..3 with another thing class of the same probability
    cls = torch.zeros(NQ, K + 1)
    cls[:4, 0] = cls[4:8, 1] = cls[8:, 2] = 5.0
    pan = head.panoptic_postprocess(cls, masks).sem_seg[0]
    # the first copies (class 0) win every tie: the copies do not change the result
    assert torch.equal(pan, head.panoptic_postprocess(cls[:4], masks[:4]).sem_seg[0])
    assert sorted(pan[pan != K].unique().tolist()) == [1000, 2000, 3000, 4000]


def test_fusion_predict_quarter_masks_without_batch_input_shape_is_an_error():
    """1/4-scale masks cannot be placed without the padded input size: a clear error, not stretched masks."""
    head = _fusion_head(0.5, NQ)
    cls, masks = _structured_inputs(1, 1, (8, 10))
    sample = DetDataSample()
    sample.set_metainfo(dict(img_shape=(30, 38), ori_shape=(30, 38)))
    with pytest.raises(KeyError, match='batch_input_shape'):
        head.predict(cls, masks, [sample], tasks=('semantic', ))


def _loop_panoptic(head, mask_cls, mask_pred):
    """The previous panoptic post-processing: (kept, H, W) boolean maps and a Python loop over segments."""
    thr, iou_thr = head.test_cfg.get('object_mask_thr', 0.8), head.test_cfg.get('iou_thr', 0.8)
    scores, labels = F.softmax(mask_cls, dim=-1).max(-1)
    keep = labels.ne(head.num_classes) & (scores > thr)
    scores, labels, masks = scores[keep], labels[keep], mask_pred[keep].sigmoid()
    out = torch.full(mask_pred.shape[-2:], head.num_classes, dtype=torch.int32)
    if masks.shape[0] == 0:
        return out
    mask_ids = (scores[:, None, None] * masks).argmax(0)
    binary = masks >= 0.5
    instance_id = 1
    for k in range(masks.shape[0]):
        region = mask_ids == k
        segment = region & binary[k]
        region_area, mask_area, seg_area = int(region.sum()), int(binary[k].sum()), int(segment.sum())
        if not (region_area > 0 and mask_area > 0 and seg_area > 0 and region_area >= iou_thr * mask_area):
            continue
        label = int(labels[k])
        if label < head.num_things_classes:
            out[segment] = label + instance_id * INSTANCE_OFFSET
            instance_id += 1
        else:
            out[segment] = label
    return out


@pytest.mark.parametrize('thr', [0.0, 0.5, 0.8])
@pytest.mark.parametrize('iou_thr', [0.3, 0.8, 1.0])
def test_panoptic_postprocess_vectorised_equals_segment_loop(thr, iou_thr):
    head = _fusion_head(thr, NQ, iou_thr=iou_thr)
    segments = 0
    for seed in range(6):
        cls, masks = _structured_inputs(seed, 1, (24, 31), quantum=0)
        if seed % 2:  # sharp, mostly disjoint masks (high overlap ratios: segments survive iou_thr 0.8 / 1.0)
            g = torch.Generator().manual_seed(seed)
            owner = torch.randint(0, NQ, (1, 1, 6, 8), generator=g).float()
            owner = F.interpolate(owner, size=(24, 31), mode='nearest')[0, 0].long()
            masks = 10 * F.one_hot(owner, NQ).permute(2, 0, 1)[None].float() - 5
            masks += 0.5 * torch.randn(masks.shape, generator=g)
        new = head.panoptic_postprocess(cls[0], masks[0]).sem_seg[0]
        old = _loop_panoptic(head, cls[0], masks[0])
        assert torch.equal(new, old), (seed, thr, iou_thr)
        segments += len(old.unique())
    assert segments > 8  # several segments (things with instance ids, merged stuff) were compared
