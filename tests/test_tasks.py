"""The task contract: requested tasks -> decoder passes, test_cfg options, metric -> task."""
import pytest

from oneformer.tasks import TASKS, metric_task, metric_type_name, parse_test_cfg, prediction_plan


def test_prediction_plan_each_output_from_its_own_token():
    assert prediction_plan('all') == tuple((t, (t, )) for t in TASKS)
    assert prediction_plan(('semantic', 'panoptic')) == (('semantic', ('semantic', )), ('panoptic', ('panoptic', )))
    assert prediction_plan('instance') == (('instance', ('instance', )), )


def test_prediction_plan_single_token_produces_exactly_the_requested_outputs():
    assert prediction_plan('all', task_token='panoptic') == (('panoptic', TASKS), )
    assert prediction_plan(('semantic', ), task_token='instance') == (('instance', ('semantic', )), )
    with pytest.raises(ValueError, match="'depth'"):
        prediction_plan('all', task_token='depth')
    with pytest.raises(ValueError, match="'depth'"):
        prediction_plan(('panoptic', 'depth'))


def test_test_options_defaults_and_errors():
    assert parse_test_cfg(None) == (TASKS, None)
    assert parse_test_cfg(dict(tasks='semantic', task_token='panoptic')) == (('semantic', ), 'panoptic')
    with pytest.raises(ValueError, match='task_token'):
        parse_test_cfg(dict(task_token='all'))
    with pytest.raises(KeyError, match='renamed'):
        parse_test_cfg(dict(task='panoptic'))


def test_metric_task_reads_configs_objects_and_scopes():
    class SemSegMetric:  # a metric object: its class name decides
        pass

    assert metric_task(dict(type='mmdet.CocoPanopticMetric')) == 'panoptic'
    assert metric_task(dict(type='CocoMetric', metric='segm')) == 'instance'
    assert metric_task(SemSegMetric()) == 'semantic'
    assert metric_task(dict(type='DumpDetResults')) is None
    assert metric_type_name(dict(type=SemSegMetric)) == 'SemSegMetric'
