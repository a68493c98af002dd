"""tools/train.py and tools/test.py: argument parsing (incl. what mim passes) and config edits, plus one real
``tools/test.py`` run on a toy model (no OneFormer model needed)."""
import importlib.util
import json
import os
import os.path as osp
import pickle
from argparse import Namespace

import pytest
import torch
from mmdet.registry import DATASETS, MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from torch import nn

from oneformer.engine import metric_task, select_task_metrics, setup_test_cfg, setup_train_cfg

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(name):
    spec = importlib.util.spec_from_file_location(f'oneformer_tool_{name}', osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def train_tool():
    return load_tool('train')


@pytest.fixture(scope='module')
def test_tool():
    return load_tool('test')


EVALUATOR = [
    dict(type='CocoPanopticMetric', ann_file='pan.json', seg_prefix='pan/'),
    dict(type='mmdet.CocoMetric', ann_file='ins.json', metric='segm'),
    dict(type='SemSegMetric', iou_metrics=['mIoU']),
]


def base_cfg(**kwargs):
    cfg = dict(model=dict(type='OneFormer', test_cfg=dict(tasks=('panoptic', 'instance', 'semantic'))),
               test_evaluator=EVALUATOR, default_hooks=dict(visualization=dict(type='DetVisualizationHook')),
               optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4)),
               auto_scale_lr=dict(enable=False, base_batch_size=16))
    cfg.update(kwargs)
    return Config(cfg)


def test_parse_args_as_called_by_mim_and_launchers(train_tool, test_tool, monkeypatch, capsys):
    monkeypatch.setenv('LOCAL_RANK', 'unset')  # so that monkeypatch restores the caller's environment
    monkeypatch.delenv('LOCAL_RANK')
    # `mim train oneformer CFG` -> train.py CFG --launcher none (no --gpus: our -h does not mention it)
    args = train_tool.parse_args(['cfg.py', '--launcher', 'none'])
    assert (args.config, args.launcher, args.resume, args.amp) == ('cfg.py', 'none', None, False)
    assert os.environ.pop('LOCAL_RANK') == '0'
    # `mim train --launcher pytorch` uses torch.distributed.launch, which passes --local-rank
    args = train_tool.parse_args(['cfg.py', '--launcher', 'pytorch', '--local-rank=1'])
    assert args.local_rank == 1 and os.environ['LOCAL_RANK'] == '1'
    assert train_tool.parse_args(['cfg.py', '--local_rank', '0', '--resume']).resume == 'auto'
    assert train_tool.parse_args(['cfg.py', '--resume', 'a.pth']).resume == 'a.pth'
    args = train_tool.parse_args(['cfg.py', '--cfg-options', 'train_cfg.max_iters=10', 'model.x=[1,2]'])
    assert args.cfg_options == {'train_cfg.max_iters': 10, 'model.x': [1, 2]}

    # `mim test oneformer CFG --checkpoint CKPT` -> test.py CFG CKPT --launcher none
    args = test_tool.parse_args(['cfg.py', 'ckpt.pth', '--launcher', 'none'])
    assert (args.config, args.checkpoint, args.task, args.out) == ('cfg.py', 'ckpt.pth', None, None)
    assert test_tool.parse_args(['cfg.py', 'c.pth', '--task', 'all']).task == 'all'
    with pytest.raises(SystemExit):
        test_tool.parse_args(['cfg.py', 'c.pth', '--task', 'detection'])
    for tool in (train_tool, test_tool):
        with pytest.raises(SystemExit):
            tool.parse_args(['-h'])
        assert '--gpus' not in capsys.readouterr().out


@pytest.mark.parametrize('task,tasks,kept', [
    ('instance', ('instance', ), ['mmdet.CocoMetric']),
    ('panoptic', ('panoptic', ), ['CocoPanopticMetric']),
    ('semantic', ('semantic', ), ['SemSegMetric']),
    ('all', ('panoptic', 'instance', 'semantic'), ['CocoPanopticMetric', 'mmdet.CocoMetric', 'SemSegMetric']),
])
def test_test_cfg_task_override(test_tool, task, tasks, kept):
    args = test_tool.parse_args(['configs/x/my_cfg.py', 'ckpt.pth', '--task', task])
    cfg = setup_test_cfg(base_cfg(), args)
    assert cfg.model.test_cfg.tasks == tasks
    assert [m['type'] for m in cfg.test_evaluator] == kept
    assert cfg.load_from == 'ckpt.pth' and cfg.launcher == 'none'
    assert cfg.work_dir == osp.join('./work_dirs', 'my_cfg') and cfg.default_scope == 'mmdet'
    assert [h['type'] for h in cfg.custom_hooks] == ['TaskMetricsSummaryHook', 'ClassCountCheckHook']


def test_task_token_is_the_official_single_token_evaluation(test_tool):
    # --task-token: one token produces every prediction; every task's metric stays (all predictions are made)
    cfg = setup_test_cfg(base_cfg(), test_tool.parse_args(['c.py', 'k.pth', '--task-token', 'panoptic']))
    assert cfg.model.test_cfg.task_token == 'panoptic'
    assert cfg.model.test_cfg.tasks == ('panoptic', 'instance', 'semantic')
    assert [m['type'] for m in cfg.test_evaluator] == ['CocoPanopticMetric', 'mmdet.CocoMetric', 'SemSegMetric']
    cfg = setup_test_cfg(base_cfg(), test_tool.parse_args(['c.py', 'k.pth', '--task', 'semantic',
                                                           '--task-token', 'instance']))
    assert (cfg.model.test_cfg.tasks, cfg.model.test_cfg.task_token) == (('semantic', ), 'instance')
    assert [m['type'] for m in cfg.test_evaluator] == ['SemSegMetric']
    with pytest.raises(SystemExit):  # argparse refuses 'all' as a single token
        test_tool.parse_args(['c.py', 'k.pth', '--task-token', 'all'])


def test_test_cfg_other_options(test_tool, tmp_path):
    # no --task: config untouched; hook not duplicated; --out appends the dumper; --show-dir enables drawing
    cfg = base_cfg(custom_hooks=[dict(type='TaskMetricsSummaryHook', on_val=False)], model=dict(type='OneFormer'))
    args = test_tool.parse_args(['c.py', 'k.pth', '--out', str(tmp_path / 'r.pkl'), '--show-dir', 'vis',
                                 '--work-dir', str(tmp_path), '--cfg-options', 'model.num_queries=7'])
    cfg = setup_test_cfg(cfg, args)
    assert 'test_cfg' not in cfg.model and cfg.model.num_queries == 7
    assert [h.get('on_val') for h in cfg.custom_hooks] == [False, None]  # + ClassCountCheckHook
    assert cfg.test_evaluator[-1] == dict(type='DumpDetResults', out_file_path=str(tmp_path / 'r.pkl'))
    assert len(cfg.test_evaluator) == 4 and cfg.work_dir == str(tmp_path)
    vis = cfg.default_hooks.visualization
    assert vis.draw is True and vis.test_out_dir == 'vis'

    with pytest.raises(ValueError, match='pkl'):
        setup_test_cfg(base_cfg(), test_tool.parse_args(['c.py', 'k.pth', '--out', 'r.json']))
    # model without test_cfg gets one; Evaluator-dict form is kept
    cfg = base_cfg(model=dict(type='OneFormer'), test_evaluator=dict(type='Evaluator', metrics=EVALUATOR))
    cfg = setup_test_cfg(cfg, test_tool.parse_args(['c.py', 'k.pth', '--task', 'semantic']))
    assert cfg.model.test_cfg.tasks == ('semantic', )
    assert cfg.test_evaluator['type'] == 'Evaluator'
    assert [m['type'] for m in cfg.test_evaluator['metrics']] == ['SemSegMetric']


def test_task_without_metric_is_a_clear_error():
    with pytest.raises(ValueError, match=r"no metric for task\(s\) \('semantic',\).*CocoPanopticMetric"):
        select_task_metrics(EVALUATOR[:2], ('semantic', ))
    dump = dict(type='DumpDetResults', out_file_path='x.pkl')
    assert select_task_metrics([dump], ('semantic', )) == [dump]  # task-agnostic metrics are kept
    assert metric_task(dict(type='mmseg.IoUMetric')) == 'semantic'
    assert metric_task(dump) is None


def test_train_cfg_options(train_tool, monkeypatch):
    import oneformer.engine.runner_config as runner_config
    args = train_tool.parse_args(['a/b/cfg.py', '--amp', '--auto-scale-lr', '--resume', '--launcher', 'slurm'])
    monkeypatch.setattr(runner_config, '_amp_device_available', lambda: False)
    with pytest.raises(RuntimeError, match='--amp needs a GPU'):  # mmengine's AmpOptimWrapper asserts on CPU
        setup_train_cfg(base_cfg(), args)
    monkeypatch.setattr(runner_config, '_amp_device_available', lambda: True)
    cfg = setup_train_cfg(base_cfg(), args)
    assert [h['type'] for h in cfg.custom_hooks] == ['ClassCountCheckHook', 'RNGStateHook', 'LogLastIterHook']
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.auto_scale_lr.enable is True
    assert cfg.resume is True and cfg.load_from is None and cfg.launcher == 'slurm'
    assert cfg.work_dir == osp.join('./work_dirs', 'cfg')
    cfg = setup_train_cfg(base_cfg(work_dir='wd'), train_tool.parse_args(['cfg.py', '--resume', 'x.pth']))
    assert cfg.resume is True and cfg.load_from == 'x.pth' and cfg.work_dir == 'wd'
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    with pytest.raises(RuntimeError, match='auto_scale_lr'):
        setup_train_cfg(Config(dict()), Namespace(config='c.py', auto_scale_lr=True))


# ------------------------------------------------------------------ end to end: tools/test.py on a toy model
@MODELS.register_module(force=True)
class ToySemanticModel(BaseModel):
    """Predicts the GT semantic map; refuses tasks other than the ones tools/test.py must have set."""

    def __init__(self, test_cfg=None, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.test_cfg = test_cfg or {}
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        assert tuple(self.test_cfg['tasks']) == ('semantic', )
        for ds in data_samples:
            ds.pred_sem_seg = PixelData(sem_seg=ds.gt_sem_seg.sem_seg.clone())
        return data_samples


@DATASETS.register_module(force=True)
class ToySemanticDataset(torch.utils.data.Dataset):
    metainfo = dict(classes=('a', 'b', 'c'))

    def __len__(self):
        return 2

    def __getitem__(self, i):
        ds = DetDataSample(metainfo=dict(img_id=i, img_path=f'{i}.jpg', ori_shape=(4, 4)))
        ds.gt_sem_seg = PixelData(sem_seg=torch.arange(16).reshape(1, 4, 4) % 3)
        return dict(inputs=torch.zeros(3, 4, 4), data_samples=ds)


def test_test_tool_end_to_end(test_tool, tmp_path):
    cfg_file = tmp_path / 'toy_cfg.py'
    cfg_file.write_text(
        "default_scope = 'mmdet'\n"
        "model = dict(type='ToySemanticModel')\n"
        "test_dataloader = dict(batch_size=1, num_workers=0, dataset=dict(type='ToySemanticDataset'),\n"
        "                       sampler=dict(type='DefaultSampler', shuffle=False))\n"
        "test_cfg = dict(type='TestLoop')\n"
        # the panoptic metric would fail to load its missing ann_file: --task semantic must drop it
        "test_evaluator = [dict(type='CocoPanopticMetric', ann_file='/nonexistent/pan.json'),\n"
        "                  dict(type='SemSegMetric', iou_metrics=['mIoU'])]\n")
    ckpt = tmp_path / 'toy.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}}, ckpt)
    work_dir = tmp_path / 'work'
    metrics = test_tool.main([str(cfg_file), str(ckpt), '--task', 'semantic', '--work-dir', str(work_dir),
                              '--out', str(tmp_path / 'preds.pkl')])
    assert metrics['mIoU'] == 100.0
    saved = json.load(open(work_dir / 'metrics.json'))
    assert saved['mIoU'] == 100.0 and 'PQ' not in saved and 'AP' not in saved
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        assert len(pickle.load(f)) == 2
