"""Prediction dicts and files from hand-built data samples (known values)."""
import json

import mmcv
import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import rgb2id
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData, PixelData

from oneformer.apis import panoptic_segments, sample_to_dict, save_prediction
from oneformer.apis.predictions import unique_stem

CLASSES = ('cat', 'dog', 'grass', 'sky')  # 2 things + 2 stuff; void = 4
OFF = 1000


def _sample() -> DetDataSample:
    pan = np.full((4, 6), 4, np.int32)  # void
    pan[:2, :3] = 0 + 1 * OFF  # cat #1
    pan[:2, 3:] = 1 + 2 * OFF  # dog #2
    pan[2:, :2] = 2  # grass
    pan[3, 2:] = 3  # sky
    masks = torch.zeros(2, 4, 6, dtype=torch.bool)
    masks[0, :2, :3] = True
    masks[1, 1:3, 4:] = True
    sample = DetDataSample(metainfo=dict(img_path='x/pic.jpg'))
    sample.pred_panoptic_seg = PixelData(sem_seg=torch.from_numpy(pan)[None])
    sample.pred_instances = InstanceData(labels=torch.tensor([0, 1]), scores=torch.tensor([0.9, 0.4]),
                                         bboxes=torch.tensor([[0., 0., 3., 2.], [4., 1., 6., 3.]]), masks=masks)
    sample.pred_sem_seg = PixelData(sem_seg=torch.tensor([[0, 0, 1, 1, 2, 3]] * 4)[None])
    return sample


def test_panoptic_segments_values():
    ids = _sample().pred_panoptic_seg.sem_seg[0].numpy()
    assert panoptic_segments(ids, CLASSES, num_things=2) == [
        dict(id=2, label=2, category='grass', isthing=False, area=4),
        dict(id=3, label=3, category='sky', isthing=False, area=4),
        dict(id=1000, label=0, category='cat', isthing=True, area=6),
        dict(id=2001, label=1, category='dog', isthing=True, area=6),
    ]
    with pytest.raises(ValueError, match='label 7'):
        panoptic_segments(np.array([[7]]), CLASSES, num_things=2)


def test_sample_to_dict_and_files(tmp_path):
    pred = sample_to_dict(_sample(), CLASSES, num_things=2)
    assert pred['img_path'] == 'x/pic.jpg'
    assert pred['instance']['categories'] == ['cat', 'dog']
    assert pred['instance']['masks'].dtype == bool and pred['instance']['masks'].sum() == 6 + 4
    np.testing.assert_array_equal(pred['semantic']['seg'][0], [0, 0, 1, 1, 2, 3])

    record = save_prediction(pred, str(tmp_path), 'pic', CLASSES)
    on_disk = json.load(open(tmp_path / 'pic.json'))
    assert on_disk == json.loads(json.dumps(record))
    pan = rgb2id(mmcv.imread(str(tmp_path / 'pic_panoptic.png'), channel_order='rgb'))
    expected = pred['panoptic']['seg'].copy()
    expected[expected == 4] = 0  # void -> COCO 0
    np.testing.assert_array_equal(pan, expected)
    assert {s['id'] for s in on_disk['panoptic']['segments_info']} == set(np.unique(pan)) - {0}
    sem = mmcv.imread(str(tmp_path / 'pic_semantic.png'), flag='unchanged')
    assert sem.dtype == np.uint8
    np.testing.assert_array_equal(sem, pred['semantic']['seg'])
    rles = on_disk['instance']['masks']
    decoded = np.stack([mask_util.decode(dict(size=r['size'], counts=r['counts'].encode())) for r in rles])
    np.testing.assert_array_equal(decoded.astype(bool), pred['instance']['masks'])
    assert on_disk['instance']['bboxes'] == [[0, 0, 3, 2], [4, 1, 6, 3]]
    assert on_disk['instance']['scores'] == pytest.approx([0.9, 0.4])


def test_unique_stems():
    used = set()
    assert [unique_stem('a/x.jpg', used), unique_stem('b/x.png', used), unique_stem(None, used, 3)] == \
        ['x', 'x_1', '00000003']
