"""segcompare.published (issue 21): ``--published`` reads the installed model zoos' metafiles (mmdet, mmseg, ours)."""
import os.path as osp

import pytest
import yaml
from segcompare import cli
from segcompare.common import REPO, CompareError
from segcompare.published import model_indexes, published


def _first_entry(metafile, dataset, task):
    """The first (model, metric value) of ``task`` on ``dataset`` in a metafile, read here independently."""
    with open(metafile) as f:
        meta = yaml.safe_load(f)
    for model in meta['Models']:
        results = model['Results'] if isinstance(model['Results'], list) else [model['Results']]
        for r in results:
            if r['Dataset'] == dataset and r['Task'] == task:
                return model['Name'], r['Metrics']
    raise AssertionError(f'no {task} on {dataset} in {metafile}')


def test_ade20k_table_has_oneformer_among_mmseg_and_mmdet_entries(tmp_path, capsys):
    report = cli.main(['--published', 'ade20k', '--work-dir', str(tmp_path)])
    rows = report['rows']
    assert {r['source'] for r in rows} >= {'mmseg', 'oneformer'}
    by_name = {(r['name'], r['task']): r for r in rows}
    # ours: configs/oneformer/metafile.yml
    name, metrics = _first_entry(osp.join(REPO, 'configs', 'oneformer', 'metafile.yml'), 'ADE20K',
                                 'Panoptic Segmentation')
    assert by_name[(name, 'panoptic')]['value'] == pytest.approx(metrics['PQ'])
    # mmseg's, through its installed .mim folder
    mmseg_index = dict(model_indexes())['mmseg']
    name, metrics = _first_entry(osp.join(osp.dirname(mmseg_index), 'configs', 'segformer', 'metafile.yaml')
                                 if osp.isfile(osp.join(osp.dirname(mmseg_index), 'configs', 'segformer',
                                                        'metafile.yaml'))
                                 else osp.join(osp.dirname(mmseg_index), 'configs', 'segformer', 'metafile.yml'),
                                 'ADE20K', 'Semantic Segmentation')
    row = by_name[(name, 'semantic')]
    assert row['value'] == pytest.approx(metrics['mIoU']) and row['source'] == 'mmseg'
    assert row['crop'] == '512x512' and row['backbone'].lower().startswith('mit')
    assert all(r['task'] in ('panoptic', 'instance', 'semantic') for r in rows)
    out = capsys.readouterr().out
    assert 'published numbers, not measured here' in out and '**OneFormer**' in out
    assert (tmp_path / 'published_ade20k.md').read_text().strip() == report['table']


def test_unknown_dataset_is_refused():
    with pytest.raises(CompareError, match="one of \\['ade20k', 'cityscapes', 'coco'\\]"):
        published('pascal')
