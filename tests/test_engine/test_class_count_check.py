"""Class counts are checked against each other: detector heads at build time, model vs data at runner start."""
import pytest
from mmdet.registry import MODELS
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from oneformer.engine.hooks import class_count_problems, config_class_counts, model_class_counts
from oneformer.testing import synthetic_runner_cfg, tiny_model_cfg

SYNTH = dict(classes=('circle', 'square', 'triangle', 'sky', 'ground'),
             thing_classes=('circle', 'square', 'triangle'), stuff_classes=('sky', 'ground'))


def test_head_and_fusion_head_must_agree():
    init_default_scope('mmdet')
    cfg = tiny_model_cfg(num_things=3, num_stuff=2)
    cfg.panoptic_fusion_head.num_stuff_classes = 3
    with pytest.raises(ValueError, match=r'panoptic_head has num_things_classes=3, num_stuff_classes=2 but '
                                         r'model.panoptic_fusion_head has num_things_classes=3, num_stuff_classes=3'):
        MODELS.build(cfg)


def test_problems_name_both_numbers_and_the_keys():
    counts = config_class_counts(tiny_model_cfg(num_things=3, num_stuff=3))
    assert counts == {'model.panoptic_head': (3, 3, 6), 'model.panoptic_fusion_head': (3, 3, 6)}
    problems = class_count_problems(SYNTH, counts, 'train_dataloader')
    assert len(problems) == 2
    assert problems[0] == ('model.panoptic_head has num_things_classes=3, num_stuff_classes=3 but '
                           'train_dataloader.dataset.metainfo has 3 thing_classes and 2 stuff_classes (5 classes)')
    assert class_count_problems(SYNTH, config_class_counts(tiny_model_cfg()), 'x') == []
    # semantic / instance data (no thing/stuff split): the total is compared
    sem = class_count_problems(dict(classes=('a', 'b')), {'model.panoptic_head': (0, 3, 3)}, 'val_dataloader')
    assert sem == ["model.panoptic_head has 3 classes (num_things_classes=0 + num_stuff_classes=3) but "
                   "val_dataloader.dataset.metainfo has 2 classes ('a', 'b')"]
    # mmseg models: decode_head.num_classes; config defaults are the head class's
    assert config_class_counts(dict(decode_head=dict(type='X', num_classes=4))) == {
        'model.decode_head': (None, None, 4)}
    assert config_class_counts(dict(panoptic_head=dict(type='OneFormerHead')))['model.panoptic_head'] == (80, 53, 133)



def test_config_counts_of_a_fusion_head_that_follows_panoptic_head():
    """A fusion head config without class counts takes panoptic_head's (as the built detector does), not the
    class defaults (80 / 53): the README's custom-data config sets them on panoptic_head only."""
    cfg = tiny_model_cfg(num_things=2, num_stuff=1)
    for key in ('num_things_classes', 'num_stuff_classes'):
        cfg['panoptic_fusion_head'].pop(key, None)
    counts = config_class_counts(cfg)
    assert counts['model.panoptic_fusion_head'] == (2, 1, 3) == counts['model.panoptic_head']
    init_default_scope('mmdet')
    assert model_class_counts(MODELS.build(cfg)) == counts

def test_model_counts_of_a_built_model():
    init_default_scope('mmdet')
    model = MODELS.build(tiny_model_cfg(num_things=2, num_stuff=4))
    assert model_class_counts(model) == {'model.panoptic_head': (2, 4, 6), 'model.panoptic_fusion_head': (2, 4, 6)}


@pytest.mark.parametrize('things, stuff', [(2, 2), (3, 3)])  # fewer classes (trained silently), more (crashed later)
def test_runner_refuses_mismatched_model_before_the_first_iteration(synthetic_root, tmp_path, things, stuff):
    init_default_scope('mmdet')
    cfg = synthetic_runner_cfg(synthetic_root, str(tmp_path), max_iters=1,
                               model=tiny_model_cfg(num_things=things, num_stuff=stuff))
    cfg.custom_hooks = [dict(type='ClassCountCheckHook')]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=rf'num_things_classes={things}, num_stuff_classes={stuff} but '
                                         r'train_dataloader.dataset.metainfo has 3 thing_classes and 2 '
                                         r'stuff_classes.*\nTo fix: set num_things_classes / num_stuff_classes of '
                                         'model.panoptic_head and model.panoptic_fusion_head'):
        runner.train()
    assert runner.iter == 0


def test_runner_checks_the_val_dataset_before_training(synthetic_root, tmp_path):
    init_default_scope('mmdet')
    cfg = synthetic_runner_cfg(synthetic_root, str(tmp_path), max_iters=1)
    cfg.custom_hooks = [dict(type='ClassCountCheckHook')]
    val = cfg.train_dataloader.copy()
    val.dataset = dict(val.dataset, metainfo=dict(classes=('circle', 'square', 'sky', 'ground')),  # a subset
                       ann_file='annotations/panoptic_val.json', data_prefix=dict(img='val/', seg='panoptic_val/'),
                       test_mode=True, lazy_init=True)
    val.sampler = dict(type='DefaultSampler', shuffle=False)
    cfg.update(val_dataloader=val, val_cfg=dict(type='ValLoop'), val_evaluator=dict(type='OneFormerSemSegMetric'))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='val_dataloader.dataset.metainfo has 2 thing_classes and 2 stuff_classes'):
        runner.train()
    assert runner.iter == 0
