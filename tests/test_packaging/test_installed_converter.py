"""The HF converter of a real, non-editable install writes configs whose bases exist (the installed ``.mim``).

A wheel is built from a copy of the checkout (as ``test_wheel.py`` does) and installed with ``--no-deps`` into a
temporary venv; the venv reuses this environment's packages (OpenMMLab stack, transformers) through a ``.pth`` line,
so nothing is downloaded. The installed CLI (``oneformer/.mim/tools/model_converters/oneformer_hf_to_mm.py``, what
``mim run`` would start) then converts a tiny random HF OneFormer from a working directory outside the repository,
and the written configs load with ``mmengine.Config.fromfile`` and build a model that loads the weights strictly.
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

from oneformer.testing.hf_models import make_hf_model

from ..conftest import REPO
from .test_wheel import _ignore

CHECK = r'''
import json, os, sys
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
import oneformer
from mmdet.registry import MODELS

out = dict(oneformer=oneformer.__file__, configs={})
for name in sys.argv[1:]:
    cfg = Config.fromfile(os.path.join(name, 'config.py'))
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    sd = torch.load(os.path.join(name, 'model.pth'), map_location='cpu', weights_only=True)['state_dict']
    result = model.load_state_dict(sd, strict=True)
    loader = cfg.get('test_dataloader')
    out['configs'][name] = dict(missing=result.missing_keys, unexpected=result.unexpected_keys,
                                dataset=loader.dataset.type if loader else None,
                                test_loop=cfg.get('test_cfg', {}).get('type'),
                                classes=cfg.model.panoptic_head.num_things_classes
                                + cfg.model.panoptic_head.num_stuff_classes)
print('RESULT ' + json.dumps(out))
'''


def _run(cmd, cwd, env=None):
    proc = subprocess.run([str(c) for c in cmd], cwd=str(cwd), capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, f'{cmd}\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}'
    return proc.stdout


@pytest.mark.slow
def test_installed_hf_converter_writes_loadable_configs(tmp_path):
    src = tmp_path / 'src'
    shutil.copytree(REPO, src, ignore=_ignore, symlinks=True)
    wheels = tmp_path / 'wheels'
    _run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--disable-pip-version-check',
          '-q', '-w', wheels, src], tmp_path)
    (wheel, ) = list(wheels.glob('oneformer-*.whl'))

    venv = tmp_path / 'venv'
    _run([sys.executable, '-m', 'venv', '--system-site-packages', '--without-pip', venv], tmp_path)
    python = venv / 'bin' / 'python'
    site = _run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], tmp_path).strip()
    # this environment's packages, after the venv's own site-packages (so the installed oneformer wins)
    with open(os.path.join(site, 'outer_environment.pth'), 'w', encoding='utf-8') as f:
        f.write(sysconfig.get_paths()['purelib'] + '\n')
    # --ignore-installed: the editable oneformer of this environment is neither used nor touched
    _run([sys.executable, '-m', 'pip', '--python', python, 'install', '--no-deps', '--no-index', '--ignore-installed',
          '--disable-pip-version-check', '-q', wheel], tmp_path)

    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    installed = _run([python, '-c', 'import os, oneformer; print(os.path.dirname(oneformer.__file__))'], elsewhere,
                     env).strip()
    assert installed == os.path.join(site, 'oneformer'), installed  # the wheel's copy, not the checkout
    cli = os.path.join(installed, '.mim', 'tools', 'model_converters', 'oneformer_hf_to_mm.py')
    assert os.path.isfile(cli)

    hf = make_hf_model('resnet', num_labels=19)
    hf.save_pretrained(tmp_path / 'hf')
    _run([python, cli, tmp_path / 'hf', 'plain', '--num-things', '8'], elsewhere, env)
    _run([python, cli, tmp_path / 'hf', 'cityscapes', '--dataset', 'cityscapes'], elsewhere, env)

    mim_configs = os.path.join(installed, '.mim', 'configs')
    for name, bases in (('plain', ['models/oneformer_r50.py', 'default_runtime.py']),
                        ('cityscapes', ['models/oneformer_r50.py', 'datasets/cityscapes_panoptic.py',
                                        'schedules/schedule_cityscapes_90k.py', 'default_runtime.py'])):
        text = (elsewhere / name / 'config.py').read_text()
        for base in bases:
            assert repr(os.path.join(mim_configs, '_base_', base)) in text, (name, base)
        assert REPO not in text.split('load_from')[0].split('model = ')[0], f'{name} still points into the checkout'

    out = _run([python, '-c', CHECK, 'plain', 'cityscapes'], elsewhere, env)
    result = json.loads(out.split('RESULT ', 1)[1])
    assert result['oneformer'].startswith(site)
    plain, city = result['configs']['plain'], result['configs']['cityscapes']
    for r in (plain, city):
        assert r['missing'] == [] and r['unexpected'] == [] and r['classes'] == 19
    assert plain['dataset'] is None
    assert city['dataset'] == 'CityscapesPanopticDataset' and city['test_loop'] == 'TestLoop'
