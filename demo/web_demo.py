"""Web demo (Gradio): upload an image or pick a sample, choose the tasks, see the panoptic / instance / semantic
panels side by side with the segment table and the time taken.

    python demo/web_demo.py CONFIG WEIGHTS [--device cpu] [--backend onnxruntime|openvino] [--samples DIR]
        [--port 7860] [--host 127.0.0.1] [--preload IMAGE]

``WEIGHTS`` is a ``.pth`` checkpoint or an exported ``.onnx`` / ``.xml`` (``tools/deployment/pytorch2onnx.py``);
``CONFIG`` may be ``-`` for an exported file (it stores its config). Needs the optional ``gradio`` package
(``requirements/demo.txt``). The model code is :class:`WebDemo`, usable without Gradio.
"""
import argparse
import glob
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import oneformer  # noqa: F401  registers the project modules; first, before torch: idle OpenMP threads sleep

# isort: split
import numpy as np

from oneformer.apis import OneFormerInferencer
from oneformer.tasks import TASKS

PANEL_TASKS = tuple(TASKS)  # panoptic, instance, semantic: the panels' order
TABLE_HEADERS = ['task', 'class', 'score', 'area (px)']
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


class WebDemo:
    """The demo's model side: an RGB image and a task list in, panels, a segment table and the time out.

    Args:
        config (str, optional): Config file (None for an exported file: its stored config).
        weights (str): ``.pth``, ``.onnx`` or ``.xml``.
        device (str): Inference device.
        backend (str, optional): Runtime of an exported file (see :class:`OneFormerInferencer`).
        score_thr (float): Minimum score of drawn instances and table rows of the instance task.
    """

    def __init__(self, config: Optional[str], weights: str, device: str = 'cpu', backend: Optional[str] = None,
                 score_thr: float = 0.3) -> None:
        self.inferencer = OneFormerInferencer(config, weights=weights, device=device, task='all', backend=backend)
        self.score_thr = score_thr

    def run(self, image: np.ndarray, tasks: Sequence[str]) -> Tuple[Dict[str, np.ndarray], List[list], float]:
        """Predict ``tasks`` on an RGB uint8 image.

        Returns:
            tuple: ``{task: RGB panel}`` for the chosen tasks, the segment table rows (task, class, score, area)
            and the seconds the prediction and drawing took.
        """
        if image is None:
            raise ValueError('no image: upload one or pick a sample')
        tasks = [t for t in PANEL_TASKS if t in set(tasks)]
        if not tasks:
            raise ValueError(f'choose at least one task of {", ".join(PANEL_TASKS)}')
        image = np.asarray(image)
        if image.ndim == 3 and image.shape[2] == 4:
            image = image[..., :3]
        start = time.perf_counter()
        out = self.inferencer(np.ascontiguousarray(image[..., ::-1]), task='all' if len(tasks) == 3 else
                              ','.join(tasks), return_vis=True, no_save_vis=True, no_save_pred=True,
                              pred_score_thr=self.score_thr)
        seconds = time.perf_counter() - start
        classes = tuple(self.inferencer.model.dataset_meta['classes'])
        return out['visualization'][0], segment_rows(out['predictions'][0], classes, self.score_thr), seconds


def segment_rows(pred: Dict, classes: Sequence[str], score_thr: float = 0.3) -> List[list]:
    """Table rows (task, class, score, area in pixels) of one prediction dict (``sample_to_dict``): panoptic
    segments (no score: the panoptic merge keeps a segment, not a score), instances above ``score_thr`` by score,
    semantic classes by area."""
    rows = []
    if 'panoptic' in pred:
        for seg in sorted(pred['panoptic']['segments_info'], key=lambda s: -s['area']):
            rows.append(['panoptic', seg['category'], None, int(seg['area'])])
    if 'instance' in pred:
        inst = pred['instance']
        for i in np.argsort(-inst['scores']):
            if inst['scores'][i] >= score_thr:
                rows.append(['instance', inst['categories'][i], round(float(inst['scores'][i]), 3),
                             int(inst['masks'][i].sum())])
    if 'semantic' in pred:
        labels, areas = np.unique(pred['semantic']['seg'], return_counts=True)
        for label, area in sorted(zip(labels.tolist(), areas.tolist()), key=lambda la: -la[1]):
            name = classes[label] if 0 <= label < len(classes) else f'void ({label})'
            rows.append(['semantic', name, None, int(area)])
    return rows


def find_samples(folder: Optional[str]) -> List[str]:
    """Image files of ``folder`` (sorted), for the sample picker."""
    if not folder:
        return []
    if not osp.isdir(folder):
        raise FileNotFoundError(f'--samples: folder not found: {folder}')
    return sorted(f for f in glob.glob(osp.join(folder, '*')) if f.lower().endswith(IMAGE_EXTENSIONS))


def build_app(demo: WebDemo, samples: Sequence[str] = (), preload: Optional[str] = None):
    """The Gradio interface (``gradio`` imported here: an optional dependency). ``preload``: an image file shown
    with its three-task result when the page opens."""
    try:
        import gradio as gr
    except ImportError as e:
        raise ImportError('the web demo needs gradio: pip install -r requirements/demo.txt') from e

    def predict(image, tasks):
        try:
            panels, rows, seconds = demo.run(image, tasks or [])
        except ValueError as e:
            raise gr.Error(str(e))
        outputs = [panels.get(t) for t in PANEL_TASKS]
        return (*outputs, rows, f'{1000 * seconds:.0f} ms for {", ".join(panels)} (prediction + drawing)')

    with gr.Blocks(title='OneFormer') as app:
        gr.Markdown('## OneFormer: one model, three tasks\nUpload an image or pick a sample, choose the tasks, '
                    'press Run. One backbone pass; each task decodes with its own task token.')
        with gr.Row():
            image = gr.Image(type='numpy', label='image', sources=['upload'])
            with gr.Column():
                tasks = gr.CheckboxGroup(list(PANEL_TASKS), value=list(PANEL_TASKS), label='tasks')
                run = gr.Button('Run', variant='primary')
                took = gr.Textbox(label='time', interactive=False)
        if samples:
            gr.Examples(examples=[[s] for s in samples], inputs=[image], label='samples')
        with gr.Row():
            # png: lossless panels (gradio sends webp by default)
            panels = [gr.Image(type='numpy', label=t, interactive=False, format='png') for t in PANEL_TASKS]
        table = gr.Dataframe(headers=TABLE_HEADERS, label='segments', interactive=False)
        run.click(predict, inputs=[image, tasks], outputs=[*panels, table, took], api_name='predict')
        if preload:
            import mmcv
            first = mmcv.imread(preload, channel_order='rgb')
            app.load(lambda: (first, *predict(first, list(PANEL_TASKS))), outputs=[image, *panels, table, took],
                     api_name=False)
    return app


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help="config file ('-' for an exported file: its stored config)")
    parser.add_argument('weights', help='.pth checkpoint, or an exported .onnx / .xml')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--backend', choices=('onnxruntime', 'openvino'), help='runtime of an exported file')
    parser.add_argument('--samples', help='folder of sample images to pick from')
    parser.add_argument('--score-thr', type=float, default=0.3, help='minimum instance score shown')
    parser.add_argument('--preload', help='image shown with its result when the page opens')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=7860)
    args = parser.parse_args(argv)
    if not osp.isfile(args.weights):
        parser.error(f'weights not found: {args.weights}')
    if args.preload and not osp.isfile(args.preload):
        parser.error(f'--preload image not found: {args.preload}')
    if args.config != '-' and not osp.isfile(args.config):
        parser.error(f'config not found: {args.config}')
    return args


def main(argv=None):
    args = parse_args(argv)
    demo = WebDemo(None if args.config == '-' else args.config, args.weights, device=args.device,
                   backend=args.backend, score_thr=args.score_thr)
    app = build_app(demo, find_samples(args.samples), preload=args.preload)
    app.launch(server_name=args.host, server_port=args.port)


if __name__ == '__main__':
    main()
