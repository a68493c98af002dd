"""OneFormer model: training losses and gradients, prediction outputs, task handling, checkpoint shape checks."""
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData

from oneformer.tasks import pad_text_list, tokenize
from oneformer.testing import captured_log, tiny_model_cfg


def _sample(task, h, w, labels, num_texts, seed):
    rng = np.random.default_rng(seed)
    masks = np.zeros((len(labels), h, w), np.uint8)
    for i in range(len(labels)):
        y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
        masks[i, y:y + h // 3, x:x + w // 3] = 1
    texts = [f'a photo with a c{c}' for c in sorted(labels)]
    texts += [f'a {task} photo'] * (num_texts - len(texts))
    s = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
                                    batch_input_shape=(h, w), task=task,
                                    text_tokens=tokenize(texts).numpy()))
    s.gt_instances = InstanceData(labels=torch.tensor(labels, dtype=torch.long), masks=BitmapMasks(masks, h, w))
    return s


def _build(cfg=None):
    torch.manual_seed(0)
    model = MODELS.build(cfg or tiny_model_cfg())
    model.init_weights()
    return model


def test_training_losses_and_gradients_reach_every_learnable_parameter():
    model = _build()
    model.train()
    samples = [_sample('panoptic', 64, 64, [0, 1, 3], 8, 0), _sample('semantic', 64, 64, [2, 4], 8, 1)]
    losses = model.loss(torch.randn(2, 3, 64, 64), samples)
    # final + per-layer copies of the matched losses (3 predictions: initial queries + 2 layers)
    for k in ('loss_cls', 'loss_mask', 'loss_dice', 'loss_contrastive', 'd0.loss_cls', 'd1.loss_mask',
              'd1.loss_dice'):
        assert k in losses, k
        assert torch.isfinite(losses[k]) and losses[k] > 0, k
    assert 'd2.loss_cls' not in losses
    sum(losses.values()).backward()
    # Some parameters get exactly zero gradient at initialisation by design (mmdet's zero_init_residual BN gammas,
    # Deformable-DETR's zero offset/weight projections hide the level encoding): take one step, then every
    # parameter must receive gradient.
    torch.optim.SGD(model.parameters(), lr=0.01).step()
    model.zero_grad()
    losses = model.loss(torch.randn(2, 3, 64, 64), samples)
    sum(losses.values()).backward()
    no_grad = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)]
    assert no_grad == [], no_grad
    assert model.panoptic_head.text_mapper.text_encoder.token_embedding.weight.grad.abs().sum() > 0
    assert model.panoptic_head.loss_contrastive.logit_scale.grad is not None


def test_empty_ground_truth_trains():
    model = _build()
    model.train()
    losses = model.loss(torch.randn(1, 3, 64, 64), [_sample('instance', 64, 64, [], 8, 0)])
    assert losses['loss_cls'] > 0 and losses['loss_mask'] == 0 and losses['loss_dice'] == 0


def test_forward_returns_per_prediction_lists_and_task_changes_output():
    model = _build()
    model.eval()
    x = model.extract_feat(torch.randn(1, 3, 64, 64))
    outs = {}
    for task in ('panoptic', 'instance', 'semantic'):
        s = _sample(task, 64, 64, [0], 8, 0)
        cls, masks = model.panoptic_head(x, [s])
        assert len(cls) == len(masks) == 3
        assert cls[-1].shape == (1, 12, 6) and masks[-1].shape == (1, 12, 16, 16)
        outs[task] = cls[-1]
    assert not torch.allclose(outs['panoptic'], outs['instance'])
    assert not torch.allclose(outs['instance'], outs['semantic'])


def test_predict_writes_all_three_outputs_at_original_size():
    model = _build()
    model.eval()
    s = DetDataSample(metainfo=dict(img_shape=(60, 50), ori_shape=(120, 100), batch_input_shape=(64, 64),
                                    scale_factor=(0.5, 0.5)))
    with torch.no_grad():
        out = model.predict(torch.randn(1, 3, 64, 64), [s])[0]
    assert out.pred_panoptic_seg.sem_seg.shape == (1, 120, 100)
    assert out.pred_sem_seg.sem_seg.shape == (1, 120, 100)
    assert out.pred_sem_seg.sem_seg.max() < 5
    assert out.pred_instances.masks.shape[1:] == (120, 100)
    assert (out.pred_instances.labels < 3).all()  # things only


def test_multi_task_eval_shares_pixel_decoder_and_matches_single_task_runs():
    cfg = tiny_model_cfg()
    model = _build(cfg)
    model.eval()
    img = torch.randn(1, 3, 64, 64)
    meta = dict(img_shape=(64, 64), ori_shape=(64, 64), batch_input_shape=(64, 64), scale_factor=(1., 1.))
    calls = []
    model.panoptic_head.pixel_decoder.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        multi = model.predict(img, [DetDataSample(metainfo=meta)])[0]
    assert len(calls) == 1
    for task, field in (('panoptic', 'pred_panoptic_seg'), ('semantic', 'pred_sem_seg')):
        single = MODELS.build(dict(cfg, test_cfg=dict(cfg.test_cfg, tasks=(task, ))))
        single.load_state_dict(model.state_dict())
        single.eval()
        with torch.no_grad():
            ref = single.predict(img, [DetDataSample(metainfo=meta)])[0]
        assert torch.equal(getattr(multi, field).sem_seg, getattr(ref, field).sem_seg)


def test_predict_returns_exactly_the_requested_tasks_and_single_token_is_an_explicit_option():
    cfg = tiny_model_cfg()
    model = _build(cfg)
    model.eval()
    img = torch.randn(1, 3, 64, 64)
    meta = dict(img_shape=(64, 64), ori_shape=(64, 64), batch_input_shape=(64, 64), scale_factor=(1., 1.))
    fields = ('pred_panoptic_seg', 'pred_instances', 'pred_sem_seg')
    with torch.no_grad():
        own = model.predict(img, [DetDataSample(metainfo=meta)])[0]
        sem_only = model.predict(img, [DetDataSample(metainfo=meta)], tasks=('semantic', ))[0]
        one_token = model.predict(img, [DetDataSample(metainfo=meta)], tasks='all', task_token='panoptic')[0]
        pan_only = model.predict(img, [DetDataSample(metainfo=meta)], tasks='panoptic')[0]
    assert [f in sem_only for f in fields] == [False, False, True]
    assert torch.equal(sem_only.pred_sem_seg.sem_seg, own.pred_sem_seg.sem_seg)
    assert all(f in one_token for f in fields)
    # the panoptic token's own output is the same either way; its semantic output is the panoptic token's
    assert torch.equal(one_token.pred_panoptic_seg.sem_seg, own.pred_panoptic_seg.sem_seg)
    assert [f in pan_only for f in fields] == [True, False, False]
    head = model.panoptic_head
    with torch.no_grad():
        feats = model.extract_pixel_feats(img)
        cls, masks = head.predict_by_pixel_feats(feats, ['panoptic'])
        sem_from_pan = model.panoptic_fusion_head.predict(cls, masks, [DetDataSample(metainfo=meta)], rescale=True,
                                                          tasks=('semantic', ))[0]['semantic']
    assert torch.equal(one_token.pred_sem_seg.sem_seg, sem_from_pan.sem_seg)
    # test_cfg.task_token is the same option, taken by default
    single = MODELS.build(dict(cfg, test_cfg=dict(cfg.test_cfg, task_token='panoptic')))
    single.load_state_dict(model.state_dict())
    single.eval()
    with torch.no_grad():
        by_cfg = single.predict(img, [DetDataSample(metainfo=meta)])[0]
    for field in ('pred_panoptic_seg', 'pred_sem_seg'):
        assert torch.equal(getattr(by_cfg, field).sem_seg, getattr(one_token, field).sem_seg)


def test_unknown_task_raises_value_error_naming_accepted():
    model = _build()
    model.train()
    s = _sample('depth', 64, 64, [0], 8, 0)
    with pytest.raises(ValueError, match='panoptic, instance, semantic'):
        model.loss(torch.randn(1, 3, 64, 64), [s])
    model.eval()
    s = DetDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64), batch_input_shape=(64, 64)))
    with pytest.raises(ValueError, match="'Panoptic'"):
        model.predict(torch.randn(1, 3, 64, 64), [s], tasks=('Panoptic', ))
    cfg = tiny_model_cfg()
    with pytest.raises(ValueError, match="'depth'"):
        _build(dict(cfg, test_cfg=dict(cfg.test_cfg, tasks=('panoptic', 'depth'))))
    with pytest.raises(KeyError, match='renamed'):
        _build(dict(cfg, test_cfg=dict(cfg.test_cfg, task='panoptic')))


def test_head_pads_and_truncates_the_text_list_to_its_own_size():
    """The pipeline gives one text per target; the head pads with the task's pad text / truncates to
    num_queries - num_ctx (the model owns that size)."""
    head = _build().panoptic_head
    n = head.num_texts
    few = tokenize(['a photo with a a', 'a photo with a b'])
    many = tokenize([f'a photo with a {i}' for i in range(n + 3)])
    samples = [DetDataSample(metainfo=dict(text_tokens=few.numpy())),
               DetDataSample(metainfo=dict(text_tokens=many.numpy()))]
    got = head.text_tokens(samples, ['instance', 'semantic'], 'cpu')
    assert got.shape == (2, n, 77)
    expected = tokenize(pad_text_list(['a photo with a a', 'a photo with a b'], 'instance', n))
    assert torch.equal(got[0], expected) and torch.equal(got[1], many[:n])
    assert (got[0, 2:] == tokenize(['an instance photo'])).all()


def test_cutting_texts_is_said_once_in_the_log():
    """Texts beyond num_queries - num_ctx are cut (as the official mapper does); the log says so once."""
    import logging

    head = _build().panoptic_head
    n = head.num_texts
    with captured_log() as records:
        fit = [DetDataSample(metainfo=dict(text_tokens=tokenize(['a photo with a a'] * n).numpy()))]
        head.text_tokens(fit, ['semantic'], 'cpu')
        assert not records  # nothing cut, nothing said
        many = [DetDataSample(metainfo=dict(text_tokens=tokenize(['a photo with a a'] * (n + 3)).numpy()))]
        for _ in range(3):
            assert head.text_tokens(many, ['semantic'], 'cpu').shape == (1, n, 77)
    said = [r.getMessage() for r in records if 'are cut' in r.getMessage()]
    assert len(said) == 1 and records[0].levelno == logging.WARNING
    assert f'has {n + 3} targets but the text list holds num_queries - text_mapper.num_ctx = {n} texts' in said[0]


def test_training_sample_without_text_tokens_is_a_clear_error():
    model = _build()
    model.train()
    s = _sample('panoptic', 64, 64, [0], 8, 0)
    s = DetDataSample(metainfo={k: v for k, v in s.metainfo.items() if k != 'text_tokens'},
                      gt_instances=s.gt_instances)
    with pytest.raises(KeyError, match='text_tokens'):
        model.loss(torch.randn(1, 3, 64, 64), [s])


def test_checkpoint_with_other_class_count_names_tensors_and_shapes():
    src = _build(tiny_model_cfg(num_things=3, num_stuff=2))
    dst = _build(tiny_model_cfg(num_things=4, num_stuff=2))
    with pytest.raises(ValueError, match=r'panoptic_head.cls_embed.weight: checkpoint \(6, 32\), model \(7, 32\)'):
        dst.load_state_dict(src.state_dict(), strict=False)
    # fine-tuning: only the class head is re-initialised, everything else loads
    cfg = tiny_model_cfg(num_things=4, num_stuff=2)
    cfg.load_mismatch = 'reinit_cls'
    ft = _build(cfg)
    before = ft.panoptic_head.cls_embed.weight.clone()
    ft.load_state_dict(src.state_dict(), strict=False)
    assert torch.equal(ft.panoptic_head.cls_embed.weight, before)
    torch.testing.assert_close(ft.panoptic_head.query_embed.weight, src.panoptic_head.query_embed.weight)


def test_checkpoint_with_other_query_count_is_refused_even_with_reinit_cls():
    src = _build(tiny_model_cfg(num_queries=12))
    cfg = tiny_model_cfg(num_queries=16)
    cfg.load_mismatch = 'reinit_cls'
    dst = _build(cfg)
    with pytest.raises(ValueError, match='query_embed.weight'):
        dst.load_state_dict(src.state_dict(), strict=False)
