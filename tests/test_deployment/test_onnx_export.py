"""ONNX export and ONNX Runtime inference (oneformer.deployment, tools/deployment/).

A tiny model (``oneformer.testing.tiny_model_cfg`` in the synthetic demo config) is exported once with a fixed
64x64 shape (the API) and once with dynamic batch / size (the CLI, with its own verification). The graph's logits
must match PyTorch for the three task inputs at two sizes, the inferencer must give the same post-processed
outputs with the ``.onnx`` as with the ``.pth``, and bad inputs must be refused by our runner before ONNX Runtime.
"""
import importlib.util
import json
import os.path as osp

import mmcv
import numpy as np
import onnx
import pytest
import torch
from mmengine.config import Config

from oneformer.tasks import TASK_PROMPT, TASKS
from oneformer.testing import tiny_model_cfg

from ..conftest import REPO
from ..test_apis.conftest import demo_config_path

CLASSES = dict(classes=('a', 'b', 'c', 'd', 'e'), thing_classes=('a', 'b', 'c'), stuff_classes=('d', 'e'))
ATOL = 1e-4


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f'deploy_{name}', osp.join(REPO, 'tools', 'deployment', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _checkpoint(cfg, path: str) -> None:
    """Random tiny weights made to predict several things and stuff (random weights predict one class everywhere):
    larger query positions spread the queries, sharper class and mask heads give confident, varied segments."""
    from mmdet.registry import MODELS
    from mmengine.logging import MMLogger

    # init_weights writes to the current logger's file handlers: an earlier test's runner may have closed its
    # file (mmengine keeps the logger as the current instance), so give this build a logger of its own
    MMLogger.get_instance(f'deploy_checkpoint_{osp.basename(path)}_{id(cfg)}')
    torch.manual_seed(1)
    model = MODELS.build(cfg.model)
    model.init_weights()
    head = model.panoptic_head
    with torch.no_grad():
        head.query_embed.weight.mul_(10)
        head.cls_embed.weight.mul_(20)
        head.cls_embed.bias.copy_(torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, -1.0]))
        head.mask_embed[-1].weight.mul_(20)
        head.mask_embed[-1].bias.zero_()
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(CLASSES))), path)


def _tiny_model_files(cfg, root):
    """``cfg`` with the tiny model, dumped to ``root/config.py``; a checkpoint of it (``_checkpoint``); both loaded
    back as the tools load them. Returns (config path, checkpoint path, model, its config)."""
    from oneformer.apis import load_pytorch_model
    cfg.model = tiny_model_cfg()
    config = str(root / 'config.py')
    cfg.dump(config)
    ckpt = str(root / 'tiny.pth')
    _checkpoint(cfg, ckpt)
    model, model_cfg = load_pytorch_model(config, ckpt)
    return config, ckpt, model, model_cfg


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    """Config, checkpoint, PyTorch model, a fixed-shape export (API) and a dynamic one (CLI), test images."""
    from oneformer.deployment import export_onnx
    root = tmp_path_factory.mktemp('onnx')
    cfg = Config.fromfile(demo_config_path())
    config, ckpt, model, model_cfg = _tiny_model_files(cfg, root)
    fixed = str(root / 'fixed.onnx')
    fixed_meta = export_onnx(model, fixed, model_cfg, model.dataset_meta, shape=(64, 64), checkpoint=ckpt)
    dynamic = str(root / 'dynamic.onnx')
    cli = _tool('pytorch2onnx').main([config, ckpt, dynamic, '--shape', '64', '64', '--dynamic'])
    rng = np.random.RandomState(0)
    images = root / 'images'
    images.mkdir()
    for name, shape in (('wide.png', (48, 64, 3)), ('square.jpg', (40, 40, 3)), ('tall.png', (70, 50, 3))):
        mmcv.imwrite((rng.rand(*shape) * 255).astype(np.uint8), str(images / name))
    return dict(root=root, config=config, ckpt=ckpt, model=model, cfg=model_cfg, fixed=fixed, fixed_meta=fixed_meta,
                dynamic=dynamic, cli=cli, images=str(images))


@pytest.fixture(scope='module')
def runners(env):
    from oneformer.deployment import OnnxOneFormer
    return dict(fixed=OnnxOneFormer(env['fixed'], cfg=env['cfg']), dynamic=OnnxOneFormer(env['dynamic']))


@torch.no_grad()
def _reference(model, x):
    """PyTorch's final class and mask logits of every task (one backbone pass)."""
    head = model.panoptic_head
    pixel_feats = head.forward_pixel(model.extract_feat(x))
    return {t: head.predict_by_pixel_feats(pixel_feats, [t] * x.shape[0]) for t in TASKS}


_SESSIONS = {}


def _session_logits(onnx_file, x, task_indices):
    """Stock ONNX Runtime on the file, no project code in between."""
    import onnxruntime as ort
    if onnx_file not in _SESSIONS:
        _SESSIONS[onnx_file] = ort.InferenceSession(onnx_file, providers=['CPUExecutionProvider'])
    return _SESSIONS[onnx_file].run(None, dict(inputs=x.numpy(), task=np.asarray(task_indices, dtype=np.int64)))


def test_graph_is_standard_onnx(env):
    for key, shape, task_shape in (('fixed', [1, 3, 64, 64], [1, 1]),
                                   ('dynamic', ['batch', 3, 'height', 'width'], ['batch', 'num_tasks'])):
        model = onnx.load(env[key])
        onnx.checker.check_model(model)
        ops = {(n.domain, n.op_type) for n in model.graph.node}
        assert {d for d, _ in ops} <= {'', 'ai.onnx'}, ops  # no mmcv (or any custom) domain
        assert ('', 'GridSample') in ops and not any(op == 'Loop' for _, op in ops)
        # the (3, 77) task-token table is a constant inside: the only integer input is the task index
        inputs = {i.name: i for i in model.graph.input}
        assert list(inputs) == ['inputs', 'task'] and [o.name for o in model.graph.output] == ['cls_logits',
                                                                                                'mask_logits']
        dims = [d.dim_value or d.dim_param for d in inputs['inputs'].type.tensor_type.shape.dim]
        assert dims == shape
        assert inputs['task'].type.tensor_type.elem_type == onnx.TensorProto.INT64
        assert [d.dim_value or d.dim_param for d in inputs['task'].type.tensor_type.shape.dim] == task_shape
        assert model.opset_import[0].version == 17


def test_fixed_graph_matches_pytorch_for_every_task(env, runners):
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    # the graph has T=1: the runner runs the three tasks as three graph runs
    cls3, masks3 = (t.numpy() for t in runners['fixed'].forward_graph(x, [[0, 1, 2]]))
    assert cls3.shape == (1, 3, 12, 6) and masks3.shape == (1, 3, 12, 16, 16)
    reference = _reference(env['model'], x)
    for i, task in enumerate(TASKS):
        ref_cls, ref_masks = reference[task]
        cls, masks = _session_logits(env['fixed'], x, [[i]])
        np.testing.assert_allclose(cls[:, 0], ref_cls.numpy(), atol=ATOL, rtol=0)
        np.testing.assert_allclose(masks[:, 0], ref_masks.numpy(), atol=ATOL, rtol=0)
        np.testing.assert_array_equal(cls3[:, i], cls[:, 0])
        np.testing.assert_array_equal(masks3[:, i], masks[:, 0])
    # the task input matters: the tasks' outputs differ (else the checks above would not tell tasks apart)
    assert np.abs(cls3[:, 0] - cls3[:, 2]).max() > 1e-2


def test_task_groups_for_a_graph_with_fixed_tasks_per_image():
    from oneformer.deployment.runtime import task_groups
    task = np.array([[0, 1, 2], [2, 0, 1]])
    assert [g.tolist() for g in task_groups(task, 3)] == [task.tolist()]
    assert [g.tolist() for g in task_groups(task, 1)] == [[[0], [2]], [[1], [0]], [[2], [1]]]
    # the last group is padded with its own first task (its outputs are dropped)
    assert [g.tolist() for g in task_groups(task, 2)] == [[[0, 1], [2, 0]], [[2, 2], [1, 1]]]
    assert [g.tolist() for g in task_groups(task[:, :1], 3)] == [[[0, 0, 0], [2, 2, 2]]]


def test_dynamic_graph_two_sizes_and_batches(env):
    generator = torch.Generator().manual_seed(1)
    for batch, h, w in ((1, 64, 64), (2, 96, 128)):
        x = torch.randn(batch, 3, h, w, generator=generator)
        # per image its own tasks: image 0 panoptic+semantic, image 1 instance+panoptic
        tasks = [[0, 2], [1, 0]][:batch]
        cls, masks = _session_logits(env['dynamic'], x, tasks)
        assert masks.shape == (batch, 2, 12, h // 4, w // 4)
        reference = _reference(env['model'], x)
        for b in range(batch):
            for j, t in enumerate(tasks[b]):
                ref_cls, ref_masks = reference[TASKS[t]]
                np.testing.assert_allclose(cls[b, j], ref_cls[b].numpy(), atol=ATOL, rtol=0)
                np.testing.assert_allclose(masks[b, j], ref_masks[b].numpy(), atol=ATOL, rtol=0)
    # the CLI's own check covered the traced size and a second batch / size, all three tasks
    checks = env['cli']['checks']
    assert {c['shape'] for c in checks} == {(1, 3, 64, 64), (2, 3, 96, 128)} and all(c['ok'] for c in checks)


def test_metadata_round_trips(env):
    from oneformer.deployment import read_metadata
    meta = read_metadata(env['fixed'])
    assert meta == json.loads(json.dumps(env['fixed_meta']))  # exactly what the exporter wrote
    model = env['model']
    assert meta['classes'] == list(CLASSES['classes']) and meta['thing_classes'] == list(CLASSES['thing_classes'])
    assert (meta['num_things_classes'], meta['num_stuff_classes'], meta['num_queries']) == (3, 2, 12)
    assert meta['tasks'] == list(TASKS) and meta['task_prompts'][1] == TASK_PROMPT.format('instance')
    fusion_cfg = model.panoptic_fusion_head.test_cfg
    assert meta['test_cfg'] == dict(object_mask_thr=fusion_cfg.object_mask_thr, iou_thr=fusion_cfg.iou_thr,
                                    max_per_image=fusion_cfg.max_per_image, tasks=list(model.test_tasks),
                                    task_token=model.test_task_token)
    dp = model.data_preprocessor
    assert meta['preprocess']['mean'] == pytest.approx(dp.mean.flatten().tolist())
    assert meta['preprocess']['std'] == pytest.approx(dp.std.flatten().tolist())
    assert meta['preprocess']['bgr_to_rgb'] is True and meta['preprocess']['pad_size_divisor'] == 32
    assert (meta['opset'], meta['input_shape'], meta['task_shape'], meta['dynamic']) == (17, [1, 3, 64, 64], [1, 1],
                                                                                         False)
    assert meta['input_names'] == ['inputs', 'task'] and meta['source_checkpoint'] == 'tiny.pth'
    assert Config.fromstring(meta['config'], '.py').model.panoptic_head.num_queries == 12
    # stock ONNX Runtime sees the same keys (JSON strings)
    import onnxruntime as ort
    props = ort.InferenceSession(env['dynamic'], providers=['CPUExecutionProvider']).get_modelmeta()
    assert json.loads(props.custom_metadata_map['input_shape']) == ['batch', 3, 'height', 'width']


class _NoSession:
    def run(self, *args, **kwargs):
        raise AssertionError('ONNX Runtime was called with inputs the runner should have refused')


def test_runner_refuses_bad_inputs_before_onnx_runtime(env, runners):
    fixed, dynamic = runners['fixed'], runners['dynamic']
    x = torch.zeros(1, 3, 64, 64)
    saved = fixed.session, dynamic.session
    fixed.session = dynamic.session = _NoSession()
    try:
        for bad in ([[3]], [[-1]], [[0, 5]]):
            with pytest.raises(ValueError, match=r'fixed\.onnx: task indices \[.*\] out of range; valid: 0=panoptic'):
                fixed.forward_graph(x, np.array(bad))
        with pytest.raises(ValueError, match='integer task indices'):
            fixed.forward_graph(x, np.array([[0.0]]))
        with pytest.raises(ValueError, match=r'task must be \(B=1, T>=1\)'):
            fixed.forward_graph(x, np.array([0]))
        with pytest.raises(ValueError, match='inputs have 1 channels, the graph takes 3'):
            dynamic.forward_graph(torch.zeros(1, 1, 64, 64), np.array([[0]]))
        with pytest.raises(ValueError, match='64x80 .* not a positive multiple of the size divisor 32'):
            dynamic.forward_graph(torch.zeros(1, 3, 64, 80), np.array([[0]]))
        with pytest.raises(ValueError, match='exported for 64x64 .* got 96x96; export with --dynamic'):
            fixed.forward_graph(torch.zeros(1, 3, 96, 96), np.array([[0]]))
        with pytest.raises(ValueError, match=r'inputs must be \(B, 3, H, W\)'):
            fixed.forward_graph(torch.zeros(3, 64, 64), np.array([[0]]))
    finally:
        fixed.session, dynamic.session = saved
    # a static batch of 1 runs a batch of 2 in two calls, as the dynamic graph does in one
    x2 = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    a, b = fixed.forward_graph(x2, [[0], [2]]), dynamic.forward_graph(x2, [[0], [2]])
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, atol=ATOL, rtol=0)


def test_runner_refuses_a_config_of_another_model(env):
    from oneformer.deployment import OnnxOneFormer, export_onnx
    cfg = Config.fromfile(env['config'])
    cfg.model.panoptic_fusion_head.num_stuff_classes = 3
    with pytest.raises(ValueError, match=r'num_stuff_classes=3, but .*fixed\.onnx was exported with '
                                         'num_stuff_classes=2'):
        OnnxOneFormer(env['fixed'], cfg=cfg)
    cfg = Config.fromfile(env['config'])
    cfg.model.data_preprocessor.bgr_to_rgb = False
    with pytest.raises(ValueError, match='bgr_to_rgb=False, but .* exported with bgr_to_rgb=True'):
        OnnxOneFormer(env['fixed'], cfg=cfg)
    with pytest.raises(ValueError, match='opset 15: .* needs opset >= 16'):
        export_onnx(env['model'], str(env['root'] / 'x.onnx'), env['cfg'], CLASSES, shape=(64, 64), opset=15)
    with pytest.raises(ValueError, match='shape 64x70 .* size divisor 32'):
        export_onnx(env['model'], str(env['root'] / 'x.onnx'), env['cfg'], CLASSES, shape=(64, 70))
    assert not osp.exists(env['root'] / 'x.onnx')


def _assert_same_predictions(ref, out):
    assert ref.keys() == out.keys()
    for task in (t for t in TASKS if t in ref):
        r, o = ref[task], out[task]
        if task == 'instance':
            assert r['labels'].tolist() == o['labels'].tolist()
            np.testing.assert_array_equal(r['masks'], o['masks'])
            np.testing.assert_array_equal(r['bboxes'], o['bboxes'])
            np.testing.assert_allclose(r['scores'], o['scores'], atol=1e-5, rtol=0)
        else:
            np.testing.assert_array_equal(r['seg'], o['seg'])
            if task == 'panoptic':
                assert r['segments_info'] == o['segments_info']


@pytest.mark.slow
def test_inferencer_and_demo_give_the_pth_results(env, tmp_path):
    from oneformer.apis import OneFormerInferencer
    images = sorted(osp.join(env['images'], f) for f in ('wide.png', 'square.jpg', 'tall.png'))
    pth = OneFormerInferencer(env['config'], weights=env['ckpt'], device='cpu', task='all')
    ort_inf = OneFormerInferencer(env['config'], weights=env['dynamic'], device='cpu', task='all')
    assert type(ort_inf.model).__name__ == 'OnnxOneFormer'
    assert ort_inf.model.dataset_meta['classes'] == CLASSES['classes']
    ref = pth(images, batch_size=2)['predictions']  # images of 3 padded sizes, batches of 2
    out = ort_inf(images, batch_size=2)['predictions']
    for r, o in zip(ref, out):
        _assert_same_predictions(r, o)
    # the comparison is not between empty outputs: things and stuff segments, several classes, instances
    assert max(len(r['panoptic']['segments_info']) for r in ref) >= 2
    assert max(len(np.unique(r['semantic']['seg'])) for r in ref) >= 2
    assert max(len(r['instance']['labels']) for r in ref) >= 1
    # one task (its token produces every output; only it is returned), config taken from the file
    ref1 = pth(images[:1], task='semantic')['predictions'][0]
    no_cfg = OneFormerInferencer(None, weights=env['dynamic'], device='cpu', task='semantic')
    _assert_same_predictions(ref1, no_cfg(images[:1])['predictions'][0])
    # the demo script takes the .onnx file as --weights
    demo = _tool_demo()
    results = demo.main([images[0], env['config'], '--weights', env['dynamic'], '--task', 'panoptic', '--device',
                         'cpu', '--out-dir', str(tmp_path)])
    _assert_same_predictions(dict(img_path=images[0], panoptic=ref[0]['panoptic']), results['predictions'][0])
    assert osp.isfile(tmp_path / 'vis' / f'{osp.splitext(osp.basename(images[0]))[0]}_panoptic.png')
    # the verification tool agrees (logits within tolerance, identical post-processing)
    report = _tool('verify_onnx').main([env['config'], env['ckpt'], env['dynamic'], env['images']])
    assert report['identical'] and len(report['rows']) == 9
    assert report['worst']['cls'] < ATOL and report['worst']['mask'] < ATOL


def _tool_demo():
    spec = importlib.util.spec_from_file_location('image_demo_onnx', osp.join(REPO, 'demo', 'image_demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
