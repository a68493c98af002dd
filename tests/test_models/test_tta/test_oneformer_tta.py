"""Multi-scale + flip semantic TTA: values against the plain prediction and hand-computed view averages."""
import argparse
import copy
import importlib.util
import os.path as osp

import mmcv
import mmengine
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmcv.transforms import Compose
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.structures import PixelData

from oneformer.engine import setup_test_cfg
from oneformer.testing import config_path, tiny_model_cfg

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'scale', 'flip', 'flip_direction')
SIZES = [(40, 56), (48, 36)]  # (h, w) of the two test images: landscape and portrait


@pytest.fixture(scope='module')
def model(one_thread):
    torch.manual_seed(0)
    m = MODELS.build(tiny_model_cfg())
    m.init_weights()
    with torch.no_grad():  # sharpen the random class / mask embeddings: semantic maps that vary over pixels and views
        for name, p in m.panoptic_head.named_parameters():
            if name.startswith(('cls_embed', 'mask_embed')):
                p.mul_(20)
    return m.eval()


@pytest.fixture(scope='module')
def images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in SIZES]


def _tta_pipeline(short_edges, flip, max_size=1000):
    flips = [dict(type='RandomFlip', prob=0.)] + ([dict(type='RandomFlip', prob=1.)] if flip else [])
    return Compose([dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=(max_size, s), keep_ratio=True) for s in short_edges], flips,
        [dict(type='PackDetInputs', meta_keys=META_KEYS)]])])


def _batch(images, pipeline):
    """A dataloader batch (``pseudo_collate``) of the images through ``pipeline``, as the test loop feeds it."""
    items = [pipeline(dict(img=img.copy(), img_shape=img.shape[:2], ori_shape=img.shape[:2], img_id=i,
                           img_path=f'{i}.jpg')) for i, img in enumerate(images)]
    return pseudo_collate(items)


def _tta(module, single_scale=None):
    from oneformer.models import OneFormerTTAModel
    return OneFormerTTAModel(module=module, single_scale=single_scale)


def _hand_view_scores(model, img, short, flip, max_size=1000):
    """Semantic scores of one hand-made view at the original size, flip undone, computed without the TTA code:
    rescale (mmcv.imrescale, as Resize keep_ratio), flip, run the network with the semantic token, upsample to the
    padded input, crop, resize to the original size, Σ softmax · sigmoid, flip back."""
    view = mmcv.imrescale(img, (max_size, short), interpolation='bilinear', backend='cv2')
    if flip:
        view = np.ascontiguousarray(view[:, ::-1])
    meta = dict(img_shape=view.shape[:2], ori_shape=img.shape[:2], flip=flip)
    data = model.data_preprocessor(dict(inputs=[torch.from_numpy(view).permute(2, 0, 1).contiguous()],
                                        data_samples=[DetDataSample(metainfo=meta)]), False)
    inputs = data['inputs']
    feats = model.panoptic_head.forward_pixel(model.extract_feat(inputs))
    mask_cls, mask_pred = model.panoptic_head.predict_by_pixel_feats(feats, ['semantic'])
    h, w = view.shape[:2]
    masks = F.interpolate(mask_pred, size=inputs.shape[-2:], mode='bilinear', align_corners=False)[:, :, :h, :w]
    masks = F.interpolate(masks, size=img.shape[:2], mode='bilinear', align_corners=False)[0]
    scores = torch.einsum('qc,qhw->chw', mask_cls[0].softmax(-1)[:, :-1], masks.sigmoid())
    return scores.flip(-1) if flip else scores


@torch.no_grad()
def test_one_scale_without_flip_is_exactly_the_plain_semantic_prediction(model, images):
    data = _batch(images, _tta_pipeline([32], flip=False))
    merged = _tta(model).test_step(copy.deepcopy(data))
    plain = model.test_step({k: v[0] for k, v in data.items()})
    for m, p in zip(merged, plain):
        assert m.pred_sem_seg.sem_seg.shape == p.pred_sem_seg.sem_seg.shape == (1, ) + tuple(m.ori_shape)
        assert torch.equal(m.pred_sem_seg.sem_seg, p.pred_sem_seg.sem_seg)
        assert 'sem_seg_scores' not in m


@torch.no_grad()
def test_two_scales_and_flip_equal_the_hand_average_of_the_views(model, images):
    scales = [36, 48]  # > 32 on the short edge: a single image's 1/32 feature map has more than one pixel
    tta = _tta(model, single_scale=(1000, 48))
    averaged = []
    merge = tta.merge_preds

    def spy(data_samples_list):  # the averaged score maps the argmax is taken of
        averaged.extend(s[0].sem_seg_scores.data.clone() for s in data_samples_list)
        return merge(data_samples_list)

    tta.merge_preds = spy
    # one image per batch: the hand-made views are padded alone, so the batch padding is the same
    merged = [tta.test_step(_batch([img], _tta_pipeline(scales, flip=True)))[0] for img in images]
    assert len(averaged) == len(images)
    for img, out, got in zip(images, merged, averaged):
        views = [_hand_view_scores(model, img, s, f) for s in scales for f in (False, True)]
        mean = torch.stack(views).mean(0)
        torch.testing.assert_close(got, mean, rtol=1e-5, atol=1e-6)
        expected = mean.argmax(0)
        top2 = mean.topk(2, dim=0).values
        clear = (top2[0] - top2[1]) > 1e-5  # pixels whose argmax float-rounding cannot flip
        assert clear.float().mean() > 0.95
        assert torch.equal(out.pred_sem_seg.sem_seg[0][clear], expected[clear])
        # the views disagree: the average is not any single view's answer, so the test sees the merge
        assert any((v.argmax(0) != expected).any() for v in views)


@torch.no_grad()
def test_panoptic_and_instance_come_from_the_single_scale_view(model, images):
    merged = _tta(model, single_scale=(1000, 40)).test_step(_batch(images, _tta_pipeline([24, 40], flip=True)))
    single = model.test_step({k: v[0] for k, v in _batch(images, _tta_pipeline([40], flip=False)).items()})
    for m, s in zip(merged, single):
        assert torch.equal(m.pred_panoptic_seg.sem_seg, s.pred_panoptic_seg.sem_seg)
        for key in ('labels', 'scores', 'masks', 'bboxes'):
            assert torch.equal(m.pred_instances[key], s.pred_instances[key]), key
        assert m.scale == (1000, 40) and not m.flip


def test_single_scale_view_selection_and_errors():
    tta = _tta(MODELS.build(tiny_model_cfg()), single_scale=(1000, 40))
    metas = [dict(scale=(1000, 24), flip=False), dict(scale=(1000, 24), flip=True),
             dict(scale=(1000, 40), flip=True), dict(scale=(1000, 40), flip=False)]
    assert tta.single_scale_view(metas) == 3
    tta.single_scale = None
    assert tta.single_scale_view(metas) == 0
    tta.single_scale = (1000, 32)
    with pytest.raises(ValueError, match='no un-flipped view with scale'):
        tta.single_scale_view(metas)
    with pytest.raises(KeyError, match="add \\['flip', 'flip_direction'\\] to the meta_keys"):
        tta.single_scale_view([dict(scale=(1000, 32))])


def test_mmseg_tta_averages_scores_without_a_second_softmax():
    from mmseg.models.segmentors import SegTTAModel
    from mmseg.structures import SegDataSample

    from oneformer.models import OneFormerSegTTAModel

    # OneFormer scores Σ_q softmax · sigmoid of 8 queries over 3 classes, two views of a 4x5 image
    gen = torch.Generator().manual_seed(0)
    views = [torch.einsum('qc,qhw->chw', torch.randn(8, 4, generator=gen).mul(3).softmax(-1)[:, :-1],
                          torch.randn(8, 4, 5, generator=gen).mul(3).sigmoid()) for _ in range(2)]

    def samples():
        return [[SegDataSample(seg_logits=PixelData(data=v.clone()), metainfo=dict(img_path='a.jpg'))
                 for v in views]]

    class Stub(torch.nn.Module):  # what the TTA models read of the wrapped segmentor
        out_channels = 3

        def test_step(self, data):
            return data

    mean = (views[0] + views[1]) / 2
    out = OneFormerSegTTAModel(module=Stub()).merge_preds(samples())[0]
    assert torch.allclose(out.seg_logits.data, mean)
    assert torch.equal(out.pred_sem_seg.data[0], mean.argmax(0))
    # mmseg's SegTTAModel softmaxes the already-normalised scores again: a different answer on these scores
    resoftmaxed = (views[0].softmax(0) + views[1].softmax(0)) / 2
    ref = SegTTAModel(module=Stub()).merge_preds(samples())[0]
    assert torch.equal(ref.pred_sem_seg.data[0], resoftmaxed.argmax(0))
    assert not torch.equal(resoftmaxed.argmax(0), mean.argmax(0))


def _parse_test_args(argv):
    """``parse_args`` of ``tools/test.py`` (loaded from its file: ``tools`` is not a package)."""
    spec = importlib.util.spec_from_file_location('oneformer_tool_test', osp.join(REPO, 'tools', 'test.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool.parse_args(argv)


@torch.no_grad()
def test_mmseg_tta_model_end_to_end_averages_the_segmentor_views(images, one_thread):
    """OneFormerSegTTAModel around a tiny mmseg EncoderDecoder + OneFormerSegHead, with the official TTA layout
    (short-edge scales, flip): the merged map is the average of the per-view ``seg_logits`` of the segmentor."""
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS as SEG_MODELS

    from oneformer.testing import tiny_seg_model_cfg

    with DefaultScope.overwrite_default_scope('mmseg'):
        cfg = Config.fromfile(osp.join(REPO, 'configs/mmseg/oneformer_r50_8xb2-160k_ade20k-512x512.py'))
        torch.manual_seed(0)
        seg = SEG_MODELS.build(tiny_seg_model_cfg(cfg, ('sky', 'road', 'car', 'tree'), size=(32, 32)))
        seg.init_weights()
        seg.eval()
        tta = SEG_MODELS.build(dict(type='OneFormerSegTTAModel', module=seg))
        pipeline = Compose([dict(type='TestTimeAug', transforms=[
            [dict(type='Resize', scale=(1000, s), keep_ratio=True) for s in (36, 48)],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='PackSegInputs')]])])
        img = images[0]
        item = pipeline(dict(img=img.copy(), img_shape=img.shape[:2], ori_shape=img.shape[:2], img_path='0.jpg'))
        data = pseudo_collate([item])
        out = tta.test_step(copy.deepcopy(data))[0]
        views = [seg.test_step({k: v[i] for k, v in data.items()})[0].seg_logits.data for i in range(4)]
    assert all(v.shape == (4, ) + img.shape[:2] for v in views)
    mean = torch.stack(views).mean(0)
    torch.testing.assert_close(out.seg_logits.data, mean)
    assert torch.equal(out.pred_sem_seg.data[0], mean.argmax(0))


def _demo_cfg():
    return Config.fromfile(config_path('configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py'))


@pytest.mark.parametrize('dataset', ['ade20k', 'ade20k_512', 'ade20k_896', 'ade20k_1280', 'cityscapes'])
def test_tta_flag_wraps_the_model_and_swaps_the_pipeline(dataset):
    cfg = _demo_cfg()
    tta = Config.fromfile(osp.join(REPO, f'configs/_base_/tta/oneformer_tta_{dataset}.py'))
    cfg.tta_model, cfg.tta_pipeline = tta.tta_model, tta.tta_pipeline
    detector = copy.deepcopy(cfg.model)
    args = _parse_test_args(['cfg.py', 'ckpt.pth', '--tta', '--task', 'semantic'])
    cfg = setup_test_cfg(cfg, args)
    assert cfg.model.type == 'OneFormerTTAModel' and cfg.model.single_scale == tta.tta_model.single_scale
    assert cfg.model.module.test_cfg.tasks == ('semantic', )  # --task edits the detector inside the wrapper
    assert cfg.model.module.backbone == detector.backbone
    assert cfg.test_dataloader.dataset.pipeline == tta.tta_pipeline
    built = MODELS.build(cfg.model)
    assert type(built).__name__ == 'OneFormerTTAModel' and type(built.module).__name__ == 'OneFormer'
    # the shipped pipeline: 6 official scales x (un-flipped, flipped), the metainfo the TTA model reads
    no_gt = copy.deepcopy(cfg.tta_pipeline[1])
    no_gt['transforms'] = [t for t in no_gt['transforms'] if t[0]['type'] != 'LoadPanopticAnnotations']
    img = np.zeros((30, 40, 3), np.uint8)
    out = Compose([no_gt])(dict(img=img, img_shape=(30, 40), ori_shape=(30, 40), img_id=0, img_path='x.jpg'))
    metas = [s.metainfo for s in out['data_samples']]
    assert len(metas) == 12 and [m['flip'] for m in metas[:2]] == [False, True]
    main = built.single_scale_view(metas)
    assert metas[main]['scale'] == tuple(tta.tta_model.single_scale) and not metas[main]['flip']
    assert min(metas[main]['img_shape']) == tta.tta_model.single_scale[1]


def test_tta_flag_without_tta_config_is_a_clear_error():
    cfg = _demo_cfg()
    cfg.pop('tta_model', None)
    cfg.pop('tta_pipeline', None)
    with pytest.raises(KeyError, match='--tta: the config has no tta_model / tta_pipeline; add configs/_base_/tta/'):
        setup_test_cfg(cfg, _parse_test_args(['cfg.py', 'ckpt.pth', '--tta']))
    cfg.tta_model = dict(type='OneFormerTTAModel')
    with pytest.raises(KeyError, match='no tta_pipeline;'):
        setup_test_cfg(cfg, _parse_test_args(['cfg.py', 'ckpt.pth', '--tta']))
    assert setup_test_cfg(_demo_cfg(), argparse.Namespace(config='c.py', checkpoint=None)).model.type == 'OneFormer'


def _run_test(cfg, work_dir, argv):
    from mmengine.runner import Runner
    cfg = setup_test_cfg(copy.deepcopy(cfg), _parse_test_args(['cfg.py'] + argv + ['--work-dir', str(work_dir)]))
    return Runner.from_cfg(cfg).test()


@pytest.mark.slow
def test_one_tta_pass_gives_single_scale_pq_ap_and_multi_scale_miou(tmp_path, one_thread):
    """End to end through the runner and the three metrics: PQ and AP of the --tta pass equal the plain pass."""
    from oneformer.dataset_converters import generate_synthetic_panoptic

    spec = importlib.util.spec_from_file_location('oneformer_tool_demo', osp.join(REPO, 'tools', 'demo.py'))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    data = tmp_path / 'data'
    generate_synthetic_panoptic(str(data), num_train=1, num_val=3, img_size=64, seed=1)
    cfg = demo.point_config_at(_demo_cfg(), str(data), str(tmp_path / 'work'))
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False, batch_size=2)
    cfg.test_dataloader.dataset.pipeline[1].scale = (64, 64)
    # a random model, sharpened so that it predicts segments (as the value tests above)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():
        for name, p in model.panoptic_head.named_parameters():
            if name.startswith(('cls_embed', 'mask_embed')):
                p.mul_(20)
    ckpt = str(tmp_path / 'sharp.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)

    plain = _run_test(cfg, tmp_path / 'plain', [ckpt, '--out', str(tmp_path / 'plain.pkl')])
    cfg.tta_model = dict(type='OneFormerTTAModel', single_scale=(1000, 64))
    cfg.tta_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='TestTimeAug', transforms=[
            [dict(type='Resize', scale=(1000, 48), keep_ratio=True),
             dict(type='Resize', scale=(1000, 64), keep_ratio=True)],
            [dict(type='RandomFlip', prob=0.), dict(type='RandomFlip', prob=1.)],
            [dict(type='LoadPanopticAnnotations')],
            [dict(type='PackDetInputs', meta_keys=META_KEYS)]])]
    tta = _run_test(cfg, tmp_path / 'tta', [ckpt, '--tta', '--out', str(tmp_path / 'tta.pkl')])
    for key in ('coco_panoptic/PQ', 'coco_panoptic/SQ', 'coco/segm_mAP', 'coco/segm_mAP_50'):
        assert tta[key] == plain[key], key
    assert 0 <= tta['mIoU'] <= 100 and tta['mIoU'] != plain['mIoU']
    # the dumped predictions: panoptic and instance outputs identical, semantic ones not
    plain_preds, tta_preds = (mmengine.load(str(tmp_path / f'{n}.pkl')) for n in ('plain', 'tta'))
    assert len(plain_preds) == len(tta_preds) == 3
    sem_differs = False
    for p, t in zip(plain_preds, tta_preds):
        assert p['img_path'] == t['img_path']
        assert torch.equal(p['pred_panoptic_seg']['sem_seg'], t['pred_panoptic_seg']['sem_seg'])
        assert len(p['pred_panoptic_seg']['sem_seg'].unique()) > 1  # segments, not only void
        for key in ('labels', 'scores', 'bboxes'):
            assert torch.equal(p['pred_instances'][key], t['pred_instances'][key]), key
        assert p['pred_instances']['masks'] == t['pred_instances']['masks']  # RLE
        assert t['pred_sem_seg']['sem_seg'].shape == p['pred_sem_seg']['sem_seg'].shape
        sem_differs |= not torch.equal(p['pred_sem_seg']['sem_seg'], t['pred_sem_seg']['sem_seg'])
    assert sem_differs
