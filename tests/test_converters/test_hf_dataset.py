"""``oneformer_hf_to_mm.py --dataset``: the written config inherits a dataset, so ``tools/test.py`` evaluates it.

Without ``--dataset`` the config stays inference-only (model, runtime, ``metainfo``).
"""
import importlib.util
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from oneformer.datasets import CITYSCAPES_PANOPTIC_METAINFO, LABEL_TO_TRAIN_ID
from oneformer.model_converters import configs_root, convert_hf_dir
from oneformer.tasks import task_tokens
from oneformer.testing.hf_models import HF_IMAGE_SHAPE, build_converted, make_hf_model

from ..conftest import REPO

TOL = 1e-4


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO, 'tools', *name.split('/')) + '.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _save(hf, path, shortest_edge=None, longest_edge=None):
    hf.save_pretrained(path)
    if shortest_edge:
        (path / 'preprocessor_config.json').write_text(json.dumps(dict(
            image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225], do_rescale=True,
            rescale_factor=1 / 255, do_resize=True, size=dict(shortest_edge=shortest_edge, longest_edge=longest_edge))))


def test_cityscapes_config_evaluates_on_cityscapes_with_the_hf_test_size(tmp_path):
    """The hub checkpoints number Cityscapes classes by train id: our class i is HF's train id LABEL_TO_TRAIN_ID[i]
    (checked on the logits); the config inherits the Cityscapes base and schedule and resizes like HF."""
    hf = make_hf_model('resnet', num_labels=19, id2label={i: f'hub_name_{i}' for i in range(19)})
    _save(hf, tmp_path / 'hf', shortest_edge=512, longest_edge=1024)
    assert _tool('model_converters/oneformer_hf_to_mm').main(
        [str(tmp_path / 'hf'), str(tmp_path / 'mm'), '--dataset', 'cityscapes', '--strict']) == 0
    model, cfg, ckpt = build_converted(str(tmp_path / 'mm'))
    text = (tmp_path / 'mm' / 'config.py').read_text()
    for base in ('models/oneformer_r50.py', 'datasets/cityscapes_panoptic.py', 'schedules/schedule_cityscapes_90k.py',
                 'default_runtime.py'):
        assert repr(osp.join(configs_root(), '_base_', base)) in text, base
    assert cfg.test_dataloader.dataset.type == 'CityscapesPanopticDataset' and cfg.test_cfg.type == 'TestLoop'
    assert {m.type for m in cfg.test_evaluator} == {'OneFormerPanopticMetric', 'CocoMetric', 'OneFormerSemSegMetric'}
    (resize, ) = [s for s in cfg.test_dataloader.dataset.pipeline if s.type == 'Resize']
    assert tuple(resize.scale) == (1024, 512)  # HF's size, not the base's (2048, 1024)
    assert cfg.model.test_cfg.object_mask_thr == 0.8  # official Cityscapes value
    meta = ckpt['meta']['dataset_meta']
    assert meta['classes'] == CITYSCAPES_PANOPTIC_METAINFO['classes']  # the official names, not id2label's
    assert meta['source_class_ids'] == list(LABEL_TO_TRAIN_ID)
    assert (cfg.model.panoptic_head.num_things_classes, cfg.model.panoptic_head.num_stuff_classes) == (8, 11)

    x = torch.randn(HF_IMAGE_SHAPE)
    with torch.no_grad():
        hf_cls = hf(pixel_values=x, task_inputs=task_tokens('panoptic')[None]).class_queries_logits
        from mmdet.structures import DetDataSample
        cls, _ = model.panoptic_head(model.extract_feat(x), [DetDataSample(metainfo=dict(task='panoptic'))])
    assert torch.allclose(cls[-1], hf_cls[..., list(LABEL_TO_TRAIN_ID) + [19]], atol=TOL)


def test_dataset_classes_must_match_the_checkpoint(tmp_path):
    hf = make_hf_model('resnet')  # 5 classes
    _save(hf, tmp_path / 'hf')
    with pytest.raises(ValueError, match='the checkpoint has 5 classes, official cityscapes checkpoints 19'):
        convert_hf_dir(str(tmp_path / 'hf'), str(tmp_path / 'mm'), dataset='cityscapes')
    info = tmp_path / 'info.json'
    info.write_text(json.dumps([dict(name=n, isthing=t) for n, t in
                                [('circle', 1), ('sky', 0), ('square', 1), ('ground', 0), ('hexagon', 1)]]))
    dataset_cfg = osp.join(configs_root(), '_base_', 'datasets', 'synthetic_panoptic.py')
    with pytest.raises(ValueError, match=r"dataset classes \['triangle'\] are not"):
        convert_hf_dir(str(tmp_path / 'hf'), str(tmp_path / 'mm'), class_info=str(info), dataset=dataset_cfg)
    assert not (tmp_path / 'mm').exists()


def test_without_dataset_the_config_is_inference_only(tmp_path):
    hf = make_hf_model('resnet')
    _save(hf, tmp_path / 'hf')
    convert_hf_dir(str(tmp_path / 'hf'), str(tmp_path / 'mm'), num_things=2)
    cfg = Config.fromfile(str(tmp_path / 'mm' / 'config.py'))
    assert 'test_dataloader' not in cfg and 'train_dataloader' not in cfg
    assert list(cfg.metainfo.thing_classes) == [hf.config.id2label[0], hf.config.id2label[1]]
    assert cfg.model.test_cfg.object_mask_thr == 0.5  # HF's default without a dataset


@pytest.mark.slow
def test_tools_test_evaluates_the_converted_model(tmp_path, monkeypatch):
    """End to end: convert with --dataset PATH_TO_A_DATASET_CONFIG (the synthetic shapes), then tools/test.py
    CONFIG model.pth runs the dataset's evaluators on its data (a random model: the numbers are near zero)."""
    from oneformer.dataset_converters import generate_synthetic_panoptic
    names = [('sky', 0), ('circle', 1), ('ground', 0), ('square', 1), ('triangle', 1)]  # not things first
    hf = make_hf_model('resnet', id2label={i: n for i, (n, _) in enumerate(names)})
    _save(hf, tmp_path / 'hf', shortest_edge=128, longest_edge=128)
    info = tmp_path / 'info.json'
    info.write_text(json.dumps({str(i): dict(name=n, isthing=t) for i, (n, t) in enumerate(names)}))
    dataset_cfg = osp.join(configs_root(), '_base_', 'datasets', 'synthetic_panoptic.py')
    assert _tool('model_converters/oneformer_hf_to_mm').main(
        [str(tmp_path / 'hf'), str(tmp_path / 'mm'), '--dataset', dataset_cfg, '--class-info', str(info)]) == 0
    ckpt = torch.load(tmp_path / 'mm' / 'model.pth', weights_only=True)
    assert ckpt['meta']['dataset_meta']['classes'] == ('circle', 'square', 'triangle', 'sky', 'ground')
    assert ckpt['meta']['dataset_meta']['source_class_ids'] == [1, 3, 4, 0, 2]

    work = tmp_path / 'run'
    generate_synthetic_panoptic(str(work / 'data' / 'synthetic'), num_train=0, num_val=2, img_size=128, seed=0)
    monkeypatch.chdir(work)  # the dataset config's data_root is relative: data/synthetic/
    metrics = _tool('test').main([str(tmp_path / 'mm' / 'config.py'), str(tmp_path / 'mm' / 'model.pth'),
                                  '--work-dir', str(work / 'work_dir'), '--cfg-options',
                                  'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False'])
    assert any('PQ' in k for k in metrics) and any('mIoU' in k for k in metrics), metrics
    assert any('segm_mAP' in k for k in metrics), metrics
