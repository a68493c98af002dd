"""Compare an exported graph with the PyTorch model: logits per task, and post-processed predictions."""
from typing import Dict, Sequence, Tuple

import torch
from torch import Tensor, nn

from ..tasks import PRED_FIELDS, TASKS, parse_tasks
from .runtime import OnnxOneFormer


@torch.no_grad()
def torch_logits(model: nn.Module, inputs: Tensor, tasks: Sequence[str]) -> Dict[str, Tuple[Tensor, Tensor]]:
    """The PyTorch model's final class and 1/4-scale mask logits per task (one backbone pass), as its ``predict``
    computes them."""
    head = model.panoptic_head
    pixel_feats = head.forward_pixel(model.extract_feat(inputs))
    return {t: head.predict_by_pixel_feats(pixel_feats, [t] * inputs.shape[0]) for t in parse_tasks(tasks)}


def onnx_logits(runner: OnnxOneFormer, inputs: Tensor, tasks: Sequence[str]) -> Dict[str, Tuple[Tensor, Tensor]]:
    """The graph's logits per task, all tasks in one run (T = len(tasks))."""
    tasks = parse_tasks(tasks)
    cls, masks = runner.forward_graph(inputs, runner.task_indices(tasks, inputs.shape[0]))
    return {t: (cls[:, i], masks[:, i]) for i, t in enumerate(tasks)}


def max_diff(ref: Tensor, out: Tensor) -> Dict[str, float]:
    """Largest absolute difference, and that difference relative to the largest reference magnitude."""
    if ref.shape != out.shape:
        raise ValueError(f'shapes differ: PyTorch {tuple(ref.shape)}, ONNX {tuple(out.shape)}')
    ref, out = ref.detach().float().cpu(), out.detach().float().cpu()
    abs_diff = (ref - out).abs().max().item() if ref.numel() else 0.0
    return dict(abs=abs_diff, rel=abs_diff / max(ref.abs().max().item(), 1e-12) if ref.numel() else 0.0)


def logit_diffs(model: nn.Module, runner: OnnxOneFormer, inputs: Tensor,
                tasks: Sequence[str] = TASKS) -> Dict[str, Dict[str, Dict[str, float]]]:
    """Per task: ``{'cls': {'abs', 'rel'}, 'mask': {'abs', 'rel'}}`` between PyTorch and the graph."""
    ref, out = torch_logits(model, inputs, tasks), onnx_logits(runner, inputs, tasks)
    return {t: dict(cls=max_diff(ref[t][0], out[t][0]), mask=max_diff(ref[t][1], out[t][1])) for t in ref}


def compare_predictions(ref, out, task: str, score_atol: float = 1e-4) -> Dict:
    """Compare one task's post-processed prediction of two data samples.

    Maps (panoptic ids, semantic labels) must be equal pixel for pixel; instances must have the same labels, masks
    and boxes, and scores within ``score_atol`` (they are products of probabilities: float rounding differs).

    Returns:
        dict: ``identical`` (bool) and ``detail`` (what differs, for a report).
    """
    field = PRED_FIELDS[task]
    a, b = getattr(ref, field), getattr(out, field)
    if task in ('panoptic', 'semantic'):
        x, y = a.sem_seg, b.sem_seg
        if x.shape != y.shape:
            return dict(identical=False, detail=f'shapes {tuple(x.shape)} vs {tuple(y.shape)}')
        differ = int((x != y).sum())
        return dict(identical=differ == 0, detail=f'{differ} of {x.numel()} pixels differ')
    if len(a) != len(b):
        return dict(identical=False, detail=f'{len(a)} vs {len(b)} instances')
    if len(a) == 0:
        return dict(identical=True, detail='no instances on either side')
    labels = bool((a.labels == b.labels).all())
    mask_px = int((a.masks != b.masks).sum())
    boxes = bool(torch.equal(a.bboxes, b.bboxes))
    score = (a.scores - b.scores).abs().max().item()
    identical = labels and mask_px == 0 and boxes and score <= score_atol
    return dict(identical=identical, detail=f'{len(a)} instances; labels {"equal" if labels else "differ"}, '
                f'{mask_px} mask pixels differ, boxes {"equal" if boxes else "differ"}, max score diff {score:.2e}')


def check_export(model: nn.Module, runner: OnnxOneFormer, shapes: Sequence[Tuple[int, int, int]],
                 rtol: float = 1e-3, seed: int = 0) -> list:
    """Run the graph and the PyTorch model on random normalised batches of each (B, H, W) in ``shapes``, all three
    tasks in one graph run.

    Returns:
        list[dict]: per shape and task, ``shape``, ``task``, ``cls`` / ``mask`` differences (:func:`max_diff`) and
        ``ok`` (both relative differences <= ``rtol``).
    """
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    rows = []
    for batch, height, width in shapes:
        inputs = torch.randn(batch, 3, height, width, generator=generator).to(device)
        for task, d in logit_diffs(model, runner, inputs, TASKS).items():
            rows.append(dict(shape=(batch, 3, height, width), task=task, **d,
                             ok=d['cls']['rel'] <= rtol and d['mask']['rel'] <= rtol))
    return rows
