"""``--profile``: where the inference time of finished runs goes, stage by stage (``torch.profiler``), on the
comparison's own val images and trained weights: what explains OneFormer's three-task pass against the
Mask2Former runs at the demo size (docs/compare.md)."""
import contextlib
import functools
import os.path as osp
from typing import Callable, Dict, Iterator, List, Sequence, Tuple

from .common import CompareError, load_json

STAGES = (  # (label, path from the model, method)
    ('data_preprocessor', 'data_preprocessor', 'forward'),
    ('backbone', 'backbone', 'forward'),
    ('pixel_decoder', 'HEAD.pixel_decoder', 'forward'),
    ('task_encoder', 'HEAD.task_encoder', 'forward'),
    ('query_transformer', 'HEAD.query_transformer', 'forward'),
    ('transformer_decoder', 'HEAD.transformer_decoder', 'forward'),
    ('decoder prediction heads', 'HEAD', '_forward_head'),
    ('post-processing', 'panoptic_fusion_head', 'predict'),
    ('post-processing', '', 'postprocess_result'),
)


def _resolve(model, path: str):
    obj = model
    for part in [p for p in path.split('.') if p]:
        if part == 'HEAD':
            part = 'panoptic_head' if hasattr(obj, 'panoptic_head') else 'decode_head'
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


@contextlib.contextmanager
def labelled(model) -> Iterator[List[str]]:
    """Within the block, the stages of ``model`` present in ``STAGES`` appear as ``record_function`` ranges
    (instance attributes shadowing the methods; removed afterwards)."""
    import torch
    saved, labels = [], []
    for label, path, method in STAGES:
        obj = _resolve(model, path)
        if obj is None or not hasattr(obj, method):
            continue
        original = getattr(obj, method)

        def wrapper(*args, __fn=original, __label=label, **kwargs):
            with torch.profiler.record_function(__label):
                return __fn(*args, **kwargs)

        functools.update_wrapper(wrapper, original)
        saved.append((obj, method, obj.__dict__.get(method)))
        setattr(obj, method, wrapper)
        labels.append(label)
    try:
        yield sorted(set(labels))
    finally:
        for obj, method, previous in reversed(saved):
            if previous is None:
                delattr(obj, method)
            else:
                setattr(obj, method, previous)


def profile_calls(fn: Callable[[], object], steps: int, name: str) -> Tuple[Dict[str, object], float]:
    """Profile ``steps`` calls of ``fn`` on CPU (after one warm-up call), each in a ``record_function`` range
    ``name``; also used by ``tools/analysis_tools/profile_oneformer.py``.

    Returns:
        tuple: ``torch.profiler``'s averaged events by key, and the ms per call of ``fn``.
    """
    import torch
    fn()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            with torch.profiler.record_function(name):
                fn()
    events = {e.key: e for e in prof.key_averages()}
    return events, events[name].cpu_time_total / 1000 / steps


def _stage_times(fn, steps: int, labels: Sequence[str]) -> Dict:
    """ms per call of every labelled stage and of the whole ``fn`` (after one warm-up call)."""
    events, total = profile_calls(fn, steps, 'test_step')
    stages = {k: dict(ms=events[k].cpu_time_total / 1000 / steps, calls=events[k].count // steps)
              for k in labels if k in events}
    ops = sorted((e for e in events.values() if e.key.startswith('aten::')), key=lambda e: -e.self_cpu_time_total)
    return dict(test_step_ms=total, stages=stages,
                top_ops=[dict(op=e.key, self_ms=e.self_cpu_time_total / 1000 / steps, calls=e.count // steps)
                         for e in ops[:8]])


def profile_run(spec, cfg, work_dir: str, images: int, steps: int) -> Dict:
    """Profile ``model.test_step`` of a finished run (its checkpoint) on ``images`` val images, one at a time."""
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_checkpoint
    done = load_json(osp.join(work_dir, 'train_done.json'))
    if done is None:
        raise CompareError(f'--profile: {spec.name} has not finished training in {work_dir}')
    library = 'mmdet' if spec.library == 'oneformer' else spec.library
    if library == 'mmseg':
        from mmseg.registry import DATASETS, MODELS
    else:
        from mmdet.registry import DATASETS, MODELS
    with DefaultScope.overwrite_default_scope(library):
        model = MODELS.build(cfg.model)
        load_checkpoint(model, done['checkpoint'], map_location='cpu')
        model.eval()
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
        batches = [pseudo_collate([dataset[i]]) for i in range(min(images, len(dataset)))]
        out = []
        with torch.no_grad(), labelled(model) as labels:
            for batch in batches:
                out.append(_stage_times(lambda b=batch: model.test_step(b), steps, labels))
    stages: Dict[str, Dict] = {}
    for r in out:
        for k, v in r['stages'].items():
            s = stages.setdefault(k, dict(ms=0.0, calls=v['calls']))
            s['ms'] += v['ms'] / len(out)
    return dict(name=spec.name, model=spec.model, tasks=list(spec.tasks), images=len(out), steps=steps,
                test_step_ms=sum(r['test_step_ms'] for r in out) / len(out), stages=stages, top_ops=out[0]['top_ops'])


def profile_table(profiles: Sequence[Dict]) -> str:
    """Markdown: one column per run, one row per stage (ms per image, calls per image)."""
    labels: List[str] = []
    for p in profiles:
        labels += [k for k in p['stages'] if k not in labels]
    head = '| stage (ms / image) | ' + ' | '.join(f'{p["name"]}' for p in profiles) + ' |'
    rows = [head, '|---|' + '---:|' * len(profiles),
            '| **test_step** | ' + ' | '.join(f'**{p["test_step_ms"]:.1f}**' for p in profiles) + ' |']
    for k in labels:
        cells = []
        for p in profiles:
            s = p['stages'].get(k)
            cells.append('–' if s is None else f'{s["ms"]:.1f}' + (f' ({s["calls"]}×)' if s['calls'] > 1 else ''))
        rows.append(f'| {k} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(rows)


def pick(runs, names: Sequence[str]) -> List[Tuple]:
    """The runs named (all of ``names`` must be among ``runs``)."""
    by_name = {r.name: r for r in runs}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise CompareError(f'--profile: unknown run(s) {missing}; requested runs are {sorted(by_name)}')
    return [by_name[n] for n in names]
