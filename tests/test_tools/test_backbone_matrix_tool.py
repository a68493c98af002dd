"""tools/analysis_tools/backbone_matrix.py: the docs table of the backbone matrix is generated, not hand-written."""
import importlib.util
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'backbone_matrix_tool', osp.join(REPO, 'tools', 'analysis_tools', 'backbone_matrix.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_rewrites_the_marked_table_with_measured_rows(tmp_path, capsys):
    tool = _tool()
    doc = tmp_path / 'doc.md'
    doc.write_text(f'# title\n\n{tool.BEGIN}\nold table\n{tool.END}\n\nafter\n')
    assert tool.main(['--only', 'ResNet', 'ConvNeXt', '--repeats', '1', '--out', str(doc)]) == 0
    text = doc.read_text()
    assert 'old table' not in text and text.startswith('# title') and text.endswith('after\n')
    rows = [line for line in text.splitlines() if line.startswith('| ResNet |') or line.startswith('| ConvNeXt |')]
    assert len(rows) == 2
    resnet = rows[0].split('|')
    assert "backbone=dict(type='mmpretrain.ResNet', depth=18" in resnet[3]
    assert resnet[4].strip() == '[16, 32, 64, 128]'  # found from the backbone, not written anywhere
    assert float(resnet[7]) > 0 and float(resnet[8]) > float(resnet[7])  # the whole model takes longer
    assert 'median of 1 runs' in text


def test_file_without_markers_is_an_error(tmp_path):
    doc = tmp_path / 'doc.md'
    doc.write_text('no markers\n')
    assert _tool().main(['--only', 'ResNet', '--repeats', '1', '--out', str(doc)]) == 1
    assert doc.read_text() == 'no markers\n'
