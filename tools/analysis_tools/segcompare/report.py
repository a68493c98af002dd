"""The leaderboard: one table (a row per training run, then a total per model family) and one picture (quality vs
inference time, a panel per task)."""
from typing import Dict, List, Optional, Sequence

from .common import ALL_TASKS, METRICS, TASK_METRIC


def summarize_models(runs: Sequence[Dict]) -> List[Dict]:
    """One entry per model family: its runs' training time, iterations and stored parameters added up, each metric
    from its run for that task, the FLOPs of one forward of each of its models (``flops_per_forward``), the time
    to get every task it covers for one image (``inference_s_per_image``: its runs' times added up; None if one is
    unknown) and the largest peak memory of its runs."""
    models: Dict[str, Dict] = {}
    for r in runs:
        m = models.setdefault(r['model'], dict(name=r['model'], runs=[], tasks=[], iterations=0, train_seconds=0.0,
                                               train_cpu_seconds=0.0, params=0, flops_per_forward=[],
                                               inference_s_per_image=0.0, peak_rss_mb=None,
                                               **{k: None for k in METRICS}))
        m['runs'].append(r['name'])
        m['tasks'] += [t for t in r['tasks'] if t not in m['tasks']]
        m['iterations'] += r['iterations']
        m['train_seconds'] += r['train_seconds']
        m['train_cpu_seconds'] += r['train_cpu_seconds']
        m['params'] += r['params_inference']
        m['flops_per_forward'].append(r['flops'])
        if m['inference_s_per_image'] is not None and r['inference_s_per_image'] is not None:
            m['inference_s_per_image'] += r['inference_s_per_image']
        else:
            m['inference_s_per_image'] = None
        if r.get('peak_rss_mb') is not None:
            m['peak_rss_mb'] = max(m['peak_rss_mb'] or 0.0, r['peak_rss_mb'])
        for k in METRICS:
            if r[k] is not None:
                m[k] = r[k]
    for m in models.values():
        m['trainings'] = len(m['runs'])
    return list(models.values())


def _flops_total(flops: Sequence[Optional[int]]) -> str:
    """GFLOPs of a model's forwards: ``0.26 ×3`` for three equal ones, ``a + b`` otherwise, an en dash if unknown."""
    if not flops or any(f is None for f in flops):
        return '–'
    values = [f'{f * 1e-9:.2f}' for f in flops]
    return values[0] + (f' ×{len(values)}' if len(values) > 1 else '') if len(set(values)) == 1 else ' + '.join(values)


def _num(value, fmt: str, scale: float = 1.0) -> str:
    """``value * scale`` formatted with ``fmt``, an en dash for None."""
    return '–' if value is None else format(value * scale, fmt)


def markdown_table(runs: Sequence[Dict], models: Sequence[Dict]) -> str:
    """The leaderboard as markdown: a row per training run (grouped by task, OneFormer first), then a total row
    per model family with more than one run."""
    head = ('| model | library | tasks | PQ | AP | mIoU | params | GFLOPs | inference s/img | training: wall (CPU) '
            '| peak mem | trainings for 3 tasks |\n'
            '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    rows = [head]
    for r in runs:
        rows.append(f'| {r["model"]} | {r["library"]} | {", ".join(r["tasks"])} | '
                    + ' | '.join(_num(r[k], '.1f') for k in METRICS) + ' | '
                    f'{r["params_inference"] / 1e6:.2f} M | {_num(r["flops"], ".2f", 1e-9)} | '
                    f'{_num(r["inference_s_per_image"], ".3f")} | '
                    f'{r["train_seconds"]:.0f} s ({r["train_cpu_seconds"]:.0f} s) | '
                    f'{_num(r.get("peak_rss_mb"), ".0f")} MiB | {r["trainings_for_3_tasks"]} |')
    for m in models:
        if m['trainings'] < 2:
            continue
        rows.append(f'| **{m["name"]}** | total: {m["trainings"]} runs | {", ".join(m["tasks"])} | '
                    + ' | '.join(_num(m[k], '.1f') for k in METRICS) + ' | '
                    f'{m["params"] / 1e6:.2f} M | {_flops_total(m["flops_per_forward"])} | '
                    f'{_num(m["inference_s_per_image"], ".3f")} | {m["train_seconds"]:.0f} s '
                    f'({m["train_cpu_seconds"]:.0f} s) | {_num(m.get("peak_rss_mb"), ".0f")} MiB | '
                    f'{m["trainings"]} |')
    return '\n'.join(rows)


def order_runs(runs: Sequence[Dict]) -> List[Dict]:
    """OneFormer first, then the peers by task (panoptic, instance, semantic), in the order they were given."""
    def key(item):
        i, r = item
        return (0 if len(r['tasks']) > 1 else 1 + ALL_TASKS.index(r['tasks'][0]), i)
    return [r for _, r in sorted(enumerate(runs), key=key)]


def plot(runs: Sequence[Dict], path: str, title: str) -> str:
    """Quality vs inference time, one panel per task: every run evaluated on the task is a point (marker area ~
    parameters); OneFormer's time is that of its one pass producing all three tasks."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    cmap = plt.get_cmap('tab20')
    names = sorted({r['model'] for r in runs}, key=lambda n: (n != 'OneFormer', n))
    colors = {n: ('#d62728' if n == 'OneFormer' else cmap(i % 20)) for i, n in enumerate(names)}
    for ax, task in zip(axes, ALL_TASKS):
        metric = TASK_METRIC[task]
        points = [r for r in runs if task in r['tasks'] and r[metric] is not None and r['inference_s_per_image']]
        for r in points:
            size = 30 + 40 * r['params_inference'] / 1e6
            ax.scatter(r['inference_s_per_image'] * 1e3, r[metric], s=size, color=colors[r['model']],
                       edgecolor='black' if r['model'] == 'OneFormer' else 'none', zorder=3,
                       marker='*' if r['model'] == 'OneFormer' else 'o')
            label = r['model'] + (' (3 tasks)' if len(r['tasks']) > 1 else '')
            ax.annotate(label, (r['inference_s_per_image'] * 1e3, r[metric]), fontsize=7, xytext=(4, 3),
                        textcoords='offset points')
        ax.set_xlabel('inference ms / image (test_step, 1 image)')
        ax.set_ylabel(f'{metric} (%)')
        ax.set_title(f'{task}: {len(points)} model{"s" * (len(points) != 1)}', fontsize=10)
        ax.grid(alpha=0.3)
        if not points:
            ax.text(0.5, 0.5, 'no finished run', ha='center', va='center', transform=ax.transAxes)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
