"""tools/misc/check_dataset.py: finds unreadable images, PNG / segments_info mismatches and class-count mismatches."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from oneformer.dataset_converters import generate_synthetic_panoptic

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'misc'))
import check_dataset  # noqa: E402

SIZE = 32


def _config(tmp_path, root, things=3, stuff=2, base='synthetic_panoptic.py', extra=''):
    path = tmp_path / f'cfg_{things}_{stuff}.py'
    path.write_text(
        f"_base_ = [{osp.join(REPO, 'configs', '_base_', 'datasets', base)!r}]\n"
        f'data_root = {root.rstrip("/") + "/"!r}\n'
        'train_dataloader = dict(dataset=dict(data_root=data_root))\n'
        'val_dataloader = dict(dataset=dict(data_root=data_root))\n'
        # --split val also checks the PNGs the panoptic metric reads: point it at the same data
        'val_evaluator = [dict(type="OneFormerPanopticMetric", ann_file=data_root + "annotations/panoptic_val.json", '
        'seg_prefix=data_root + "panoptic_val/")]\n'
        f'model = dict(type="OneFormer", panoptic_head=dict(type="OneFormerHead", num_things_classes={things}, '
        f'num_stuff_classes={stuff}), panoptic_fusion_head=dict(type="OneFormerFusionHead", '
        f'num_things_classes={things}, num_stuff_classes={stuff}))\n' + extra)
    return str(path)


@pytest.fixture
def root(tmp_path):
    root = str(tmp_path / 'data')
    generate_synthetic_panoptic(root, num_train=4, num_val=2, img_size=SIZE, seed=5)
    return root


def test_clean_dataset_passes(root, tmp_path, capsys):
    assert check_dataset.main([_config(tmp_path, root)]) == []
    assert check_dataset.main([_config(tmp_path, root), '--split', 'val']) == []
    out = capsys.readouterr().out
    assert 'train: 4 images checked, 0 problem(s)' in out and 'val: 2 images checked, 0 problem(s)' in out


def test_every_problem_is_listed(root, tmp_path, capsys):
    # an unreadable image, a PNG id missing from segments_info, a listed segment absent from the PNG
    with open(osp.join(root, 'train', '000002.jpg'), 'wb') as f:
        f.write(b'not a jpeg')
    ann_file = osp.join(root, 'annotations', 'panoptic_train.json')
    with open(ann_file) as f:
        data = json.load(f)
    dropped = data['annotations'][0]['segments_info'].pop(0)
    data['annotations'][2]['segments_info'].append(dict(id=4242, category_id=1, iscrowd=0, area=4, bbox=[0, 0, 2, 2]))
    with open(ann_file, 'w') as f:
        json.dump(data, f)

    problems = check_dataset.main([_config(tmp_path, root, things=3, stuff=3)])  # and a 6-class model
    kinds = sorted(kind for kind, _ in problems)
    assert kinds == ['annotation', 'annotation', 'classes', 'classes', 'image unreadable'], problems
    text = '\n'.join(msg for _, msg in problems)
    assert f"000001.png contains segment id(s) [{dropped['id']}] that are not in segments_info" in text
    assert 'Segment id 4242 is listed in segments_info but absent from the PNG' in text and '000003.png' in text
    assert '000002.jpg' in text
    assert ('model.panoptic_head has num_things_classes=3, num_stuff_classes=3 but '
            'train_dataloader.dataset.metainfo has 3 thing_classes and 2 stuff_classes') in text
    out = capsys.readouterr().out
    assert 'train: 4 images checked, 5 problem(s)' in out and '[image unreadable]' in out

    # the command line exits with 1
    result = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'misc', 'check_dataset.py'),
                             _config(tmp_path, root), '--limit', '1'], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 1, result.stderr
    assert 'train: 1 images checked, 1 problem(s)' in result.stdout


def test_semantic_label_maps(tmp_path, capsys):
    root = tmp_path / 'sem'
    for split in ('train', 'val'):
        (root / 'images' / split).mkdir(parents=True)
        (root / 'annotations' / split).mkdir(parents=True)
        for i, top in enumerate((2, 7)):  # 7 is outside the 3 classes
            label = np.zeros((SIZE, SIZE), np.uint8)
            label[:4] = top
            Image.fromarray(np.zeros((SIZE, SIZE, 3), np.uint8)).save(root / 'images' / split / f'{i}.jpg')
            Image.fromarray(label).save(root / 'annotations' / split / f'{i}.png')
    cfg = _config(tmp_path, str(root), things=0, stuff=3, base='custom_semantic.py')
    problems = check_dataset.main([cfg])
    assert len(problems) == 1 and problems[0][0] == 'annotation'
    assert "1.png has label(s) [7] outside [0, 3)" in problems[0][1]
    assert check_dataset.main([_config(tmp_path, str(root), things=0, stuff=2, base='custom_semantic.py'),
                               '--limit', '1'])[0][0] == 'classes'
