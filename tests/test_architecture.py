"""The layering rules of docs/architecture.md, checked on the source: no import from a higher layer."""
import ast
import os.path as osp
from pathlib import Path

import pytest

PKG = Path(osp.dirname(osp.dirname(osp.abspath(__file__)))) / 'projects' / 'oneformer'

# package -> packages it must never import (directly or through `oneformer.<pkg>` / relative imports)
_ABOVE_COMPAT = {'models', 'datasets', 'evaluation', 'apis', 'engine', 'deployment', 'model_converters',
                 'dataset_converters', 'visualization'}
FORBIDDEN = {
    'utils': {'tasks', 'structures', 'compat', 'models', 'datasets', 'evaluation', 'apis', 'engine', 'deployment',
              'model_converters', 'dataset_converters', 'visualization', 'testing'},
    # the lowest floor: the task contract and the data formats (panoptic PNG codec) import nothing of the package
    'tasks': _ABOVE_COMPAT | {'compat', 'structures'},
    'structures': _ABOVE_COMPAT | {'compat', 'tasks'},
    'compat': _ABOVE_COMPAT,
    'models': {'datasets', 'evaluation', 'apis', 'engine', 'deployment', 'model_converters', 'dataset_converters'},
    'datasets': {'models', 'evaluation', 'apis', 'engine', 'deployment', 'model_converters', 'dataset_converters'},
    # metrics read annotation files through the codec in structures, not through the data pipeline
    'evaluation': {'apis', 'deployment', 'datasets', 'dataset_converters'},
    'engine': {'apis', 'deployment'},
    'deployment': {'apis', 'evaluation', 'engine'},  # the ONNX runtime serves the inferencer, not the reverse
    # the inferencer writes its PNGs with the codec in structures, not with the annotation converters
    'apis': {'evaluation', 'dataset_converters'},
}


def _imported_packages(path: Path):
    """First-level ``oneformer`` subpackages a module imports (absolute or relative)."""
    tree = ast.parse(path.read_text())
    depth = len(path.relative_to(PKG).parts) - 1  # folders below oneformer/
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: climb to oneformer/, then the module path
                if node.level - 1 > depth:
                    continue
                here = list(path.relative_to(PKG).parts[:depth - (node.level - 1)])
                parts = here + (node.module.split('.') if node.module else [])
                if parts:
                    yield parts[0]
                else:  # `from .. import x` at the package root
                    yield from (a.name for a in node.names)
            elif node.module and node.module.startswith('oneformer.'):
                yield node.module.split('.')[1]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith('oneformer.'):
                    yield a.name.split('.')[1]


@pytest.mark.parametrize('layer', sorted(FORBIDDEN))
def test_no_import_from_a_higher_layer(layer):
    files = [PKG / f'{layer}.py'] if (PKG / f'{layer}.py').exists() else sorted((PKG / layer).rglob('*.py'))
    assert files, layer
    bad = [(str(f.relative_to(PKG)), pkg) for f in files for pkg in _imported_packages(f) if pkg in FORBIDDEN[layer]]
    assert not bad, f'{layer} imports from higher layers: {bad}'


def test_the_checker_sees_relative_and_absolute_imports(tmp_path):
    """The rule check is not vacuous: a planted models -> datasets import is found both ways."""
    pkg = tmp_path / 'oneformer'
    (pkg / 'models' / 'heads').mkdir(parents=True)
    mod = pkg / 'models' / 'heads' / 'x.py'
    mod.write_text('from ...datasets.transforms import y\nimport oneformer.evaluation.z\nfrom ..layers import w\n')
    global PKG
    saved, PKG = PKG, pkg
    try:
        assert list(_imported_packages(mod)) == ['datasets', 'evaluation', 'models']
    finally:
        PKG = saved
