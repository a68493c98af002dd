"""mim sees the installed package: model index, `mim run`, `mim train`, `mim test` on a tiny generated dataset.

These check the *installed* environment (`make install` = tools/setup_env.sh links site-packages/oneformer to
projects/oneformer, where setup.py puts the `.mim` links).
"""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import yaml

from ..conftest import REPO
from ..test_apis.conftest import demo_config_path

MIM = osp.join(osp.dirname(sys.executable), 'mim')
HINT = 'run `make install` (tools/setup_env.sh links site-packages/oneformer -> projects/oneformer for mim)'


def _run(cmd, cwd, timeout=900) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=str(cwd), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f'{" ".join(map(str, cmd))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}'
    return proc


@pytest.mark.parametrize('where', ['repo_root', 'elsewhere'])
def test_mim_finds_installed_files(where, tmp_path):
    cwd = REPO if where == 'repo_root' else tmp_path  # from the repo root, cwd is on sys.path
    out = _run([sys.executable, '-W', 'ignore', '-c',
                "import mim.utils as u; print(u.get_installed_path('oneformer'))"], cwd).stdout
    pkg = out.strip().splitlines()[-1]
    for rel in ('tools/train.py', 'tools/test.py', 'model-index.yml', 'configs/oneformer/metafile.yml',
                'demo/image_demo.py', osp.join('configs/oneformer', osp.basename(demo_config_path()))):
        assert osp.isfile(osp.join(pkg, '.mim', rel)), f'{pkg}/.mim/{rel} missing: {HINT}'
    assert osp.realpath(pkg) == osp.realpath(osp.join(REPO, 'projects', 'oneformer')), HINT


def test_model_index_lists_every_config():
    index = yaml.safe_load(open(osp.join(REPO, 'model-index.yml')))
    models = []
    for meta in index['Import']:
        models += yaml.safe_load(open(osp.join(REPO, meta)))['Models']
    names = [m['Name'] for m in models]
    assert len(names) == len(set(names))
    for m in models:
        assert osp.isfile(osp.join(REPO, m['Config'])), m['Config']
        assert m['Name'] == osp.splitext(osp.basename(m['Config']))[0]
        for res in m.get('Results', []):
            assert res['Task'] in ('Panoptic Segmentation', 'Instance Segmentation', 'Semantic Segmentation')
            assert all(0 < v < 100 for v in res['Metrics'].values())
    configs = {osp.relpath(osp.join(d, f), REPO)
               for d, _, files in os.walk(osp.join(REPO, 'configs', 'oneformer')) for f in files if f.endswith('.py')}
    assert configs - {m['Config'] for m in models} == set(), 'add these configs to configs/oneformer/metafile.yml'
    published = {m['Name']: m['Results'] for m in models if 'Results' in m}
    ade_swin = {r['Task']: r['Metrics'] for r in
                published['oneformer_swin-l-p4-w12-384-in21k_8xb2-160k_ade20k-panoptic-640x640']}
    assert ade_swin == {'Panoptic Segmentation': {'PQ': 49.8}, 'Instance Segmentation': {'mask AP': 35.9},
                        'Semantic Segmentation': {'mIoU': 57.0, 'mIoU(ms+flip)': 57.7}}


def _data_options(root: str) -> list:
    root = root.rstrip('/') + '/'
    opts = []
    for split in ('train', 'val', 'test'):
        opts += [f'{split}_dataloader.dataset.data_root={root}', f'{split}_dataloader.batch_size=2',
                 f'{split}_dataloader.num_workers=0', f'{split}_dataloader.persistent_workers=False']
    for split in ('val', 'test'):  # the metrics read the annotation files themselves
        opts += [f'{split}_evaluator.0.ann_file={root}annotations/panoptic_val.json',
                 f'{split}_evaluator.0.seg_prefix={root}panoptic_val/',
                 f'{split}_evaluator.1.ann_file={root}annotations/instances_val.json']
    return opts


@pytest.mark.slow
def test_mim_run_train_test(tmp_path):
    data = tmp_path / 'data'
    _run([MIM, 'run', 'oneformer', 'make_synthetic_panoptic', str(data), '--num-train', '4', '--num-val', '2',
          '--size', '64', '--max-objects', '3'], tmp_path)
    assert len(os.listdir(data / 'train')) == 4
    opts = _data_options(str(data))
    work = tmp_path / 'work'
    # a bare config name: mim finds it in oneformer/.mim/configs
    _run([MIM, 'train', 'oneformer', osp.basename(demo_config_path()), '--work-dir', str(work), '--cfg-options',
          'train_cfg.max_iters=2', 'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1', *opts],
         tmp_path)
    ckpt = work / 'iter_2.pth'
    assert ckpt.is_file()
    test_work = tmp_path / 'test_work'
    _run([MIM, 'test', 'oneformer', demo_config_path(), '--checkpoint', str(ckpt), '--work-dir', str(test_work),
          '--task', 'semantic', '--cfg-options', *opts], tmp_path)
    metrics = json.load(open(test_work / 'metrics.json'))
    assert 'mIoU' in json.dumps(metrics)
