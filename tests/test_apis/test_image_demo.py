"""demo/image_demo.py: folder and single-image modes, in process and as a script."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO

DEMO = osp.join(REPO, 'demo', 'image_demo.py')


def _demo_module():
    spec = importlib.util.spec_from_file_location('image_demo', DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_folder_mode_all_tasks(infer_env, tmp_path, capsys):
    out_dir = tmp_path / 'out'
    results = _demo_module().main([infer_env.folder, infer_env.config, '--weights', infer_env.ckpt, '--task', 'all',
                                   '--out-dir', str(out_dir), '--device', 'cpu'])
    stems = ('a_gray', 'b_color', 'c_photo')
    assert len(results['predictions']) == 3
    assert sorted(os.listdir(out_dir / 'vis')) == sorted(
        f'{s}_{t}.png' for s in stems for t in ('panoptic', 'instance', 'semantic'))
    assert sorted(os.listdir(out_dir / 'preds')) == sorted(
        f'{s}{suffix}' for s in stems for suffix in ('.json', '_panoptic.png', '_semantic.png'))
    printed = capsys.readouterr().out
    assert 'c_photo.jpg:' in printed and 'panoptic segments' in printed and 'semantic classes' in printed


def test_single_image_one_task(infer_env, tmp_path):
    img = osp.join(infer_env.folder, 'b_color.png')
    _demo_module().main([img, infer_env.config, '--weights', infer_env.ckpt, '--task', 'semantic', '--out-dir',
                         str(tmp_path), '--no-save-vis'])
    assert not (tmp_path / 'vis').exists()
    assert sorted(os.listdir(tmp_path / 'preds')) == ['b_color.json', 'b_color_semantic.png']


def test_bad_arguments(infer_env, tmp_path, capsys):
    demo = _demo_module()
    with pytest.raises(SystemExit):
        demo.main([str(tmp_path / 'nope.jpg'), infer_env.config, '--weights', infer_env.ckpt])
    assert 'nope.jpg' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        demo.main([infer_env.folder, infer_env.config, '--task', 'depth'])
    assert 'depth' in capsys.readouterr().err


@pytest.mark.slow
def test_script_on_cpu(infer_env, tmp_path):
    img = osp.join(infer_env.folder, 'c_photo.jpg')
    proc = subprocess.run([sys.executable, DEMO, img, infer_env.config, '--weights', infer_env.ckpt, '--task',
                           'instance', '--out-dir', str(tmp_path), '--device', 'cpu'],
                          capture_output=True, text=True, cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'c_photo.jpg:' in proc.stdout and 'instances' in proc.stdout
    assert os.listdir(tmp_path / 'vis') == ['c_photo_instance.png']
