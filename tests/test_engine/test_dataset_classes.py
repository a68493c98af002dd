"""A class subset read from the JSON reaches the dataloaders (in the copied dataset file, or set on the datasets in
the config); a top-level ``metainfo`` that the datasets of a ``_base_`` never receive is refused by tools/train.py
and tools/test.py and reported by check_dataset; the classes the datasets use are written to the log."""
import argparse
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from oneformer.dataset_converters import generate_synthetic_panoptic
from oneformer.engine import setup_test_cfg, setup_train_cfg
from oneformer.engine.dataset_classes import describe_classes, unapplied_metainfo_problems
from oneformer.engine.hooks import ClassCountCheckHook
from oneformer.testing import captured_log, config_path

THINGS, STUFF = ('car', 'person'), ('road', 'grass', 'sky')
SUBSET = ['person', 'grass', 'sky']
DATASET_FILE = config_path('configs/_base_/datasets/custom_panoptic.py')
MODEL_FILE = config_path('configs/_base_/models/oneformer_r50.py')


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('subset_data'))
    generate_synthetic_panoptic(root, num_train=3, num_val=2, img_size=32, seed=4, thing_classes=THINGS,
                                stuff_classes=STUFF)
    return root


def _point_at(text: str, root: str) -> str:
    """The copied custom_panoptic.py pointed at ``root`` (the synthetic layout is the file's default layout)."""
    old = "data_root = 'data/my_dataset/'"
    assert old in text
    return text.replace(old, f'data_root = {root.rstrip("/") + "/"!r}')


def _copied_dataset_file(tmp_path, root, json_form: bool) -> str:
    """The README's step 1: custom_panoptic.py copied as my_dataset.py, its top block edited."""
    text = _point_at(open(DATASET_FILE, encoding='utf-8').read(), root)
    if json_form:  # the alternative the file offers, uncommented
        old = ("thing_classes = ('thing_a', 'thing_b')\nstuff_classes = ('stuff_a', )\n"
               'metainfo = dict(classes=thing_classes + stuff_classes, thing_classes=thing_classes, '
               'stuff_classes=stuff_classes)\n')
        assert old in text
        text = text.replace(old, 'from oneformer.datasets import coco_panoptic_classes\n'
                                 f'metainfo = coco_panoptic_classes(data_root + train_ann_file, {SUBSET!r})\n')
    path = tmp_path / 'my_dataset.py'
    path.write_text(text)
    return str(path)


def _config(tmp_path, body: str) -> Config:
    path = tmp_path / 'oneformer_r50_my-data.py'
    path.write_text(f"_base_ = [{MODEL_FILE!r}, './my_dataset.py']\n" + body)
    return Config.fromfile(str(path))


def _args(tmp_path):
    return argparse.Namespace(config='c.py', work_dir=str(tmp_path / 'work'), checkpoint='x.pth')


COUNTS = ('num_things_classes = {{_base_.num_things_classes}}\n'
          'num_stuff_classes = {{_base_.num_stuff_classes}}\n'
          'model = dict(panoptic_head=dict(num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes),'
          ' panoptic_fusion_head=dict(num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes))\n')


def test_subset_read_from_the_json_in_the_copied_dataset_file(root, tmp_path):
    _copied_dataset_file(tmp_path, root, json_form=True)
    cfg = _config(tmp_path, COUNTS)  # mmengine used to refuse the file ("configuration file type ... must match")
    assert cfg.model.panoptic_head.num_things_classes == 1 and cfg.model.panoptic_head.num_stuff_classes == 2
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert tuple(cfg[key].dataset.metainfo['classes']) == ('person', 'grass', 'sky')
    assert unapplied_metainfo_problems(cfg) == []
    setup_train_cfg(cfg, _args(tmp_path))


def test_subset_set_on_the_datasets_in_the_config(root, tmp_path):
    """The README's form for a config with _base_: the metainfo is set on the datasets and the model counts."""
    _copied_dataset_file(tmp_path, root, json_form=False)
    ann = osp.join(root, 'annotations', 'panoptic_train.json')
    cfg = _config(tmp_path, (
        'from oneformer.datasets import coco_panoptic_classes\n'
        f'metainfo = coco_panoptic_classes({ann!r}, {SUBSET!r})\n'
        'train_dataloader = dict(dataset=dict(metainfo=metainfo))\n'
        'val_dataloader = dict(dataset=dict(metainfo=metainfo))\n'
        'test_dataloader = val_dataloader\n'
        "num_things_classes = len(metainfo['thing_classes'])\n"
        "num_stuff_classes = len(metainfo['stuff_classes'])\n"
        'model = dict(panoptic_head=dict(num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes),'
        ' panoptic_fusion_head=dict(num_things_classes=num_things_classes, num_stuff_classes=num_stuff_classes))\n'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert tuple(cfg[key].dataset.metainfo['classes']) == ('person', 'grass', 'sky')
        assert cfg[key].dataset.ann_file  # the base's dataset settings are kept
    setup_train_cfg(cfg, _args(tmp_path))
    setup_test_cfg(cfg, _args(tmp_path))


def test_top_level_metainfo_alone_is_refused_and_reported(root, tmp_path, capsys):
    """The old README form: a new top-level metainfo in a config whose datasets come from a _base_ changed nothing
    (training used all classes); now tools/train.py / test.py refuse it and check_dataset reports it."""
    _copied_dataset_file(tmp_path, root, json_form=False)
    ann = osp.join(root, 'annotations', 'panoptic_train.json')
    cfg = _config(tmp_path, ('from oneformer.datasets import coco_panoptic_classes\n'
                             f'metainfo = coco_panoptic_classes({ann!r}, {SUBSET!r})\n'))
    assert tuple(cfg.train_dataloader.dataset.metainfo['classes']) == ('thing_a', 'thing_b', 'stuff_a')
    message = (r"the config sets metainfo with 3 classes \(person, grass, sky\): 1 thing \(person\), 2 stuff "
               r"\(grass, sky\), but train_dataloader.dataset has 3 classes \(thing_a, thing_b, stuff_a\): a top-level "
               r'metainfo does not reach datasets defined in a _base_ file .* train_dataloader = dict\(dataset=dict\('
               r'metainfo=metainfo\)\)')
    with pytest.raises(ValueError, match=message):
        setup_train_cfg(cfg, _args(tmp_path))
    with pytest.raises(ValueError, match='but test_dataloader.dataset has 3 classes'):
        setup_test_cfg(cfg, _args(tmp_path))

    sys.path.insert(0, osp.join(osp.dirname(DATASET_FILE), '..', '..', '..', 'tools', 'misc'))
    import check_dataset
    problems = check_dataset.main([str(tmp_path / 'oneformer_r50_my-data.py'), '--split', 'val'])
    out = capsys.readouterr().out
    assert any('but val_dataloader.dataset has 3 classes (thing_a, thing_b, stuff_a)' in p for _, p in problems)
    # (here the base's placeholder classes are not even in the JSON: the dataset cannot be built either)
    assert any(kind == 'dataset' and "classes ['thing_a', 'thing_b', 'stuff_a'] have no JSON category" in p
               for kind, p in problems)
    assert 'val: 0 images checked, 2 problem(s)' in out


def test_check_dataset_and_the_class_check_say_which_classes_are_used(root, tmp_path, capsys):
    _copied_dataset_file(tmp_path, root, json_form=True)
    _config(tmp_path, COUNTS)
    sys.path.insert(0, osp.join(osp.dirname(DATASET_FILE), '..', '..', '..', 'tools', 'misc'))
    import check_dataset
    assert check_dataset.main([str(tmp_path / 'oneformer_r50_my-data.py'), '--split', 'train']) == []
    out = capsys.readouterr().out
    assert ('train_dataloader.dataset uses 3 classes (person, grass, sky): 1 thing (person), 2 stuff (grass, sky)'
            in out)

    class Loop:
        def __init__(self, dataset):
            self.dataloader = type('Loader', (), {'dataset': dataset})()

    from mmdet.registry import DATASETS
    cfg = Config.fromfile(str(tmp_path / 'oneformer_r50_my-data.py'))
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.pipeline = []
    dataset = DATASETS.build(ds_cfg)
    runner = type('Runner', (), {'train_loop': Loop(dataset), 'model': None, '_val_loop': None})()
    with captured_log() as records:
        ClassCountCheckHook().before_train(runner)
    said = [r.getMessage() for r in records]
    assert said == ['train_dataloader: the dataset (OneFormerPanopticDataset, 3 images) uses '
                    + describe_classes(dataset.metainfo)]
    assert describe_classes(dataset.metainfo).startswith('3 classes (person, grass, sky)')
