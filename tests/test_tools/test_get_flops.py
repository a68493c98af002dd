"""tools/analysis_tools/get_flops.py: FLOPs per task token and of the three-task pass, in the plain formulation."""
import os.path as osp
import sys

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.registry import init_default_scope

from oneformer.dataset_converters import generate_synthetic_panoptic
from oneformer.models import reference_formulation
from oneformer.testing import config_path, tiny_model_cfg

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis_tools'))
import get_flops  # noqa: E402


class _Shared(torch.nn.Module):
    """Backbone + pixel decoder only: the part the three-task pass runs once."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        mask_features, multi_scale = self.model.extract_pixel_feats(x)
        return (mask_features, *multi_scale)


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    root = tmp_path_factory.mktemp('flops')
    cfg = Config.fromfile(config_path('configs/oneformer/oneformer_r18-tiny_1xb4-1k_synthetic-128x128.py'))
    cfg.model = tiny_model_cfg()
    path = str(root / 'config.py')
    cfg.dump(path)
    return root, path


def test_three_task_pass_counts_the_shared_part_once(tiny_config):
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg()).eval()
    x = torch.randn(1, 3, 64, 96)
    per_task = {t: get_flops.count(model, x, (t, ))[0] for t in get_flops.TASKS}
    both = get_flops.count(model, x, get_flops.TASKS)[0]
    with torch.no_grad(), reference_formulation(model):
        shared = FlopAnalyzer(_Shared(model).eval(), (x, ))
        shared.unsupported_ops_warnings(False)
        shared = int(shared.total())
    assert 0 < shared < per_task['panoptic']
    # the tasks differ only in the task token: the same decoder arithmetic each
    assert per_task['panoptic'] == per_task['instance'] == per_task['semantic']
    decoder = per_task['panoptic'] - shared
    assert both == shared + 3 * decoder
    # counted in the plain formulation: the query transformer's attention (SDPA in the fast path, which the counter
    # has no handle for) is counted, so the count is larger than that of the fast path
    with torch.no_grad():
        fast = FlopAnalyzer(get_flops.TaskPass(model, ('panoptic', )).eval(), (x, ))
        fast.unsupported_ops_warnings(False)
        assert int(fast.total()) < per_task['panoptic']


@pytest.mark.slow
def test_cli_on_a_random_image_and_on_the_test_images(tiny_config, tmp_path, capsys):
    root, path = tiny_config
    out = get_flops.main([path, '--shape', '64', '96'])
    printed = capsys.readouterr().out
    assert 'Compute type: random image 64x96' in printed
    for name in ('panoptic', 'instance', 'semantic', 'all (one pass)'):
        assert f'Flops [{name}]: ' in printed
    assert out['flops_all (one pass)'] < 3 * out['flops_panoptic']
    model = MODELS.build(tiny_model_cfg())
    text = sum(p.numel() for p in model.panoptic_head.text_mapper.parameters())
    assert out['params'] == sum(p.numel() for p in model.parameters()) - text

    data = str(tmp_path / 'data')
    generate_synthetic_panoptic(data, num_train=0, num_val=2, img_size=64, seed=0)
    out = get_flops.main([path, '--num-images', '2', '--task', 'semantic', '--cfg-options',
                          f'test_dataloader.dataset.data_root={data}/'])
    printed = capsys.readouterr().out
    assert '2 test image(s)' in printed and list(k for k in out if k.startswith('flops')) == ['flops_semantic']
    with pytest.raises(SystemExit, match='no test_dataloader'):
        model_only = Config.fromfile(path)
        for key in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
            model_only.pop(key, None)
        model_only.dump(str(tmp_path / 'model_only.py'))
        get_flops.main([str(tmp_path / 'model_only.py')])
