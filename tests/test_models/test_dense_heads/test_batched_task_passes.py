"""Several task tokens per image in one batched decoder pass equal the plain formulation: one pass per task."""
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample

from oneformer.tasks import TASKS
from oneformer.testing import tiny_model_cfg


@pytest.fixture(scope='module')
def model_and_feats():
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg())
    model.init_weights()
    model.eval()
    with torch.no_grad():
        feats = model.extract_pixel_feats(torch.randn(2, 3, 64, 96))
    return model, feats


def test_batched_tokens_equal_one_pass_per_task(model_and_feats):
    model, feats = model_and_feats
    head = model.panoptic_head
    with torch.no_grad():
        plain = {t: head.predict_by_pixel_feats(feats, [t, t]) for t in TASKS}
        cls, masks = head.predict_by_pixel_feats(feats, [t for _ in range(2) for t in TASKS])  # image-major
    assert cls.shape[0] == masks.shape[0] == 2 * len(TASKS)
    for i, t in enumerate(TASKS):
        for img in range(2):
            row = img * len(TASKS) + i
            torch.testing.assert_close(cls[row], plain[t][0][img], rtol=0, atol=1e-5)
            torch.testing.assert_close(masks[row], plain[t][1][img], rtol=0, atol=1e-5)
    # the tokens really differ in what they produce (the comparison above is not between equal things)
    assert (plain['panoptic'][0] - plain['semantic'][0]).abs().max() > 1e-3


def test_decoder_keys_are_computed_once_per_image(model_and_feats):
    model, feats = model_and_feats
    head = model.panoptic_head
    rows = []
    hooks = [p.register_forward_hook(lambda m, i, o: rows.append(i[0].shape[0])) for p in head.decoder_input_projs]
    try:
        with torch.no_grad():
            head.predict_by_pixel_feats(feats, [t for _ in range(2) for t in TASKS])
    finally:
        for h in hooks:
            h.remove()
    assert rows == [2] * head.num_transformer_feat_level  # each level projected once, for the 2 images


def test_final_layer_only_equals_last_of_all_layers(model_and_feats):
    model, feats = model_and_feats
    head = model.panoptic_head
    tokens = head.get_task_tokens(['instance', 'semantic'], device='cpu')
    with torch.no_grad():
        cls_all, masks_all, _ = head.forward_decoder(feats, tokens)
        cls_last, masks_last, _ = head.forward_decoder(feats, tokens, all_layers=False)
    assert len(cls_all) == head.num_transformer_decoder_layers + 1 and len(cls_last) == len(masks_last) == 1
    assert torch.equal(cls_last[0], cls_all[-1]) and torch.equal(masks_last[0], masks_all[-1])


def test_token_count_not_a_multiple_of_the_images_is_refused(model_and_feats):
    model, feats = model_and_feats
    with pytest.raises(ValueError, match='3 task tokens for 2 images'):
        model.panoptic_head.predict_by_pixel_feats(feats, ['panoptic'] * 3)


def test_detector_predictions_equal_per_task_post_processing(model_and_feats):
    model, feats = model_and_feats
    meta = dict(img_shape=(64, 96), ori_shape=(64, 96), batch_input_shape=(64, 96), scale_factor=(1., 1.))
    samples = [DetDataSample(metainfo=meta) for _ in range(2)]
    with torch.no_grad():
        out = model.predict_by_pixel_feats(feats, samples)
        for t, field in (('panoptic', 'pred_panoptic_seg'), ('semantic', 'pred_sem_seg'), ('instance', None)):
            cls, masks = model.panoptic_head.predict_by_pixel_feats(feats, [t, t])
            ref = model.panoptic_fusion_head.predict(cls, masks, samples, rescale=True, tasks=(t, ))
            for o, r in zip(out, ref):
                if field is None:
                    assert torch.equal(o.pred_instances.labels, r[t].labels)
                    torch.testing.assert_close(o.pred_instances.scores, r[t].scores, rtol=0, atol=1e-5)
                    assert torch.equal(o.pred_instances.masks, r[t].masks)
                else:
                    assert torch.equal(getattr(o, field).sem_seg, r[t].sem_seg)
