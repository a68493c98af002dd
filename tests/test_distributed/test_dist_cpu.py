"""tools/dist_train.sh and tools/dist_test.sh with 2 CPU processes (torchrun + gloo) on a tiny synthetic dataset.

A test-only hook (``dist_probe.DistProbeHook``, loaded through ``custom_imports``) records in each rank what the
contrastive loss gathered, which images the rank trained on and how far parameters differ across ranks.
"""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest

from ..conftest import REPO
from ..test_apis.conftest import demo_config_path

pytestmark = pytest.mark.slow

NUM_TRAIN, BATCH, ITERS, WORLD = 8, 2, 2, 2  # 2 ranks x 2 iters x 2 images = one pass over the 8 images


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _write_config(path, data_root: str, probe_dir: str) -> str:
    root = data_root.rstrip('/') + '/'
    path.write_text(f"""
_base_ = [{demo_config_path()!r}]
custom_imports = dict(imports=['oneformer', 'tests.test_distributed.dist_probe'], allow_failed_imports=False)
custom_hooks = [dict(type='TaskMetricsSummaryHook'), dict(type='DistProbeHook', out_dir={probe_dir!r})]
data_root = {root!r}
train_dataloader = dict(batch_size={BATCH}, num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_evaluator = [
    dict(type='OneFormerPanopticMetric', ann_file=data_root + 'annotations/panoptic_val.json',
         seg_prefix=data_root + 'panoptic_val/'),
    dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json', metric='segm'),
    dict(type='SemSegMetric', iou_metrics=['mIoU'])]
# no validation while training
val_dataloader = None
val_cfg = None
val_evaluator = None
train_cfg = dict(max_iters={ITERS}, val_interval={ITERS + 1})
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval={ITERS}))
""")
    return str(path)


def _run(script: str, args: list, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()), OMP_NUM_THREADS='1')
    proc = subprocess.run(['bash', osp.join(REPO, 'tools', script), *args], cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f'{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}'
    return proc


@pytest.fixture(scope='module')
def dist_train(tmp_path_factory):
    from oneformer.dataset_converters import generate_synthetic_panoptic
    tmp = tmp_path_factory.mktemp('dist')
    generate_synthetic_panoptic(str(tmp / 'data'), num_train=NUM_TRAIN, num_val=2, img_size=64, max_objects=3)
    probe = tmp / 'probe'
    probe.mkdir()
    config = _write_config(tmp / 'config.py', str(tmp / 'data'), str(probe))
    work_dir = tmp / 'work'
    _run('dist_train.sh', [config, str(WORLD), '--work-dir', str(work_dir)], tmp)
    records = [json.load(open(probe / f'rank{r}.json')) for r in range(WORLD)]
    return dict(tmp=tmp, config=config, work_dir=work_dir, records=records)


def test_gloo_process_group(dist_train):
    for rank, rec in enumerate(dist_train['records']):
        assert (rec['rank'], rec['world_size'], rec['backend']) == (rank, WORLD, 'gloo')


def test_contrastive_loss_sees_other_ranks_negatives(dist_train):
    for rec in dist_train['records']:
        assert len(rec['gathers']) == 2 * ITERS  # per iteration: object queries and text queries
        for g in rec['gathers']:
            assert g['gathered'] == WORLD * g['local'] == WORLD * BATCH
            assert g['own_slice_is_local'] and g['others_differ']


def test_ranks_train_on_different_images(dist_train):
    paths = [rec['img_paths'] for rec in dist_train['records']]
    assert all(len(p) == ITERS * BATCH for p in paths)
    assert not set(paths[0]) & set(paths[1])
    assert len(set(paths[0]) | set(paths[1])) == NUM_TRAIN


def test_ranks_stay_in_sync(dist_train):
    for rec in dist_train['records']:
        assert rec['param_change'] > 0, 'training did not update the parameters'
        assert rec['max_param_diff_across_ranks'] == 0.0
    assert osp.isfile(dist_train['work_dir'] / f'iter_{ITERS}.pth')


def test_dist_test_two_cpu_processes(dist_train):
    work = dist_train['tmp'] / 'test_work'
    _run('dist_test.sh', [dist_train['config'], str(dist_train['work_dir'] / f'iter_{ITERS}.pth'), str(WORLD),
                          '--work-dir', str(work), '--task', 'all'], dist_train['tmp'])
    metrics = json.load(open(work / 'metrics.json'))
    assert {'PQ', 'AP', 'mIoU'} <= set(json.dumps(metrics).replace('"', ' ').split())
