"""oneformer-mm: OneFormer as an OpenMMLab plugin, installed and imported as ``oneformer``."""
import os
import os.path as osp
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

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
    """Symlink configs/tools/demo/model-index.yml into ``oneformer/.mim`` of the source checkout.

    mim looks for ``<installed oneformer>/.mim/{tools,configs}``. Links (not copies) so that an editable install
    always sees the live files; PEP 660 editable installs never announce themselves with 'develop', so this runs on
    every setup.py call. Wheels get real copies from :class:`BuildPyWithMim` instead (a wheel cannot hold links).
    """
    mim_path = osp.join(PKG_DIR, '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in MIM_FILES:
        src = osp.abspath(name)
        tar = osp.join(mim_path, name)
        if not osp.exists(src):
            continue
        link = osp.relpath(src, mim_path)
        if osp.islink(tar) and os.readlink(tar) == link:
            continue
        if osp.islink(tar) or osp.isfile(tar):
            os.remove(tar)
        elif osp.isdir(tar):  # copies left by an older setup.py
            shutil.rmtree(tar)
        os.symlink(link, tar)


class BuildPyWithMim(build_py):
    """``build_py`` that also copies the mim files into ``<build_lib>/oneformer/.mim`` (wheels, not the checkout)."""

    def run(self) -> None:
        super().run()
        if getattr(self, 'editable_mode', False):
            return  # editable installs use the checkout's .mim links
        mim_path = osp.join(self.build_lib, 'oneformer', '.mim')
        os.makedirs(mim_path, exist_ok=True)
        for name in MIM_FILES:
            tar = osp.join(mim_path, name)
            if not osp.exists(name):
                continue
            if osp.isdir(tar):
                shutil.rmtree(tar)
            if osp.isdir(name):
                shutil.copytree(name, tar, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
            else:
                shutil.copyfile(name, tar)


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
        cmdclass={'build_py': BuildPyWithMim},
        install_requires=parse_requirements('mminstall.txt') + parse_requirements('runtime.txt'),
        extras_require={
            'tests': parse_requirements('tests.txt'),
            'optional': parse_requirements('optional.txt'),
            'deploy': parse_requirements('deploy.txt'),
            'demo': parse_requirements('demo.txt'),
        },
    )
