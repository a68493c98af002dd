"""The speed optimisations leave results unchanged: each is compared with a straightforward reference.

* ``TextTransformer.forward`` (unique texts encoded once, sequence cut after the longest text) vs. encoding
  every row over all 77 positions (outputs and parameter gradients).
* ``OneFormerFusionHead.predict`` on 1/4-scale masks (only the queries an output reads are upsampled) vs.
  upsampling every query to the padded input first, then the per-task post-processors: bit-exact on mask
  logits whose bilinear upsampling is exact, equal up to float rounding (~1 ulp) on arbitrary floats.
* ``TaskGuidedQueryTransformer`` (fused attention at inference, cached sine encoding) vs. stock
  ``nn.MultiheadAttention`` and the encoding recomputed on every call.
"""
import copy
import itertools
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import Conv2d
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.models.layers import DetrTransformerDecoder, SinePositionalEncoding
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config, ConfigDict

import oneformer  # noqa: F401
from oneformer.datasets.transforms.task_targets import build_text_list
from oneformer.models.oneformer_fusion_head import RESULT_KEYS
from oneformer.models.query_attention import QueryMultiheadAttention
from oneformer.models.text_mapper import TextTransformer
from oneformer.utils import TASKS, tokenize

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(autouse=True, scope='module')
def _one_thread():
    """Tiny tensors: one intra-op thread avoids OpenMP oversubscription when other jobs share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------------- text encoder
CLASS_NAMES = ('person', 'car', 'traffic light', 'sky', 'road', 'potted plant')


def _text_encoder(seed=0) -> TextTransformer:
    torch.manual_seed(seed)
    enc = TextTransformer(context_length=77, width=32, num_layers=2, num_heads=2, vocab_size=49408)
    enc.init_weights()
    for p in enc.parameters():  # CLIP init leaves biases / LN at 0 / 1: perturb them so they matter too
        if p.dim() == 1:
            p.data.add_(0.1 * torch.randn_like(p))
    return enc


def _reference_text(enc: TextTransformer, tokens: torch.Tensor) -> torch.Tensor:
    """Every row, all 77 positions, the full mask, state at the EOT token (the largest id)."""
    x = enc.token_embedding(tokens) + enc.positional_embedding
    for block in enc.transformer.resblocks:
        x = block(x, enc.attn_mask)
    x = enc.ln_final(x)
    return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)]


def _text_tokens(task='panoptic', labels=(0, 0, 0, 1, 3, 4, 4, 5, 2), num_texts=20) -> torch.Tensor:
    texts = build_text_list(np.array(labels), task, CLASS_NAMES, num_texts)
    return tokenize(texts)


def _assert_grads_match(enc, tokens, seed=1):
    params = [p for p in enc.parameters()]
    out = enc(tokens)
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed))
    grads = torch.autograd.grad(out, params, g)
    ref = _reference_text(enc, tokens)
    ref_grads = torch.autograd.grad(ref, params, g)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    for (name, _), a, b in zip(enc.named_parameters(), grads, ref_grads):
        scale = b.abs().max().item()
        assert scale > 0, f'{name}: reference gradient is zero (test would be vacuous)'
        err = (a - b).abs().max().item()
        assert err <= 1e-4 * scale + 1e-8, f'gradient of {name} differs: max err {err:.3g} (scale {scale:.3g})'


@pytest.mark.parametrize('task', TASKS)
def test_text_encoder_matches_full_length_reference(task):
    enc = _text_encoder()
    tokens = _text_tokens(task)
    # realistic list: repeated class names and many pad texts -> far fewer distinct rows, short texts
    assert len(torch.unique(tokens, dim=0)) < tokens.shape[0]
    assert int(tokens.argmax(-1).max()) + 1 < 20
    _assert_grads_match(enc, tokens)
    enc.eval()
    with torch.no_grad():
        torch.testing.assert_close(enc(tokens), _reference_text(enc, tokens), atol=1e-5, rtol=0)


def test_text_encoder_output_order_follows_input_rows():
    """Distinct texts in a shuffled order: the gather with ``inverse`` puts each result back on its row."""
    enc = _text_encoder(seed=3)
    tokens = _text_tokens(labels=(5, 4, 3, 2, 1, 0, 0, 2), num_texts=12)
    perm = torch.randperm(tokens.shape[0], generator=torch.Generator().manual_seed(0))
    tokens = tokens[perm]
    out, ref = enc(tokens), _reference_text(enc, tokens)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    # rows of different texts really differ (the comparison above is not trivially satisfied)
    assert (out[:, None] - out[None]).abs().amax(-1).gt(1e-3).sum() > 0


def test_text_encoder_longest_text_uses_full_context():
    """A text truncated by the tokenizer has its EOT at position 76: nothing can be cut."""
    enc = _text_encoder(seed=2)
    long_text = 'a photo with a ' + ' '.join(['very'] * 100) + ' large person'
    tokens = torch.cat([tokenize([long_text]), _text_tokens(num_texts=6)])
    assert int(tokens[0].argmax()) == 76
    _assert_grads_match(enc, tokens)


@pytest.mark.parametrize('rows', [1, 7])
def test_text_encoder_identical_rows_and_single_row(rows):
    enc = _text_encoder(seed=4)
    tokens = tokenize(['a panoptic photo'] * rows)
    out = enc(tokens)
    assert out.shape == (rows, 32)
    _assert_grads_match(enc, tokens)
    if rows > 1:
        assert torch.equal(out, out[:1].expand_as(out))  # one encoding, broadcast


@pytest.mark.parametrize('mask_kind', ['zeros', 'one_future_entry'])
def test_text_encoder_non_causal_mask_disables_truncation(mask_kind):
    enc = _text_encoder(seed=5)
    tokens = _text_tokens(num_texts=10)
    causal_out = enc(tokens).detach()
    if mask_kind == 'zeros':  # every position sees the zero padding after the texts
        enc.attn_mask = torch.zeros(77, 77)
    else:  # causal except that position 0 sees the last position
        mask = enc.attn_mask.clone()
        mask[0, 76] = 0
        enc.attn_mask = mask
    ref = _reference_text(enc, tokens)
    # the padding now changes the result: a truncated encoding could not reproduce it
    assert (ref - causal_out).abs().max() > 1e-3
    _assert_grads_match(enc, tokens)


# --------------------------------------------------------------------------------------------- fusion head
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
            result[RESULT_KEYS[task]] = getattr(head, f'{task}_postprocess')(mask_cls, mask_pred)
        results.append(result)
    return results


def _assert_same_results(new, old, outputs):
    assert len(new) == len(old)
    for a, b in zip(new, old):
        assert set(a) == {RESULT_KEYS[t] for t in outputs} == set(b)
        if 'pan_results' in b:
            assert torch.equal(a['pan_results'].sem_seg, b['pan_results'].sem_seg)
        if 'sem_results' in b:
            assert torch.equal(a['sem_results'].sem_seg, b['sem_results'].sem_seg)
        if 'ins_results' in b:
            for key in ('labels', 'scores', 'masks', 'bboxes'):
                assert torch.equal(a['ins_results'].get(key), b['ins_results'].get(key)), key


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
            new = head.predict(cls, masks, samples, rescale=rescale, outputs=outputs)
            old = _old_predict(head, cls, masks, samples, rescale, outputs)
            _assert_same_results(new, old, outputs)
            if 'panoptic' in outputs:
                checked['kept'] += sum(int((r['pan_results'].sem_seg != K).sum()) for r in old)
                ids = torch.cat([r['pan_results'].sem_seg.flatten() for r in old])
                checked['things'] += int((ids >= 1000).sum())
                checked['stuff'] += int(((ids >= NT) & (ids < K)).sum())
            if 'instance' in outputs:
                checked['instances'] += sum(len(r['ins_results']) for r in old)
            for r, s in zip(new, samples):
                expected = s.metainfo['ori_shape'] if rescale else s.metainfo['img_shape']
                for key in ('pan_results', 'sem_results'):
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
        new = head.predict(cls, masks, samples, rescale=rescale, outputs=outputs)
        old = _old_predict(head, cls, masks, samples, rescale, outputs)
        for a, b in zip(new, old):
            if 'ins_results' in b:
                torch.testing.assert_close(a['ins_results'].scores, b['ins_results'].scores, atol=1e-6, rtol=1e-5)
                a['ins_results'].scores = b['ins_results'].scores
        _assert_same_results(new, old, outputs)


def test_fusion_predict_full_resolution_masks_unchanged():
    """Masks already at the padded input size (the previous contract) give the same results as before."""
    head = _fusion_head(0.5, NQ)
    cls, masks = _structured_inputs(7, len(SHAPES), (8, 10))
    masks = F.interpolate(masks, size=BATCH_INPUT, mode='bilinear', align_corners=False)
    samples = _samples(BATCH_INPUT, SHAPES)
    for rescale, outputs in itertools.product([False, True], ALL_OUTPUTS):
        _assert_same_results(head.predict(cls, masks, samples, rescale=rescale, outputs=outputs),
                             _old_predict(head, cls, masks, samples, rescale, outputs), outputs)


def test_fusion_predict_no_query_passes_panoptic_threshold():
    head = _fusion_head(0.8, NQ)
    cls, masks = _structured_inputs(3, len(SHAPES), (8, 10), nobody_passes=True)
    assert head.read_queries(cls[0], ('panoptic', )).numel() == 0
    samples = _samples(BATCH_INPUT, SHAPES)
    for rescale, outputs in itertools.product([False, True], ALL_OUTPUTS):
        new = head.predict(cls, masks, samples, rescale=rescale, outputs=outputs)
        _assert_same_results(new, _old_predict(head, cls, masks, samples, rescale, outputs), outputs)
        if 'panoptic' in outputs:
            assert all((r['pan_results'].sem_seg == K).all() for r in new)


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
        new = head.predict(cls, poisoned, samples, rescale=True, outputs=outputs)
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


# --------------------------------------------------------------------------------------------- query transformer
C = 64


def _qt_cfg(dropout=0.1):
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/models/oneformer_r50.py'))
    qt = copy.deepcopy(cfg.model.panoptic_head.query_transformer)
    qt.embed_dims = C
    for k in ('self_attn_cfg', 'cross_attn_cfg'):
        qt.decoder.layer_cfg[k].update(embed_dims=C, num_heads=8, dropout=dropout)
    qt.decoder.layer_cfg.ffn_cfg.update(embed_dims=C, feedforward_channels=128, ffn_drop=dropout)
    return qt


def _query_transformer(dropout=0.1, seed=0):
    torch.manual_seed(seed)
    qt = MODELS.build(_qt_cfg(dropout))
    qt.init_weights()
    for p in qt.parameters():  # non-zero biases so every parameter takes part
        if p.dim() == 1:
            p.data.add_(0.05 * torch.randn_like(p))
    return qt


def _stock_copy(qt):
    """A deep copy running the stock ``nn.MultiheadAttention`` (attention weights computed)."""
    stock = copy.deepcopy(qt)
    for layer in stock.decoder.layers:
        for attn in (layer.self_attn, layer.cross_attn):
            assert type(attn.attn) is QueryMultiheadAttention
            attn.attn.__class__ = nn.MultiheadAttention
    return stock


def _old_forward(qt, task_token, mask_features, query_pos):
    """The pre-optimisation forward: sine encoding recomputed for the whole batch on every call."""
    b = mask_features.shape[0]
    pos = qt.positional_encoding(mask_features.new_zeros((b, ) + mask_features.shape[-2:]).bool())
    pos = pos.flatten(2).transpose(1, 2)
    proj = qt.input_proj(mask_features).flatten(2).transpose(1, 2)
    query = task_token[:, None].expand(-1, query_pos.shape[0], -1)
    return qt.decoder(query=query, key=pos, value=pos, query_pos=query_pos[None].expand(b, -1, -1),
                      key_pos=proj, key_padding_mask=None)[-1]


def _qt_inputs(seed, b=2, hw=(16, 16), nq=11):
    g = torch.Generator().manual_seed(seed)
    return (F.normalize(torch.randn(b, C, generator=g), dim=-1), torch.randn(b, C, *hw, generator=g),
            torch.randn(nq, C, generator=g))


def test_query_transformer_eval_fused_attention_matches_stock(monkeypatch):
    qt = _query_transformer().eval()
    stock = _stock_copy(qt).eval()
    for seed, b, hw in [(0, 2, (16, 16)), (1, 1, (8, 12)), (2, 3, (5, 7))]:
        inputs = _qt_inputs(seed, b, hw)
        with torch.no_grad():
            out = qt(*inputs)
            ref = _old_forward(stock, *inputs)
        assert out.shape == (b, 11, C)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    # the fused path is really taken in eval (no attention weights asked for), and only in eval
    seen = []
    mha_forward = torch.nn.modules.activation.F.multi_head_attention_forward

    def spy(*args, **kwargs):
        seen.append(kwargs['need_weights'])
        return mha_forward(*args, **kwargs)

    monkeypatch.setattr(torch.nn.modules.activation.F, 'multi_head_attention_forward', spy)
    with torch.no_grad():
        qt(*_qt_inputs(0))
        assert seen == [False] * 4  # 2 layers x (self, cross)
        seen.clear()
        qt.train()(*_qt_inputs(0))
        assert seen == [True] * 4  # training without gradients: the stock path
    seen.clear()
    qt(*_qt_inputs(0))
    assert seen == []  # training with gradients: DropoutAttention, stock MHA not called


@pytest.mark.parametrize('dropout', [0.0, 0.1])
def test_query_transformer_train_mode_unchanged(dropout):
    """Training keeps the stock path: same seed -> same dropout draws -> same outputs and gradients."""
    qt = _query_transformer(dropout=dropout).train()
    stock = _stock_copy(qt).train()
    inputs = _qt_inputs(4)
    torch.manual_seed(123)
    out = qt(*inputs)
    torch.manual_seed(123)
    ref = _old_forward(stock, *inputs)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=0)
    g = torch.randn_like(out)
    grads = torch.autograd.grad(out, list(qt.parameters()), g)
    ref_grads = torch.autograd.grad(ref, list(stock.parameters()), g)
    for (name, _), a, b in zip(qt.named_parameters(), grads, ref_grads):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=f'gradient of {name}')
    if dropout:  # dropout is active: another seed gives another output
        torch.manual_seed(7)
        assert (qt(*inputs) - out).abs().max() > 1e-3


def test_query_transformer_positional_cache_follows_input_size():
    qt = _query_transformer().eval()
    stock = _stock_copy(qt).eval()
    direct = SinePositionalEncoding(num_feats=C // 2, normalize=True)
    for i, (b, hw) in enumerate([(2, (16, 16)), (2, (8, 12)), (1, (16, 16)), (3, (16, 16)), (2, (12, 8))]):
        inputs = _qt_inputs(10 + i, b, hw)
        with torch.no_grad():
            out = qt(*inputs)
            torch.testing.assert_close(out, _old_forward(stock, *inputs), atol=1e-5, rtol=0)
            fresh = _query_transformer().eval()  # same seed: same weights, empty cache
            assert fresh._pos_cache is None
            assert torch.equal(out, fresh(*inputs))  # a stale cache entry would change the output
        pos = qt._sine_pos(inputs[1])
        expected = direct(torch.zeros((1, ) + hw, dtype=torch.bool)).flatten(2).transpose(1, 2)
        assert torch.equal(pos, expected)


def test_query_transformer_state_dict_names_unchanged():
    """Converters map checkpoint keys by name: same keys and shapes as a module of plain mmcv attention."""
    cfg = _qt_cfg()
    qt = _query_transformer()

    class Plain(nn.Module):  # the pre-optimisation module layout

        def __init__(self):
            super().__init__()
            self.input_proj = Conv2d(C, C, kernel_size=1)
            self.positional_encoding = SinePositionalEncoding(num_feats=C // 2, normalize=True)
            self.decoder = DetrTransformerDecoder(**cfg.decoder)

    plain = Plain()
    assert type(plain.decoder.layers[0].self_attn.attn) is nn.MultiheadAttention
    sd, plain_sd = qt.state_dict(), plain.state_dict()
    assert list(sd) == list(plain_sd)
    assert all(sd[k].shape == plain_sd[k].shape for k in sd)
    assert any(k.endswith('self_attn.attn.in_proj_weight') for k in sd)
    # and the weights load both ways (strict) with the same eval output
    plain.load_state_dict(sd)
    qt.load_state_dict(plain.state_dict())
    inputs = _qt_inputs(30)
    qt.eval()
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(qt(*inputs), _old_forward(plain, *inputs), atol=1e-5, rtol=0)


def test_fusion_predict_quarter_masks_without_batch_input_shape_is_an_error():
    """1/4-scale masks cannot be placed without the padded input size: a clear error, not stretched masks."""
    head = _fusion_head(0.5, NQ)
    cls, masks = _structured_inputs(1, 1, (8, 10))
    sample = DetDataSample()
    sample.set_metainfo(dict(img_shape=(30, 38), ori_shape=(30, 38)))
    with pytest.raises(KeyError, match='batch_input_shape'):
        head.predict(cls, masks, [sample], outputs=('semantic', ))


def test_text_encoder_empty_text_list():
    enc = _text_encoder()
    out = enc(torch.zeros((0, enc.context_length), dtype=torch.long))
    assert out.shape == (0, enc.ln_final.weight.shape[0])


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


def test_query_transformer_training_under_cpu_autocast_matches_stock():
    """bf16 autocast: the lean attention (recomputed probabilities in backward) follows the stock path."""
    qt = _query_transformer().train()
    stock = _stock_copy(qt).train()
    inputs = _qt_inputs(5)
    results = []
    for module, forward in ((qt, lambda m, *a: m(*a)), (stock, _old_forward)):
        torch.manual_seed(11)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = forward(module, *inputs)
        grads = torch.autograd.grad(out.float().sum(), list(module.parameters()), allow_unused=True)
        results.append((out.float(), grads))
    (out, grads), (ref, ref_grads) = results
    torch.testing.assert_close(out, ref, atol=5e-2, rtol=5e-2)
    pairs = [(a, b) for a, b in zip(grads, ref_grads) if b is not None]
    assert all(a is not None and torch.isfinite(a).all() for a, _ in pairs)
    # bf16 rounding differs element-wise between layouts (and some gradients are mathematically ~0, e.g. the key
    # bias under softmax): the gradient as a whole must agree
    ours = torch.cat([a.float().flatten() for a, _ in pairs])
    theirs = torch.cat([b.float().flatten() for _, b in pairs])
    assert (ours - theirs).norm() <= 2e-2 * theirs.norm()
