"""oneformer-mm: OneFormer as an OpenMMLab plugin, installed and imported as ``oneformer``."""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

PKG_DIR = osp.join('projects', 'oneformer')
MIM_FILES = ('tools', 'configs', 'demo', 'model-index.yml')


def readme() -> str:
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def get_version() -> str:
    scope = {}
    with open(osp.join(PKG_DIR, 'version.py'), encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


def parse_requirements(fname: str) -> list:
    with open(osp.join('requirements', fname), encoding='utf-8') as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


def add_mim_extension() -> None:
    """Place configs/tools/model-index.yml in ``oneformer/.mim`` where mim looks for them.

    Symlinks for a source checkout (editable installs, which PEP 660 no longer announces with 'develop'),
    copies when building a wheel or sdist.
    """
    copy = 'bdist_wheel' in sys.argv or 'sdist' in sys.argv
    mim_path = osp.join(PKG_DIR, '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in MIM_FILES:
        src = osp.abspath(name)
        tar = osp.join(mim_path, name)
        if not osp.exists(src):
            continue
        if osp.islink(tar) or osp.isfile(tar):
            os.remove(tar)
        elif osp.isdir(tar):
            shutil.rmtree(tar)
        if copy:
            (shutil.copytree if osp.isdir(src) else shutil.copyfile)(src, tar)
        else:
            os.symlink(osp.relpath(src, mim_path), tar)


if __name__ == '__main__':
    add_mim_extension()
    sub_packages = find_packages(PKG_DIR, exclude=('tests',))
    setup(
        name='oneformer',
        version=get_version(),
        description='OneFormer (universal image segmentation) as an OpenMMLab plugin',
        long_description=readme(),
        long_description_content_type='text/markdown',
        license='Apache License 2.0',
        python_requires='>=3.9',
        package_dir={'oneformer': PKG_DIR},
        packages=['oneformer'] + [f'oneformer.{p}' for p in sub_packages],
        include_package_data=True,
        zip_safe=False,
        install_requires=parse_requirements('mminstall.txt') + parse_requirements('runtime.txt'),
        extras_require={
            'tests': parse_requirements('tests.txt'),
            'optional': parse_requirements('optional.txt'),
        },
    )
