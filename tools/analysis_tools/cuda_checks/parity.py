"""Correctness of whole models: the demo model on the device vs CPU, converted HF models vs HF on the device."""
import copy
import os.path as osp
import tempfile

import torch
import torch.nn as nn

from .common import DEMO_CONFIG, TOL_HF, TOL_LOGITS, Context, compare, fmt, strict_fp32, worst
from .models import demo_model, inference_data


def _head_logits(model: nn.Module, x: torch.Tensor, task: str):
    from mmdet.structures import DetDataSample
    h, w = x.shape[-2:]
    meta = dict(task=task, img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), batch_input_shape=(h, w))
    with torch.no_grad():
        cls, masks = model.panoptic_head(model.extract_feat(x), [DetDataSample(metainfo=meta) for _ in x])
    return [c.cpu() for c in cls], [m.cpu() for m in masks]


def row_model_forward(ctx: Context):
    """The demo model on the device vs the same weights on CPU: class and mask logits of every decoder layer for
    the three task tokens, and agreement of the post-processed outputs (``test_step``)."""
    from oneformer.tasks import TASKS as tasks
    cpu_model = demo_model(ctx)
    dev_model = copy.deepcopy(cpu_model).to(ctx.device)
    if ctx.cuda:
        device_side = 'mmcv CUDA kernel, fused attention (cuda)'
    elif hasattr(dev_model.panoptic_head, 'fast_cpu_deform_attn'):
        dev_model.panoptic_head.fast_cpu_deform_attn = False
        device_side = 'mmcv CPU fallback for deformable attention (fast_cpu_deform_attn=False)'
    else:
        device_side = 'same CPU path (the head has no fast_cpu_deform_attn switch): identical by construction'
    b, h, w = (1, 64, 96) if ctx.dry else (2, 128, 192)
    g = torch.Generator().manual_seed(ctx.args.seed)
    x = torch.randn(b, 3, h, w, generator=g)
    results = {}
    with strict_fp32():
        for task in tasks:
            ref_cls, ref_masks = _head_logits(cpu_model, x, task)
            cls, masks = _head_logits(dev_model, x.to(ctx.device), task)
            for i in range(len(ref_cls)):
                results[f'{task} layer {i}: class logits'] = compare(cls[i], ref_cls[i], logits=True)
                results[f'{task} layer {i}: mask logits'] = compare(masks[i], ref_masks[i], logits=True)
        images = torch.randint(0, 256, (b, 3, h, w), generator=g, dtype=torch.uint8)
        with torch.no_grad():
            ref_out = cpu_model.test_step(inference_data(images, 'cpu'))
            out = dev_model.test_step(inference_data(images, ctx.device))
    agreement = {}
    for field, attr in (('pred_sem_seg', 'sem_seg'), ('pred_panoptic_seg', 'sem_seg')):
        if all(field in s for s in ref_out):
            same = [(getattr(getattr(a, field), attr).cpu() == getattr(getattr(r, field), attr)).float().mean()
                    for a, r in zip(out, ref_out)]
            agreement[f'{field} pixel agreement'] = float(torch.stack(same).mean())
    if all('pred_instances' in s for s in ref_out):
        agreement['pred_instances count (device, cpu)'] = [[len(a.pred_instances), len(r.pred_instances)]
                                                           for a, r in zip(out, ref_out)]
    name, rel = worst(results)
    values = dict(config=DEMO_CONFIG, input_shape=[b, 3, h, w], device_side=device_side,
                  reference='cpu, our deformable-attention path, float32 (TF32 off)', tolerance_logits=TOL_LOGITS,
                  comparisons=results, worst=name, worst_diff=rel, test_step_agreement=agreement)
    return rel <= TOL_LOGITS, values, f'worst logit diff {fmt(rel)} ({name}); {len(tasks)} tasks'


def row_hf_parity(ctx: Context):
    """Tiny random HF OneFormers converted by ``convert_hf_dir``: our logits = HF's, both on the device."""
    import transformers
    from mmdet.structures import DetDataSample

    from oneformer.model_converters import convert_hf_dir
    from oneformer.tasks import TASKS as tasks
    from oneformer.tasks import task_tokens
    from oneformer.testing.hf_models import HF_BACKBONES, HF_IMAGE_SHAPE, build_converted, make_hf_model
    kinds = [k for k in ctx.args.hf_backbones.split(',') if k] or (['resnet'] if ctx.dry else list(HF_BACKBONES))
    unknown = [k for k in kinds if k not in HF_BACKBONES]
    if unknown:
        raise ValueError(f'--hf-backbones: unknown {unknown}; choose from {list(HF_BACKBONES)}')
    results = {}
    for kind in kinds:
        hf = make_hf_model(kind, ctx.args.seed)
        folder = tempfile.mkdtemp(prefix=f'hf_{kind}_', dir=ctx.work_dir)
        hf.save_pretrained(osp.join(folder, 'hf'))
        convert_hf_dir(osp.join(folder, 'hf'), osp.join(folder, 'mm'), strict=True)
        model = build_converted(osp.join(folder, 'mm'))[0].to(ctx.device)
        hf.to(ctx.device)
        g = torch.Generator().manual_seed(ctx.args.seed + 1)
        # the tests' input (every Swin stage larger than its window); a smaller one for a dry run
        shape = (1, 3, 64, 96) if ctx.dry and kind != 'swin' else HF_IMAGE_SHAPE
        x = torch.randn(shape, generator=g).to(ctx.device)
        with strict_fp32(), torch.no_grad():
            for task in tasks:
                ref = hf(pixel_values=x, task_inputs=task_tokens(task)[None].to(ctx.device))
                cls, masks = model.panoptic_head(model.extract_feat(x), [DetDataSample(metainfo=dict(task=task))])
                results[f'{kind} {task}: class logits'] = compare(cls[-1], ref.class_queries_logits, logits=True)
                results[f'{kind} {task}: mask logits'] = compare(masks[-1], ref.masks_queries_logits, logits=True)
        del hf, model
        ctx.free()
    name, rel = worst(results)
    values = dict(transformers=transformers.__version__, backbones=kinds, device=str(ctx.device),
                  tolerance_logits=TOL_HF, comparisons=results, worst=name, worst_diff=rel)
    return rel <= TOL_HF, values, f'worst logit diff {fmt(rel)} ({name}); transformers {transformers.__version__}'

