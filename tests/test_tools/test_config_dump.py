"""tools/misc/config_dump.py: resolves every config of a folder (inheritance included) and lists the differences
between two dumps by dotted key."""
import importlib.util
import json
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('config_dump', osp.join(REPO, 'tools', 'misc', 'config_dump.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_diff_lists_every_changed_added_and_removed_key(tool):
    before = dict(model=dict(a=1, b=[1, dict(c=2)], gone=0), top=[1, 2])
    after = dict(model=dict(a=1, b=[1, dict(c=3)], new='x'), top=[1, 2, 3])
    assert sorted(tool.diff(before, after)) == [('model.b.1.c', 2, 3), ('model.gone', 0, '<absent>'),
                                               ('model.new', '<absent>', 'x'), ('top', [1, 2], [1, 2, 3])]
    assert list(tool.diff(before, before)) == []


def test_dump_resolves_inheritance_and_compare_reports(tool, tmp_path, capsys):
    folder = tmp_path / 'configs'
    folder.mkdir()
    (folder / 'base.py').write_text('size = 3\nmodel = dict(width=size, depth=2)\n')
    (folder / 'child.py').write_text("_base_ = './base.py'\nmodel = dict(depth=4)\n")
    (folder / 'broken.py').write_text("_base_ = './missing.py'\n")
    out = tmp_path / 'a.json'
    assert tool.main(['dump', str(folder), str(out)]) == 0
    dumped = json.loads(out.read_text())
    assert dumped['child.py']['model'] == dict(width=3, depth=4)
    assert '__error__' in dumped['broken.py']
    (folder / 'base.py').write_text('size = 5\nmodel = dict(width=size, depth=2)\n')
    out2 = tmp_path / 'b.json'
    tool.main(['dump', str(folder), str(out2)])
    capsys.readouterr()
    tool.main(['compare', str(out), str(out2), '--ignore', 'size'])
    lines = capsys.readouterr().out.splitlines()
    assert 'child.py: model.width: 3 -> 5' in lines and 'base.py: model.width: 3 -> 5' in lines
    assert not any('size' in line for line in lines) and lines[-1] == '2 of 3 configs differ'
