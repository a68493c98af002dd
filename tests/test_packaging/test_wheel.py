"""A built wheel carries oneformer/.mim/{configs,tools,demo,model-index.yml}; the sdist carries their sources.

Built from a copy of the checkout in tmp_path (an in-tree build would leave build/ and *.egg-info in the repo).
"""
import os
import os.path as osp
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

from ..conftest import REPO
from ..test_apis.conftest import demo_config_path

SKIP_DIRS = {'.git', '.venv', 'data', 'work_dirs', 'build', 'dist', '__pycache__', '.pytest_cache', '.mim'}


def _ignore(folder, names):
    return [n for n in names if n in SKIP_DIRS or n.endswith('.egg-info') or n.endswith('.pyc')]


@pytest.fixture(scope='module')
def source_copy(tmp_path_factory):
    dst = tmp_path_factory.mktemp('pkg') / 'src'
    shutil.copytree(REPO, dst, ignore=_ignore, symlinks=True)
    return dst


def _run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=str(cwd), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


@pytest.mark.slow
def test_wheel_has_mim_files(source_copy, tmp_path):
    _run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--disable-pip-version-check',
          '-q', '-w', str(tmp_path), str(source_copy)], tmp_path)
    wheels = [f for f in os.listdir(tmp_path) if f.endswith('.whl')]
    assert len(wheels) == 1, wheels
    names = set(zipfile.ZipFile(tmp_path / wheels[0]).namelist())
    demo_cfg = 'oneformer/.mim/configs/oneformer/' + osp.basename(demo_config_path())
    for name in ('oneformer/__init__.py', 'oneformer/apis/inferencer.py', 'oneformer/.mim/model-index.yml',
                 'oneformer/.mim/tools/train.py', 'oneformer/.mim/tools/test.py', 'oneformer/.mim/tools/dist_train.sh',
                 'oneformer/.mim/configs/oneformer/metafile.yml', 'oneformer/.mim/configs/_base_/default_runtime.py',
                 'oneformer/.mim/demo/image_demo.py', demo_cfg):
        assert name in names, name
    assert not any(n.startswith('tests/') or '__pycache__' in n for n in names)
    # the checkout keeps links (editable installs see live files); copies only went into the wheel
    mim_dir = source_copy / 'projects' / 'oneformer' / '.mim'
    assert all(osp.islink(mim_dir / n) for n in ('configs', 'tools', 'demo', 'model-index.yml'))


@pytest.mark.slow
def test_sdist_has_sources_not_links(source_copy, tmp_path):
    _run([sys.executable, 'setup.py', '-q', 'sdist', '-d', str(tmp_path)], source_copy)
    (tarball, ) = [f for f in os.listdir(tmp_path) if f.endswith('.tar.gz')]
    with tarfile.open(tmp_path / tarball) as tar:
        names = {n.split('/', 1)[1] for n in tar.getnames() if '/' in n}
    for name in ('setup.py', 'MANIFEST.in', 'model-index.yml', 'requirements/runtime.txt', 'tools/train.py',
                 'tools/dist_train.sh', 'configs/oneformer/metafile.yml', 'demo/image_demo.py',
                 'projects/oneformer/apis/inferencer.py'):
        assert name in names, name
    assert not any('.mim' in n for n in names)
