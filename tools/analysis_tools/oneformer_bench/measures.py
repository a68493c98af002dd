"""The benchmark measures end2end-pipeline (issue 6) and onnx (issue 12). Each returns one JSON-able row (see
:func:`timing.ratio_entry`)."""
import os.path as osp
import time
from typing import Dict, List

import numpy as np
import torch
from mmdet.structures import DetDataSample

from . import builders as B
from .presets import Preset
from .timing import device_sync, ratio_entry, run_worker, summarize, time_interleaved

TEST_META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')


class Context:
    """What the measures share: the preset, a work dir with synthetic data, the HF model and our converted model."""

    def __init__(self, preset: Preset, work_dir: str, threads: int, device: str = 'cpu') -> None:
        self.p, self.work_dir, self.threads, self.device = preset, work_dir, threads, device
        self.data_root = osp.join(work_dir, 'synthetic')
        B.make_synthetic(preset, self.data_root, num_train=max(8, preset.batch))
        self.image = B.test_image(self.data_root)  # BGR uint8, image_size x image_size
        self.hf = B.make_hf_model(preset)
        self.hf_processor = B.hf_processor(preset, B.write_class_info(preset, osp.join(work_dir, 'class_info.json')))
        pixel_values = self._hf_inputs()['pixel_values']
        from oneformer.tasks import task_tokens
        B.calibrate_class_head(self.hf, pixel_values, task_tokens('panoptic')[None])
        self.cfg_path = B.convert_hf(self.hf, preset, work_dir)
        self.ckpt = osp.join(osp.dirname(self.cfg_path), 'model.pth')
        self.model_cfg = B.load_cfg(self.cfg_path).model
        self.model = B.build(self.model_cfg, self.ckpt).to(device)
        self.hf.to(device)
        from mmcv.transforms import Compose
        self.pipeline = Compose([
            dict(type='LoadImageFromNDArray'),
            dict(type='Resize', scale=(preset.image_size, preset.image_size), keep_ratio=True),
            dict(type='PackDetInputs', meta_keys=TEST_META_KEYS)])

    def _hf_inputs(self):
        return self.hf_processor(images=[self.image[..., ::-1]], task_inputs=['panoptic'], return_tensors='pt')

    def our_inputs(self) -> Dict:
        from mmengine.dataset import pseudo_collate
        return pseudo_collate([self.pipeline(dict(img=self.image))])

    def fn_timer(self, fns, no_grad: bool = True) -> Dict[str, Dict]:
        p = self.p
        with torch.no_grad() if no_grad else torch.enable_grad():
            return time_interleaved(fns, p.warmup, p.repeats, sync=device_sync(self.device))


# -------------------------------------------------------------------------------------------------------------- end2end
def end_to_end(ctx: Context) -> Dict:
    """Pre-processing + forward + post-processing of one image, panoptic task, vs HF transformers."""
    from oneformer.tasks import tokenize
    model, hf, proc, p = ctx.model, ctx.hf, ctx.hf_processor, ctx.p
    stuff_ids = set(range(p.num_things, p.num_classes))  # our fusion head merges stuff; HF needs them listed
    thr = model.panoptic_fusion_head.test_cfg.get('object_mask_thr')
    iou = model.panoptic_fusion_head.test_cfg.get('iou_thr')
    rgb = np.ascontiguousarray(ctx.image[..., ::-1])

    def ours():  # the detector's predict with the panoptic token and only the panoptic post-processing
        data = model.data_preprocessor(ctx.our_inputs(), False)
        samples = data['data_samples']
        pixel = model.panoptic_head.forward_pixel(model.extract_feat(data['inputs']))
        return model.predict_by_pixel_feats(pixel, samples, True, tasks=('panoptic', ))

    def ours_test_step():  # the public path: pre-processing + predict(tasks='panoptic'), as test_step runs it
        data = model.data_preprocessor(ctx.our_inputs(), False)
        return model.predict(data['inputs'], data['data_samples'], tasks=('panoptic', ))

    def peer():
        enc = proc(images=[rgb], task_inputs=['panoptic'], return_tensors='pt')
        out = hf(pixel_values=enc['pixel_values'].to(ctx.device),
                 task_inputs=tokenize(enc['task_inputs']).to(ctx.device))
        return proc.post_process_panoptic_segmentation(out, threshold=thr, overlap_mask_area_threshold=iou,
                                                       label_ids_to_fuse=stuff_ids, target_sizes=[rgb.shape[:2]])

    with torch.no_grad():
        check = _same_weights_check(ctx, ours(), peer())
    t = ctx.fn_timer(dict(ours=ours, peer=peer, ours_test_step=ours_test_step))
    return ratio_entry(t['ours'], t['peer'], '<= 0.75', 'oneformer-mm (panoptic token, panoptic output)',
                       'HF transformers OneFormer', ours_test_step=t['ours_test_step'],
                       ours_test_step_ratio=t['ours_test_step']['median'] / t['peer']['median'], **check)


@torch.no_grad()
def _same_weights_check(ctx: Context, ours_out, peer_out) -> Dict:
    """Both sides use the same converted weights: largest logit difference on HF's pixel values relative to the
    largest logit (class and mask logits), and the number of panoptic segments of each side."""
    from oneformer.tasks import task_tokens
    x = ctx._hf_inputs()['pixel_values'].to(ctx.device)
    tokens = task_tokens('panoptic')[None].to(ctx.device)
    hf_out = ctx.hf(pixel_values=x, task_inputs=tokens)
    cls, masks = ctx.model.panoptic_head(ctx.model.extract_feat(x), [DetDataSample(metainfo=dict(task='panoptic'))])
    ids = ours_out[0].pred_panoptic_seg.sem_seg.unique()
    rel = [((a - b).abs().max() / b.abs().max()).item() for a, b in ((cls[-1], hf_out.class_queries_logits),
                                                                   (masks[-1], hf_out.masks_queries_logits))]
    return dict(max_rel_logit_diff=max(rel),
                ours_segments=int((ids != ctx.p.num_classes).sum()), peer_segments=len(peer_out[0]['segments_info']))


# -------------------------------------------------------------------------------------------------------------- forward
def forward_latency(ctx: Context) -> Dict:
    """Backbone + head forward (no pre/post-processing) vs mmdet's Mask2Former of the same sizes."""
    p = ctx.p
    m2f = B.build(B.mask2former_cfg(ctx.model_cfg, p)).to(ctx.device)
    x = torch.randn(1, 3, p.image_size, p.image_size, device=ctx.device)
    meta = dict(batch_input_shape=x.shape[-2:], img_shape=x.shape[-2:], ori_shape=x.shape[-2:], task='panoptic')
    samples = [DetDataSample(metainfo=meta)]
    t = ctx.fn_timer(dict(ours=lambda: ctx.model._forward(x, samples), peer=lambda: m2f._forward(x, samples)))
    return ratio_entry(t['ours'], t['peer'], '<= 1.10', 'oneformer-mm', 'mmdet Mask2Former')


# ---------------------------------------------------------------------------------------------------------- three_tasks
def three_tasks_one_pass(ctx: Context) -> Dict:
    """``test_step`` (pre-processing + ``predict``) of the three tasks (one backbone/pixel-decoder pass) vs three
    single-task ones (what three evaluation runs with one task each cost, minus data loading)."""
    model = ctx.model
    data = ctx.our_inputs()

    def run(tasks):
        batch = model.data_preprocessor(data, False)
        return model.predict(batch['inputs'], batch['data_samples'], tasks=tasks)

    t = ctx.fn_timer(dict(
        ours=lambda: run(('panoptic', 'instance', 'semantic')),
        peer=lambda: [run((task, )) for task in ('panoptic', 'instance', 'semantic')]))
    return ratio_entry(t['ours'], t['peer'], '<= 0.50', 'one pass, 3 task tokens', '3 single-task passes')


def batched_task_passes(ctx: Context) -> Dict:
    """``predict(tasks=all three)`` (the three tokens in one batched decoder call) vs the plain formulation: one
    backbone / pixel-decoder pass, then the three tokens decoded and post-processed one after another."""
    model = ctx.model
    batch = model.data_preprocessor(ctx.our_inputs(), False)
    inputs, samples = batch['inputs'], batch['data_samples']
    tasks = ('panoptic', 'instance', 'semantic')

    def one_after_another():
        feats = model.extract_pixel_feats(inputs)
        for task in tasks:
            cls, masks = model.panoptic_head.predict_by_pixel_feats(feats, [task] * len(samples))
            model.panoptic_fusion_head.predict(cls, masks, samples, rescale=True, tasks=(task, ))

    t = ctx.fn_timer(dict(ours=lambda: model.predict(inputs, samples, tasks=tasks), peer=one_after_another))
    return ratio_entry(t['ours'], t['peer'], '<= 1.00', '3 task tokens in one decoder call',
                       '3 decoder calls, one per task')


# ---------------------------------------------------------------------------------------------------------------- train
def _optim_wrapper_cfg() -> Dict:
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(B.REPO, 'configs', '_base_', 'schedules', 'oneformer_adamw.py'))
    return cfg.optim_wrapper.to_dict()


def training_step(ctx: Context) -> Dict:
    """Training iteration (data preprocessor + loss + backward + AdamW step with the paper's clipping) and peak
    memory, each side in a fresh interpreter (see ``train_worker.py``: peak RSS of the training iterations minus
    the RSS after the imports)."""
    p = ctx.p
    batch_path = osp.join(ctx.work_dir, 'train_batch.pth')
    torch.save(B.train_batch(p, ctx.data_root), batch_path)
    worker = osp.join(osp.dirname(osp.abspath(__file__)), 'train_worker.py')
    specs = {}
    for side, cfg in (('ours', B.with_text_mapper(ctx.model_cfg, p)), ('peer', B.mask2former_cfg(ctx.model_cfg, p))):
        specs[side] = osp.join(ctx.work_dir, f'train_{side}.pth')
        torch.save(dict(model=cfg.to_dict(), batch=batch_path, optim_wrapper=_optim_wrapper_cfg(),
                        warmup=max(1, p.warmup), repeats=p.repeats, threads=ctx.threads, device=ctx.device),
                   specs[side])
    # sides alternate over `train_rounds` fresh processes each: slow phases of the machine hit both alike
    rounds = {side: [] for side in specs}
    for _ in range(p.train_rounds):
        for side, spec in specs.items():
            rounds[side].append(run_worker(worker, spec))
    results = {side: dict(r[0], rounds=r) for side, r in rounds.items()}
    times = {side: summarize([t for r in rs for t in r['times']]) for side, rs in rounds.items()}
    mem = {side: summarize([r['training_memory_mb'] for r in rs]) for side, rs in rounds.items()}
    ours, peer = results['ours'], results['peer']
    return dict(
        time=ratio_entry(times['ours'], times['peer'], '<= 1.15', 'oneformer-mm (with text mapper + contrastive)',
                         'mmdet Mask2Former', batch=p.batch, rounds=p.train_rounds),
        memory=ratio_entry(mem['ours'], mem['peer'], '<= 1.15', 'oneformer-mm', 'mmdet Mask2Former', unit='MB',
                           method=(f'{ours["peak_method"]}; fresh subprocess per side' if ctx.device != 'cpu' else
                                   'peak RSS during the training iterations (/proc VmHWM, reset before them; '
                                   f'{ours["peak_method"]}) minus the RSS after the imports, fresh subprocess '
                                   'per side'),
                           ours_peak_rss_mb=ours['peak_rss_training_mb'], peer_peak_rss_mb=peer['peak_rss_training_mb'],
                           rounds=p.train_rounds),
        workers=results)


# ------------------------------------------------------------------------------------------------------------- pipeline
def pipeline_throughput(ctx: Context, train_time: Dict) -> Dict:
    """Samples/s of the task-aware training pipeline (one process, random task per image) vs the model's training
    samples/s (batch / median train iteration time)."""
    p = ctx.p
    dataset = B.build_dataset(B.train_dataset_cfg(p, ctx.data_root))
    n = len(dataset)
    for i in range(min(2, n)):  # warm-up: file cache, tokenizer cache
        dataset[i]
    times: List[float] = []
    for i in range(p.pipeline_samples):
        start = time.perf_counter()
        dataset[i % n]
        times.append(time.perf_counter() - start)
    per_sample = summarize(times)
    pipeline_sps = dict(median=1.0 / per_sample['median'], min=1.0 / per_sample['max'],
                        max=1.0 / per_sample['min'], runs=len(times))
    model_sps = dict(median=p.batch / train_time['median'], min=p.batch / train_time['max'],
                     max=p.batch / train_time['min'], runs=train_time['runs'])
    return ratio_entry(pipeline_sps, model_sps, '>= 20', 'data pipeline (1 worker)', 'model training',
                       unit='samples/s', higher_is_better=True, num_workers=0)


# ----------------------------------------------------------------------------------------------------------------- onnx
#: deployment sides of the onnx measure, besides ONNX Runtime fp32 (grid_sample) and PyTorch eager
DEPLOY_SIDES = ('ort_gather', 'ort_int8', 'ort_int8_static', 'openvino', 'compile')


def onnx_end_to_end(ctx: Context, sides=DEPLOY_SIDES) -> Dict:
    """Pre-processing + forward + panoptic post-processing of one image with the network run by ONNX Runtime on
    the CPU vs the same with PyTorch eager on the CPU: same weights, image, data preprocessor and fusion head
    (``oneformer.deployment``); the graph is exported at the image's padded size (fixed shape). Also records the
    largest logit difference and ONNX Runtime's per-operator time shares (``enable_profiling``).

    ``sides`` adds, in the same interleaved runs: ``ort_gather`` (the graph with the deformable attention as
    ``Gather`` + ``MatMul``), ``ort_int8`` (dynamic int8 quantization of the fp32 graph), ``openvino`` (the fp32
    graph in OpenVINO, f32) and ``compile`` (PyTorch with ``torch.compile``d network); each with its ratio to
    eager under ``sides`` in the result (sides whose package is missing are skipped and listed)."""
    from oneformer.deployment import OnnxOneFormer, export_onnx
    from oneformer.deployment.compare import logit_diffs
    p = ctx.p
    model = ctx.model if torch.device(ctx.device).type == 'cpu' else B.build(ctx.model_cfg, ctx.ckpt)
    cfg = B.load_cfg(ctx.cfg_path)
    things, stuff = B.class_names(p)
    meta = dict(classes=things + stuff, thing_classes=things, stuff_classes=stuff)
    inputs = model.data_preprocessor(ctx.our_inputs(), False)['inputs']
    onnx_file = osp.join(ctx.work_dir, 'onnx', 'model.onnx')
    start = time.perf_counter()
    export_onnx(model, onnx_file, cfg, meta, shape=tuple(inputs.shape[-2:]))
    export_s = time.perf_counter() - start
    runner = OnnxOneFormer(onnx_file, cfg=cfg, device='cpu', threads=ctx.threads)
    task = runner.task_indices(('panoptic', ), 1)

    def eager_fn(m):
        def eager():  # the detector's predict with the panoptic token and only the panoptic post-processing
            data = m.data_preprocessor(ctx.our_inputs(), False)
            samples = data['data_samples']
            pixel = m.panoptic_head.forward_pixel(m.extract_feat(data['inputs']))
            return m.predict_by_pixel_feats(pixel, samples, True, tasks=('panoptic', ))
        return eager

    def graph_fn(r):
        def onnx():  # the same with the network in ONNX Runtime (OpenVINO)
            data = r.data_preprocessor(ctx.our_inputs(), False)
            samples = data['data_samples']
            cls, masks = r.forward_graph(data['inputs'], task)
            res = r.panoptic_fusion_head.predict(cls[:, 0], masks[:, 0], samples, rescale=True, tasks=('panoptic', ))
            return model.add_pred_to_datasample(samples, res)
        return onnx

    eager = eager_fn(model)
    fns, extra, skipped = dict(onnx=graph_fn(runner), eager=eager), {}, []
    for side in sides:
        try:
            fns[side], extra[side] = _deploy_side(side, ctx, model, cfg, meta, onnx_file, inputs, eager_fn, graph_fn)
        except ImportError as e:
            skipped.append(f'{side}: {e}')
    with torch.no_grad():
        diffs = logit_diffs(model, runner, inputs, ('panoptic', ))['panoptic']
        # saturated probabilities (the calibrated random model's, as a trained model's) tie the panoptic argmax
        # between queries: float rounding may then assign a few pixels to another query; count them
        ref = eager()[0].pred_panoptic_seg.sem_seg
        differ = {name: int((fn()[0].pred_panoptic_seg.sem_seg != ref).sum()) for name, fn in fns.items()
                  if name != 'eager'}
        t = time_interleaved(fns, p.warmup, p.repeats)  # all on the CPU: no device sync
    import onnxruntime
    side_rows = {name: dict(time=t[name], ratio=t[name]['median'] / t['eager']['median'],
                            panoptic_pixels_differ=differ[name], **extra[name]) for name in extra}
    return ratio_entry(t['onnx'], t['eager'], '<= 0.70', f'ONNX Runtime {onnxruntime.__version__} (CPU)',
                       'PyTorch eager (CPU)', export_s=export_s, onnx_mb=osp.getsize(onnx_file) / 2**20,
                       max_rel_logit_diff=max(diffs['cls']['rel'], diffs['mask']['rel']),
                       panoptic_pixels_differ=differ['onnx'], panoptic_pixels=ref.numel(), sides=side_rows,
                       sides_skipped=skipped, ort_ops=_ort_op_shares(onnx_file, inputs, task, ctx.threads))


def _deploy_side(side, ctx, model, cfg, meta, onnx_file, inputs, eager_fn, graph_fn):
    """The timed function of one deployment side and what to record about it."""
    import copy

    from oneformer.deployment import OnnxOneFormer, export_onnx, quantize_onnx
    from oneformer.deployment.compare import logit_diffs
    folder = osp.dirname(onnx_file)
    if side == 'compile':
        from oneformer.apis import compile_network
        compiled = compile_network(copy.deepcopy(model))
        fn = eager_fn(compiled)
        start = time.perf_counter()
        with torch.no_grad():
            fn()  # compiles
        return fn, dict(name='torch.compile (inductor, CPU)', first_call_s=time.perf_counter() - start)
    if side == 'openvino':
        import openvino
        runner = OnnxOneFormer(onnx_file, cfg=cfg, threads=ctx.threads, backend='openvino')
        name = f'OpenVINO {openvino.__version__.split("-")[0]} (CPU, f32)'
    elif side == 'ort_gather':
        path = osp.join(folder, 'model_gather.onnx')
        export_onnx(model, path, cfg, meta, shape=tuple(inputs.shape[-2:]), deform_attn='gather')
        runner = OnnxOneFormer(path, cfg=cfg, threads=ctx.threads)
        name = 'ONNX Runtime, deformable attention as Gather + MatMul'
    elif side in ('ort_int8', 'ort_int8_static'):
        static = side == 'ort_int8_static'
        path = osp.join(folder, f'model_{side[4:]}.onnx')
        start = time.perf_counter()
        if static:  # activation ranges from the benchmark image and 3 variants (flipped, darker, brighter)
            x = inputs.numpy()
            task = np.zeros((x.shape[0], 1), np.int64)
            calibration = [dict(inputs=v.astype(np.float32), task=task)
                           for v in (x, x[..., ::-1].copy(), 0.8 * x, 1.2 * x)]
            quantize_onnx(onnx_file, path, 'static', calibration=calibration)
        else:
            quantize_onnx(onnx_file, path, 'dynamic')
        runner = OnnxOneFormer(path, cfg=cfg, threads=ctx.threads)
        name = (f'ONNX Runtime int8 ({"static QDQ, 4 calibration images" if static else "dynamic"}: MatMul, Gemm, '
                'Conv weights)')
        with torch.no_grad():
            d = logit_diffs(model, runner, inputs, ('panoptic', ))['panoptic']
        return graph_fn(runner), dict(name=name, quantize_s=time.perf_counter() - start,
                                      onnx_mb=osp.getsize(path) / 2**20,
                                      max_rel_logit_diff=max(d['cls']['rel'], d['mask']['rel']))
    else:
        raise ValueError(f'unknown deployment side {side!r}; choose from {DEPLOY_SIDES}')
    with torch.no_grad():
        d = logit_diffs(model, runner, inputs, ('panoptic', ))['panoptic']
    return graph_fn(runner), dict(name=name, max_rel_logit_diff=max(d['cls']['rel'], d['mask']['rel']))


def _ort_op_shares(onnx_file: str, inputs: torch.Tensor, task: np.ndarray, threads: int, top: int = 12) -> List:
    """ONNX Runtime's kernel time per operator type over one profiled run (after one warm-up run):
    ``[{'op', 'ms', 'share', 'nodes'}]``, largest first."""
    import json

    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.enable_profiling = True
    options.profile_file_prefix = osp.join(osp.dirname(onnx_file), 'ort_profile')
    session = ort.InferenceSession(onnx_file, options, providers=['CPUExecutionProvider'])
    feed = dict(inputs=inputs.numpy(), task=task)
    for _ in range(2):
        session.run(None, feed)
    with open(session.end_profiling(), encoding='utf-8') as f:
        events = json.load(f)
    runs = [e for e in events if e.get('cat') == 'Session' and e.get('name') == 'model_run']
    last_run_start = runs[-1]['ts'] if runs else 0
    totals: Dict[str, List[float]] = {}
    for e in events:
        if e.get('cat') == 'Node' and e.get('name', '').endswith('_kernel_time') and e['ts'] >= last_run_start:
            entry = totals.setdefault(e['args']['op_name'], [0.0, 0])
            entry[0] += e['dur'] / 1000
            entry[1] += 1
    total = sum(ms for ms, _ in totals.values()) or 1.0
    ranked = sorted(totals.items(), key=lambda kv: -kv[1][0])[:top]
    return [dict(op=op, ms=ms, share=ms / total, nodes=n) for op, (ms, n) in ranked]
