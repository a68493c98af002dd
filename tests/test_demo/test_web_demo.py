"""demo/web_demo.py: the model side (panels, segment table, time) and the Gradio app through its own client:
a request in (image + tasks), three panels, the table and the time out. No display needed."""
import importlib.util
import os.path as osp

import mmcv
import numpy as np
import pytest

from ..conftest import REPO


def _web_demo():
    spec = importlib.util.spec_from_file_location('web_demo', osp.join(REPO, 'demo', 'web_demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def image(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('web') / 'sample.png')
    mmcv.imwrite((np.random.RandomState(0).rand(64, 80, 3) * 255).astype(np.uint8), path)
    return path


def test_model_side_panels_table_time(deploy_env, image):
    web = _web_demo()
    demo = web.WebDemo(deploy_env['config'], deploy_env['ckpt'])
    rgb = mmcv.imread(image, channel_order='rgb')
    panels, rows, seconds = demo.run(rgb, ['semantic', 'panoptic', 'instance'])
    assert list(panels) == ['panoptic', 'instance', 'semantic'] and seconds > 0
    # drawn at the input's aspect ratio (small inputs are upscaled for readability: the visualizer's min_draw_size)
    assert all(p.dtype == np.uint8 and p.shape[2] == 3 and p.shape[0] * 80 == p.shape[1] * 64 for p in panels.values())
    # the table is the prediction's: inferencer output for the same image
    pred = demo.inferencer(mmcv.imread(image), task='all')['predictions'][0]
    assert rows == web.segment_rows(pred, demo.inferencer.model.dataset_meta['classes'])
    by_task = {t: [r for r in rows if r[0] == t] for t in ('panoptic', 'semantic', 'instance')}
    assert sum(r[3] for r in by_task['semantic']) == 64 * 80  # every pixel has one semantic class
    assert sum(r[3] for r in by_task['panoptic']) <= 64 * 80 and by_task['panoptic']
    assert all(r[2] >= 0.3 for r in by_task['instance'])
    panels1, rows1, _ = demo.run(rgb, ['semantic'])
    assert list(panels1) == ['semantic'] and {r[0] for r in rows1} == {'semantic'}
    np.testing.assert_array_equal(panels1['semantic'], panels['semantic'])
    with pytest.raises(ValueError, match='at least one task'):
        demo.run(rgb, [])
    with pytest.raises(ValueError, match='no image'):
        demo.run(None, ['panoptic'])


@pytest.mark.slow
def test_gradio_app_request_gives_three_panels(deploy_env, image):
    pytest.importorskip('gradio')
    from gradio_client import Client, handle_file
    web = _web_demo()
    demo = web.WebDemo(None, deploy_env['onnx'])  # exported graph, its stored config
    app = web.build_app(demo, [image])
    app.launch(prevent_thread_lock=True, server_name='127.0.0.1', quiet=True)
    try:
        client = Client(app.local_url, verbose=False)
        pan, inst, sem, table, took = client.predict(handle_file(image), ['panoptic', 'instance', 'semantic'],
                                                     api_name='/predict')
        panels = [mmcv.imread(p, channel_order='rgb') for p in (pan, inst, sem)]
        expected, _, _ = demo.run(mmcv.imread(image, channel_order='rgb'), ['panoptic', 'instance', 'semantic'])
        for got, task in zip(panels, ('panoptic', 'instance', 'semantic')):
            # the inferencer's drawing of this image (the upload's round trip through the browser format leaves a
            # few pixels of drawn edges a few levels apart: compared on average)
            assert got.shape == expected[task].shape
            assert np.abs(got.astype(int) - expected[task].astype(int)).mean() < 2, task
        assert table['headers'] == web.TABLE_HEADERS and len(table['data']) >= 2
        assert took.endswith('(prediction + drawing)') and 'ms' in took
        # one task: the other panels stay empty
        pan, inst, sem, table, _ = client.predict(handle_file(image), ['semantic'], api_name='/predict')
        assert pan is None and inst is None and sem is not None
        assert {row[0] for row in table['data']} == {'semantic'}
    finally:
        app.close()
