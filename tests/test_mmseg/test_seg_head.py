"""OneFormerSegHead: mmseg decode-head interface over OneFormerHead (semantic targets, text list, scores)."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData, PixelData
from mmseg.registry import MODELS as SEG_MODELS
from mmseg.structures import SegDataSample

from oneformer.models import OneFormerFusionHead, OneFormerHead
from oneformer.tasks import task_tokens, tokenize
from oneformer.testing import tiny_seg_model_cfg

from .conftest import CLASS_NAMES, load_config

K, N, CTX = len(CLASS_NAMES), 12, 4
H = W = 64


@pytest.fixture(scope='module')
def head_cfg():
    cfg = tiny_seg_model_cfg(load_config(), CLASS_NAMES, num_queries=N, num_ctx=CTX).decode_head
    cfg.update(in_channels=[16, 32, 64, 128], strides=[4, 8, 16, 32])  # built alone: no backbone to probe
    return cfg


def _head(head_cfg, **overrides):
    torch.manual_seed(0)
    cfg = copy.deepcopy(head_cfg)  # ConfigDict.update merges into nested dicts in place
    for k, v in overrides.items():
        cfg[k] = v
    head = SEG_MODELS.build(cfg)
    head.init_weights()
    return head


def _feats(batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, c, H // s, W // s, generator=g) for c, s in ((16, 4), (32, 8), (64, 16), (128, 32))]


def _label_maps():
    a = torch.full((1, H, W), 255, dtype=torch.long)  # ignore everywhere except:
    a[:, :32, :] = 1  # road (top half)
    a[:, 40:, 10:30] = 3  # tree
    b = torch.zeros((1, H, W), dtype=torch.long)  # sky
    b[:, :, 50:] = 2  # car
    b[:, 60:, :] = 255
    return [a, b]


def _seg_samples(maps, pad=(H, W)):
    samples = []
    for m in maps:
        s = SegDataSample(metainfo=dict(img_shape=(H, W), pad_shape=pad, ori_shape=(H, W)))
        s.gt_sem_seg = PixelData(data=m)
        samples.append(s)
    return samples


def _texts(labels):
    """The semantic text list written out by hand (the official dataset mapper): class-id order, then pad text."""
    texts = [f'a photo with a {CLASS_NAMES[c]}' for c in labels]
    return texts + ['a semantic photo'] * (N - CTX - len(texts))


def _padded(head, labels):
    """The padded text tokens the head feeds its text mapper for one image with GT ``labels``."""
    sample = DetDataSample(metainfo=dict(text_tokens=head.class_text_tokens(labels)))
    return head.text_tokens([sample], ['semantic'], 'cpu')[0]


def test_semantic_targets_and_text_tokens(head_cfg):
    head = _head(head_cfg)
    a, b = _label_maps()
    gt = head.semantic_targets(a)
    assert gt.labels.tolist() == [1, 3]  # 255 dropped, class-id order
    assert torch.equal(gt.masks[0], a[0] == 1) and torch.equal(gt.masks[1], a[0] == 3)
    assert torch.equal(_padded(head, gt.labels), tokenize(_texts([1, 3])))
    assert torch.equal(_padded(head, head.semantic_targets(b).labels), tokenize(_texts([0, 2])))
    # all-ignore image: no targets, all pad texts
    empty = head.semantic_targets(torch.full((1, 8, 8), 255))
    assert empty.labels.numel() == 0 and empty.masks.shape == (0, 8, 8)
    assert torch.equal(_padded(head, empty.labels), tokenize(_texts([])))


def test_more_classes_than_texts_truncates_in_class_order(head_cfg):
    names = [f'thing{i}' for i in range(12)]
    head = _head(head_cfg, num_classes=12, class_names=names, loss_cls=dict(head_cfg.loss_cls, class_weight=None))
    labels = torch.arange(12)
    expected = [f'a photo with a thing{i}' for i in range(N - CTX)]
    assert torch.equal(_padded(head, labels), tokenize(expected))


def test_loss_equals_oneformer_head_loss_on_the_detdatasample_contract(head_cfg):
    """The adapter hands OneFormerHead exactly the data-pipeline contract: same losses, value for value."""
    head = _head(head_cfg)
    head.train()
    x, maps = _feats(), _label_maps()
    torch.manual_seed(1)
    losses = head.loss(x, _seg_samples(maps), train_cfg=dict())

    det_samples = []
    for m in maps:
        labels = [c for c in range(K) if (m == c).any()]
        masks = np.stack([(m[0] == c).numpy() for c in labels]).astype(np.uint8)
        s = DetDataSample(metainfo=dict(img_shape=(H, W), pad_shape=(H, W), ori_shape=(H, W), task='semantic',
                                        text_tokens=tokenize(_texts(labels)).numpy()))
        s.gt_instances = InstanceData(labels=torch.tensor(labels), masks=BitmapMasks(masks, H, W))
        det_samples.append(s)
    torch.manual_seed(1)
    expected = OneFormerHead.loss(head, x, det_samples)
    assert losses.keys() == expected.keys()
    for k in expected:
        torch.testing.assert_close(losses[k], expected[k], msg=k)


def test_loss_keys_finite_and_backward_reaches_text_mapper(head_cfg):
    head = _head(head_cfg)
    head.train()
    maps = _label_maps()
    maps[1] = torch.full((1, H, W), 255)  # an image with no target at all
    losses = head.loss(_feats(), _seg_samples(maps), train_cfg=dict())
    # final + per-layer copies (initial queries + 2 decoder layers) + contrastive
    expected = {'loss_cls', 'loss_mask', 'loss_dice', 'loss_contrastive'}
    expected |= {f'd{i}.{k}' for i in range(2) for k in ('loss_cls', 'loss_mask', 'loss_dice')}
    assert set(losses) == expected
    for k, v in losses.items():
        assert torch.isfinite(v), k
    assert losses['loss_contrastive'] > 0 and losses['loss_cls'] > 0
    sum(losses.values()).backward()
    tm = head.text_mapper
    token_grad = tm.text_encoder.token_embedding.weight.grad
    used = tokenize(_texts([1, 3]) + _texts([])).unique()
    assert token_grad[used].abs().sum() > 0  # the tokens of this batch's texts are learned
    assert tm.prompt_ctx.weight.grad.abs().sum() > 0
    assert head.task_encoder.task_mlp.layers[0].weight.grad.abs().sum() > 0
    assert head.loss_contrastive.logit_scale.grad is not None


def test_predict_is_fusion_head_semantic_scores_at_padded_size(head_cfg):
    head = _head(head_cfg)
    head.eval()
    x = _feats()
    pad = (H, W)
    metas = [s.metainfo for s in _seg_samples(_label_maps(), pad=pad)]
    with torch.no_grad():
        scores = head.predict(x, metas, test_cfg=dict(mode='whole'))
        tokens = torch.stack([task_tokens('semantic')] * 2)
        cls_list, mask_list, _ = head.forward_decoder(head.forward_pixel(x), tokens)
    assert scores.shape == (2, K, H, W)
    masks = F.interpolate(mask_list[-1], size=pad, mode='bilinear', align_corners=False)
    fusion = OneFormerFusionHead(num_things_classes=0, num_stuff_classes=K)
    expected = torch.stack([fusion.semantic_scores(c, m) for c, m in zip(cls_list[-1], masks)])
    torch.testing.assert_close(scores, expected)
    # the same numbers as mmseg's Mask2FormerHead.predict formula
    m2f = torch.einsum('bqc,bqhw->bchw', F.softmax(cls_list[-1], -1)[..., :-1], masks.sigmoid())
    torch.testing.assert_close(scores, m2f)
    # and the task token matters: the panoptic token gives other scores
    with torch.no_grad():
        pan_cls, pan_mask, _ = head.forward_decoder(head.forward_pixel(x), torch.stack([task_tokens('panoptic')] * 2))
    assert not torch.allclose(pan_cls[-1], cls_list[-1])


def test_predict_size_is_pad_shape_else_img_shape(head_cfg):
    head = _head(head_cfg)
    head.eval()
    with torch.no_grad():
        padded = head.predict(_feats(1), [dict(img_shape=(50, 60), pad_shape=(64, 64), ori_shape=(50, 60))], {})
        unpadded = head.predict(_feats(1), [dict(img_shape=(64, 64), ori_shape=(64, 64))], {})
    assert padded.shape == (1, K, 64, 64) and unpadded.shape == (1, K, 64, 64)


def test_forward_without_samples_uses_semantic_token(head_cfg):
    """EncoderDecoder's tensor mode calls ``decode_head.forward(x)``."""
    head = _head(head_cfg)
    head.eval()
    x = _feats()
    with torch.no_grad():
        cls_list, mask_list = head.forward(x)
        ref, _, _ = head.forward_decoder(head.forward_pixel(x), torch.stack([task_tokens('semantic')] * 2))
    assert len(cls_list) == 3 and cls_list[-1].shape == (2, N, K + 1) and mask_list[-1].shape == (2, N, H // 4, W // 4)
    torch.testing.assert_close(cls_list[-1], ref[-1])


def test_mmseg_segmentor_attributes(head_cfg):
    head = _head(head_cfg, align_corners=True)
    assert (head.num_classes, head.out_channels, head.align_corners, head.ignore_index) == (K, K, True, 255)
    assert head.num_things_classes == 0 and head.num_stuff_classes == K
    assert head.cls_embed.out_features == K + 1
    assert 'text_token_table' not in head.state_dict()  # derived from class names, not a weight


def test_class_names_from_mmseg_dataset_and_defaults(head_cfg):
    from mmseg.datasets import CityscapesDataset
    head = _head(head_cfg, num_classes=19, class_names='CityscapesDataset',
                 loss_cls=dict(head_cfg.loss_cls, class_weight=None))
    assert head.class_names == tuple(CityscapesDataset.METAINFO['classes'])
    head = _head(head_cfg, class_names=None)
    assert head.class_names == ('c0', 'c1', 'c2', 'c3')


@pytest.mark.parametrize('overrides, error, match', [
    (dict(class_names=['a', 'b']), ValueError, 'class_names has 2 names but num_classes is 4'),
    (dict(class_names='NoSuchDataset'), KeyError, 'NoSuchDataset'),
    (dict(class_names='ADE20KDataset'), ValueError, r'150 names \(from ADE20KDataset.METAINFO\)'),
    (dict(num_things_classes=2), ValueError, 'num_things_classes'),
])
def test_bad_arguments(head_cfg, overrides, error, match):
    with pytest.raises(error, match=match):
        _head(head_cfg, **overrides)


def test_unprefixed_loss_type_is_refused(head_cfg):
    """Under mmseg's scope 'CrossEntropyLoss' is mmseg's own class: refuse it instead of training with it."""
    with pytest.raises(TypeError, match="type='mmdet.CrossEntropyLoss'"):
        _head(head_cfg, loss_mask=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=5.0))


def test_label_outside_classes_is_an_error(head_cfg):
    head = _head(head_cfg)
    bad = torch.zeros((1, 8, 8), dtype=torch.long)
    bad[0, 0, 0] = 7
    with pytest.raises(ValueError, match=r'label\(s\) \[7\] outside \[0, 4\)'):
        head.semantic_targets(bad)
