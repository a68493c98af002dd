"""Reference parity: a converted HF OneFormer gives HF's class and mask logits for all three task tokens.

HF's ``OneFormerForUniversalSegmentation`` is built from a tiny random config (no download), saved with
``save_pretrained``, converted, and our model is rebuilt from the written ``config.py`` + ``model.pth``.
"""
import importlib.util
import json
import os.path as osp

import pytest
import torch
from mmdet.structures import DetDataSample

from oneformer.model_converters import convert_hf_dir
from oneformer.tasks import TASKS, task_tokens
from oneformer.testing.hf_models import HF_IMAGE_SHAPE, build_converted, make_hf_model

from ..conftest import REPO

pytestmark = pytest.mark.slow
TOL = 1e-4


def _cli():
    path = osp.join(REPO, 'tools', 'model_converters', 'oneformer_hf_to_mm.py')
    spec = importlib.util.spec_from_file_location('oneformer_hf_to_mm', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hf_logits(hf, x, task):
    with torch.no_grad():
        out = hf(pixel_values=x, task_inputs=task_tokens(task)[None])
    return out.class_queries_logits, out.masks_queries_logits


def _our_logits(model, x, task):
    with torch.no_grad():
        cls, masks = model.panoptic_head(model.extract_feat(x), [DetDataSample(metainfo=dict(task=task))])
    return cls[-1], masks[-1]  # final prediction; masks at 1/4 input resolution like HF's


@pytest.fixture(scope='module', params=['swin', 'convnext', 'resnet'])
def converted(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    hf = make_hf_model(request.param)
    hf.save_pretrained(tmp / 'hf')
    # the CLI end to end for one backbone, the library function for the others
    if request.param == 'swin':
        assert _cli().main([str(tmp / 'hf'), str(tmp / 'mm'), '--strict']) == 0
    else:
        assert convert_hf_dir(str(tmp / 'hf'), str(tmp / 'mm'), strict=True).unconsumed == []
    model, cfg, ckpt = build_converted(str(tmp / 'mm'))
    torch.manual_seed(1)
    return request.param, hf, model, cfg, ckpt, torch.randn(HF_IMAGE_SHAPE)


@pytest.mark.parametrize('task', TASKS)
def test_logits_match_hf(converted, task):
    kind, hf, model, _, _, x = converted
    hf_cls, hf_masks = _hf_logits(hf, x, task)
    cls, masks = _our_logits(model, x, task)
    assert cls.shape == hf_cls.shape == (1, 12, 6)
    assert masks.shape == hf_masks.shape == (1, 12, HF_IMAGE_SHAPE[2] // 4, HF_IMAGE_SHAPE[3] // 4)
    d_cls, d_mask = (cls - hf_cls).abs().max().item(), (masks - hf_masks).abs().max().item()
    print(f'\n[parity] {kind:8s} {task:9s} max|d cls| {d_cls:.2e}  max|d mask| {d_mask:.2e}  '
          f'(|mask| up to {hf_masks.abs().max().item():.2f})')
    assert d_cls <= TOL and d_mask <= TOL


def test_task_token_and_weights_matter(converted):
    """The comparison is not vacuous: another task token, or one mis-mapped tensor, moves the logits well past TOL."""
    kind, hf, model, _, _, x = converted
    hf_cls, hf_masks = _hf_logits(hf, x, 'panoptic')
    other_cls, _ = _our_logits(model, x, 'semantic')
    assert (other_cls - hf_cls).abs().max() > 100 * TOL
    norms = model.panoptic_head.transformer_decoder.layers[0].norms
    saved = norms[0].weight.detach().clone()
    with torch.no_grad():
        norms[0].weight.copy_(norms[1].weight)  # as if cross-attn / self-attn norms had been swapped
    try:
        cls, masks = _our_logits(model, x, 'panoptic')
    finally:
        with torch.no_grad():
            norms[0].weight.copy_(saved)
    assert max((cls - hf_cls).abs().max(), (masks - hf_masks).abs().max()) > 100 * TOL


def test_written_config_reproduces_hf_sizes(converted):
    kind, hf, model, cfg, ckpt, _ = converted
    head = cfg.model.panoptic_head
    assert head.num_queries == 12 and head.feat_channels == 32
    assert cfg.model.panoptic_fusion_head.num_things_classes == 5  # no split given: all classes are things
    assert head.num_stuff_classes == 0
    assert head.text_mapper is None and model.panoptic_head.text_mapper is None  # HF checkpoint without text
    assert len(model.panoptic_head.transformer_decoder.layers) == 3  # HF decoder_layers 4 = 3 + initial
    assert len(model.panoptic_head.pixel_decoder.encoder.layers) == 2
    assert cfg.model.test_cfg.max_per_image == 12
    assert ckpt['meta']['dataset_meta']['classes'] == tuple(hf.config.id2label[i] for i in range(5))
    assert cfg.model.backbone.type == {'swin': 'SwinTransformer', 'convnext': 'mmpretrain.ConvNeXt',
                                       'resnet': 'ResNet'}[kind]
    assert cfg.load_from.endswith('model.pth')


def test_converted_model_predicts_through_the_detector(converted):
    """The written config is complete: data preprocessor (padding 100x150 to 128x160), all three tasks, fusion
    head, outputs at the original size."""
    _, _, model, _, _, _ = converted
    data = dict(inputs=[torch.randint(0, 255, (3, 100, 150), dtype=torch.uint8)],
                data_samples=[DetDataSample(metainfo=dict(img_shape=(100, 150), ori_shape=(100, 150),
                                                          scale_factor=(1., 1.)))])
    with torch.no_grad():
        result = model.test_step(data)[0]
    assert result.pred_panoptic_seg.sem_seg.shape == result.pred_sem_seg.sem_seg.shape == (1, 100, 150)
    assert result.pred_instances.masks.shape[1:] == (100, 150)


def test_class_info_reorders_the_class_head(tmp_path):
    """Things moved first: our logit i is HF's logit source_class_ids[i]; the panoptic config gets the split."""
    hf = make_hf_model('resnet', seed=3, id2label={i: n for i, n in enumerate(['wall', 'cat', 'sky', 'dog', 'car'])})
    hf.save_pretrained(tmp_path / 'hf')
    (tmp_path / 'info.json').write_text(json.dumps(
        {str(i): dict(name=n, isthing=int(n in ('cat', 'dog', 'car'))) for i, n in hf.config.id2label.items()}))
    (tmp_path / 'hf' / 'preprocessor_config.json').write_text(json.dumps(
        dict(image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225], do_rescale=True,
             rescale_factor=1 / 255)))
    assert _cli().main([str(tmp_path / 'hf'), str(tmp_path / 'mm'), '--class-info', str(tmp_path / 'info.json'),
                        '--object-mask-thr', '0.8']) == 0
    model, cfg, ckpt = build_converted(str(tmp_path / 'mm'))
    meta = ckpt['meta']['dataset_meta']
    assert meta['classes'] == ('cat', 'dog', 'car', 'wall', 'sky') and meta['source_class_ids'] == [1, 3, 4, 0, 2]
    assert (cfg.model.panoptic_head.num_things_classes, cfg.model.panoptic_head.num_stuff_classes) == (3, 2)
    assert cfg.model.test_cfg.object_mask_thr == 0.8
    assert cfg.model.data_preprocessor.mean == pytest.approx([123.675, 116.28, 103.53])
    assert cfg.model.data_preprocessor.std == pytest.approx([58.395, 57.12, 57.375])
    x = torch.randn(HF_IMAGE_SHAPE)
    hf_cls, hf_masks = _hf_logits(hf, x, 'instance')
    cls, masks = _our_logits(model, x, 'instance')
    assert torch.allclose(cls, hf_cls[..., [1, 3, 4, 0, 2, 5]], atol=TOL)
    assert torch.allclose(masks, hf_masks, atol=TOL)
