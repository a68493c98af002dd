"""OneFormerInferencer: inputs (folder, paths, arrays), tasks, saved files, class names, bad input."""
import json
import os
import os.path as osp

import mmcv
import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import rgb2id
from mmdet.evaluation.functional import INSTANCE_OFFSET

from oneformer.apis import OneFormerInferencer
from oneformer.tasks import TASKS

from .conftest import CKPT_CLASSES

STEMS = ('a_gray', 'b_color', 'c_photo')  # sorted file names; notes.txt is skipped


@pytest.fixture(scope='module')
def folder_run(infer_env, inferencer_all, tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp('out_all'))
    return out_dir, inferencer_all(infer_env.folder, out_dir=out_dir, return_vis=True)


def test_folder_all_tasks_predictions(infer_env, folder_run):
    _, out = folder_run
    preds = out['predictions']
    assert [osp.basename(p['img_path']) for p in preds] == ['a_gray.png', 'b_color.png', 'c_photo.jpg']
    for pred in preds:
        h, w = infer_env.images[osp.basename(pred['img_path'])].shape[:2]
        assert set(pred) == {'img_path', *TASKS}
        pan, inst, sem = pred['panoptic'], pred['instance'], pred['semantic']
        assert pan['seg'].shape == sem['seg'].shape == (h, w)
        assert set(np.unique(sem['seg'])) <= set(range(5))
        labels = pan['seg'] % INSTANCE_OFFSET
        assert labels.min() >= 0 and labels.max() <= 5  # 5 = void
        n = len(inst['labels'])
        assert n > 0 and inst['masks'].shape == (n, h, w) and inst['bboxes'].shape == (n, 4)
        assert (inst['labels'] < 3).all(), 'instances are thing classes only'
        assert inst['categories'] == [CKPT_CLASSES['classes'][i] for i in inst['labels']]
        for mask, box in zip(inst['masks'], inst['bboxes']):
            if mask.any():
                ys, xs = np.nonzero(mask)
                assert box[0] <= xs.min() and box[1] <= ys.min() and box[2] >= xs.max() and box[3] >= ys.max()


def test_folder_all_tasks_files(infer_env, folder_run, inferencer_all):
    out_dir, out = folder_run
    assert sorted(os.listdir(osp.join(out_dir, 'vis'))) == sorted(f'{s}_{t}.png' for s in STEMS for t in TASKS)
    for stem, pred, vis in zip(STEMS, out['predictions'], out['visualization']):
        h, w = pred['semantic']['seg'].shape
        s = inferencer_all.visualizer.draw_scale(h, w)  # small images are drawn upscaled (readable labels)
        assert set(vis) == set(TASKS)
        for task in TASKS:
            saved = mmcv.imread(osp.join(out_dir, 'vis', f'{stem}_{task}.png'), channel_order='rgb')
            assert saved.shape == vis[task].shape == (h * s, w * s, 3)
            np.testing.assert_array_equal(saved, vis[task])
        record = json.load(open(osp.join(out_dir, 'preds', f'{stem}.json')))
        assert record['classes'] == list(CKPT_CLASSES['classes']) and record['img_path'] == pred['img_path']
        # panoptic PNG: COCO encoding of the ids, void -> 0, segments described in the JSON
        pan_png = rgb2id(mmcv.imread(record['panoptic']['png'], channel_order='rgb'))
        ids = pred['panoptic']['seg']
        np.testing.assert_array_equal(pan_png, np.where(ids % INSTANCE_OFFSET == 5, 0, ids))
        assert record['panoptic']['segments_info'] == pred['panoptic']['segments_info']
        sem_png = mmcv.imread(record['semantic']['png'], flag='unchanged')
        np.testing.assert_array_equal(sem_png, pred['semantic']['seg'])
        inst = record['instance']
        assert inst['labels'] == pred['instance']['labels'].tolist()
        np.testing.assert_allclose(inst['scores'], pred['instance']['scores'], rtol=1e-6)
        masks = np.stack([mask_util.decode(dict(size=m['size'], counts=m['counts'].encode())) for m in inst['masks']])
        np.testing.assert_array_equal(masks.astype(bool), pred['instance']['masks'])


@pytest.mark.parametrize('task', TASKS)
def test_single_task_equals_its_part_of_all(infer_env, inferencer_all, folder_run, task, tmp_path):
    """Each output of 'all' comes from its own task token: one-task runs must reproduce it exactly."""
    _, out_all = folder_run
    path = osp.join(infer_env.folder, 'b_color.png')
    out = inferencer_all(path, task=task, out_dir=str(tmp_path))
    assert inferencer_all.task == 'all'  # the per-call task does not stick
    pred, ref = out['predictions'][0], out_all['predictions'][1]
    assert set(pred) == {'img_path', task}
    for key, value in pred[task].items():
        if isinstance(value, np.ndarray):
            np.testing.assert_allclose(value, ref[task][key], rtol=1e-5, atol=1e-6)
        else:
            assert value == ref[task][key]
    assert os.listdir(tmp_path / 'vis') == [f'b_color_{task}.png']
    record = json.load(open(tmp_path / 'preds' / 'b_color.json'))
    assert set(record) & set(TASKS) == {task}


def test_task_setter_and_bad_task(inferencer_all):
    with pytest.raises(ValueError, match='panoptic'):
        inferencer_all.task = 'detection'
    assert inferencer_all.task == 'all'
    with pytest.raises(ValueError, match='semantic'):
        OneFormerInferencer(None, task='depth')


def test_array_input_equals_path_input(infer_env, inferencer_all):
    """Arrays are BGR like ``mmcv.imread``; a lossless PNG read back must give identical predictions."""
    path = osp.join(infer_env.folder, 'b_color.png')
    arr = mmcv.imread(path)
    out = inferencer_all([path, arr], batch_size=2)['predictions']
    assert 'img_path' not in out[1]
    for task in TASKS:
        for key, value in out[0][task].items():
            if isinstance(value, np.ndarray):  # float noise of batched kernels only
                np.testing.assert_allclose(value, out[1][task][key], rtol=1e-5, atol=1e-6, err_msg=f'{task}.{key}')
    gray = inferencer_all(infer_env.images['a_gray.png'], task='semantic')['predictions'][0]
    from_file = inferencer_all(osp.join(infer_env.folder, 'a_gray.png'), task='semantic')['predictions'][0]
    np.testing.assert_array_equal(gray['semantic']['seg'], from_file['semantic']['seg'])


def test_array_outputs_are_numbered(inferencer_all, tmp_path):
    img = np.zeros((32, 40, 3), np.uint8)
    inferencer_all([img, img], task='semantic', out_dir=str(tmp_path))
    assert sorted(os.listdir(tmp_path / 'vis')) == ['00000000_semantic.png', '00000001_semantic.png']


def test_matches_model_on_config_pipeline(infer_env, inferencer_all):
    """Same numbers as the model run on the config's own test pipeline (annotation loader removed)."""
    from mmcv.transforms import Compose
    from mmengine.dataset import pseudo_collate
    cfg = inferencer_all.cfg
    steps = [t for t in cfg.test_dataloader.dataset.pipeline if t['type'] != 'LoadPanopticAnnotations']
    path = osp.join(infer_env.folder, 'c_photo.jpg')
    data = pseudo_collate([Compose(steps)(dict(img_path=path, img_id=0))])
    with torch.no_grad():
        ref = inferencer_all.model.test_step(data)[0]
    pred = inferencer_all(path)['predictions'][0]
    np.testing.assert_array_equal(pred['semantic']['seg'], ref.pred_sem_seg.sem_seg[0].numpy())
    np.testing.assert_array_equal(pred['panoptic']['seg'], ref.pred_panoptic_seg.sem_seg[0].numpy())
    np.testing.assert_allclose(pred['instance']['scores'], ref.pred_instances.scores.numpy())


def test_return_datasamples(infer_env, inferencer_all):
    out = inferencer_all(osp.join(infer_env.folder, 'b_color.png'), task='instance', return_datasamples=True)
    sample = out['predictions'][0]
    assert 'pred_instances' in sample and 'pred_sem_seg' not in sample and 'pred_panoptic_seg' not in sample


def test_config_from_checkpoint(infer_env, inferencer_all):
    inf = OneFormerInferencer(None, weights=infer_env.ckpt, device='cpu', task='semantic')
    path = osp.join(infer_env.folder, 'c_photo.jpg')
    np.testing.assert_array_equal(inf(path)['predictions'][0]['semantic']['seg'],
                                  inferencer_all(path)['predictions'][0]['semantic']['seg'])


def test_class_names_from_checkpoint(inferencer_all):
    assert tuple(inferencer_all.model.dataset_meta['classes']) == CKPT_CLASSES['classes']
    assert tuple(inferencer_all.visualizer.dataset_meta['classes']) == CKPT_CLASSES['classes']


def test_class_names_fall_back_to_config(infer_env):
    from oneformer.datasets.synthetic import SYNTHETIC_METAINFO
    with pytest.warns(UserWarning, match='no class names'):
        inf = OneFormerInferencer(infer_env.config, weights=infer_env.ckpt_nometa, device='cpu')
    assert tuple(inf.model.dataset_meta['classes']) == SYNTHETIC_METAINFO['classes']
    assert [tuple(c) for c in inf.model.dataset_meta['palette']] == [tuple(c) for c in SYNTHETIC_METAINFO['palette']]
    pred = inf(osp.join(infer_env.folder, 'b_color.png'))['predictions'][0]
    assert set(pred) == {'img_path', 'panoptic'}  # the default task


def test_class_count_mismatch(infer_env):
    with pytest.raises(ValueError, match='4 class names'):
        OneFormerInferencer(infer_env.config, weights=infer_env.ckpt_4cls, device='cpu')


def test_bad_inputs(inferencer_all, tmp_path):
    missing = str(tmp_path / 'missing.jpg')
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        inferencer_all(missing)
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'definitely not a jpeg')
    with pytest.raises(ValueError, match='broken.jpg'):
        inferencer_all(str(broken))
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match='empty.png'):
        inferencer_all(str(empty))
    folder = tmp_path / 'no_images'
    folder.mkdir()
    (folder / 'readme.txt').write_text('x')
    with pytest.raises(FileNotFoundError, match='no_images'):
        inferencer_all(str(folder))
    with pytest.raises(ValueError, match=r'\(2, 3, 4, 5\)'):
        inferencer_all(np.zeros((2, 3, 4, 5), np.uint8))
    with pytest.raises(TypeError, match='int'):
        inferencer_all(3)


def test_model_only_config_needs_no_dataset(infer_env, inferencer_all, tmp_path):
    """A converted model's config.py holds the model and the class names only: inference runs on the image at its
    own size (normalised and padded by the data preprocessor), with the same numbers as the full config."""
    from mmengine.config import Config
    full = Config.fromfile(infer_env.config)
    model_only = Config(dict(model=full.model, default_scope='mmdet', metainfo=dict(classes=CKPT_CLASSES['classes'])))
    path = str(tmp_path / 'model_only.py')
    model_only.dump(path)
    inf = OneFormerInferencer(path, weights=infer_env.ckpt, device='cpu', task='semantic')
    img = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    pred = inf(img)['predictions'][0]
    assert pred['semantic']['seg'].shape == (64, 96)
    # same as the full config's pipeline when that pipeline leaves a 64x96 image at its size (it resizes to 128)
    ref = inferencer_all.model.predict(
        *(lambda d: (d['inputs'], d['data_samples']))(inf.model.data_preprocessor(
            inf.collate_fn([inf.pipeline(img)]), False)), tasks=('semantic', ))[0]
    np.testing.assert_array_equal(pred['semantic']['seg'], ref.pred_sem_seg.sem_seg[0].numpy())


def test_no_vis_backend_warning_at_construction(infer_env):
    """The configs' LocalVisBackend needs the runner's work dir; the inferencer draws into its out_dir itself and
    must not warn 'Failed to add LocalVisBackend' at every construction."""
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        inferencer = OneFormerInferencer(infer_env.config, weights=infer_env.ckpt, device='cpu', task='semantic')
    assert not [str(w.message) for w in caught if 'VisBackend' in str(w.message)]
    assert inferencer.visualizer is not None and inferencer.visualizer.min_draw_size == 512
