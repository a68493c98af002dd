"""Markdown tables of the benchmark JSON."""
from typing import Dict, List

TITLES = {
    'end2end': 'end2end end-to-end inference (pre + forward + post, panoptic)',
    'forward': 'forward forward latency',
    'three_tasks': 'three_tasks evaluate 3 tasks',
    'batched_tasks': 'batched_tasks 3 task tokens in one decoder call',
    'P4_time': 'train training iteration',
    'P4_memory': 'train training peak memory',
    'pipeline': 'pipeline data pipeline / model throughput',
    'onnx': 'ONNX Runtime end-to-end (pre + forward + post, panoptic, CPU)',
}


def _value(stat: Dict, unit: str) -> str:
    if unit == 's':
        return f'{1000 * stat["median"]:.1f} ms'
    if unit == 'MB':
        return f'{stat["median"]:.0f} MB'
    return f'{stat["median"]:.2f} {unit}'


def rows(results: Dict) -> List[Dict]:
    """Flatten the measure results into table rows (key, entry)."""
    out = []
    for key in ('end2end', 'forward', 'three_tasks', 'batched_tasks'):
        if key in results:
            out.append((key, results[key]))
    if 'train' in results:
        out += [('P4_time', results['train']['time']), ('P4_memory', results['train']['memory'])]
    if 'pipeline' in results:
        out.append(('pipeline', results['pipeline']))
    if 'onnx' in results:
        out.append(('onnx', results['onnx']))
    return out


def _fmt_g(value: float, scale: float, unit: str) -> str:
    return f'{value / scale:.2f} {unit}'


def markdown(report: Dict) -> str:
    """The measure table, then the complexity and paper-parameter tables when present."""
    results = report['results']
    tables = []
    if rows(results):
        lines = ['| measure | oneformer-mm | peer | ratio (ours / peer) | goal | met |',
                 '|---|---:|---:|---:|---:|:---:|']
        for key, e in rows(results):
            lines.append(f'| {TITLES[key]} | {_value(e["ours"], e["unit"])} | {_value(e["peer"], e["unit"])} '
                         f'({e["peer_name"]}) | {e["ratio"]:.2f}x | {e["goal"]} | {"yes" if e["met"] else "no"} |')
        tables.append(lines)
    sides = (results.get('onnx') or {}).get('sides') or {}
    if sides:
        e = results['onnx']
        lines = ['| network run by (same pre- / post-processing) | median | ratio to eager | panoptic pixels differ |',
                 '|---|---:|---:|---:|',
                 f'| PyTorch eager | {_value(e["peer"], "s")} | 1.00x | - |',
                 f'| {e["ours_name"]}, fp32 (GridSample) | {_value(e["ours"], "s")} | {e["ratio"]:.2f}x | '
                 f'{e["panoptic_pixels_differ"]} of {e["panoptic_pixels"]} |']
        for side in sides.values():
            lines.append(f'| {side["name"]} | {_value(side["time"], "s")} | {side["ratio"]:.2f}x | '
                         f'{side["panoptic_pixels_differ"]} of {e["panoptic_pixels"]} |')
        tables.append(lines)
    if 'complexity' in results:
        c = results['complexity']
        tables.append([
            '| model (benchmark size) | params | FLOPs |', '|---|---:|---:|',
            f'| oneformer-mm (inference) | {_fmt_g(c["ours"]["params"], 1e6, "M")} | '
            f'{_fmt_g(c["ours"]["flops"], 1e9, "G")} |',
            f'| mmdet Mask2Former | {_fmt_g(c["peer"]["params"], 1e6, "M")} | {_fmt_g(c["peer"]["flops"], 1e9, "G")} |',
            f'| ratio | {c["params_ratio"]:.3f}x | {c["flops_ratio"]:.3f}x (paper ~{c["paper_flops_ratio"]}x) |'])
    if 'paper_params' in results:
        lines = ['| backbone (COCO, 150 queries, 133 classes) | ours, inference | ours + text mapper '
                 '| Mask2Former, same sizes | paper |', '|---|---:|---:|---:|---:|']
        for name, r in results['paper_params'].items():
            lines.append(f'| {name} | {r["ours_inference"] / 1e6:.1f} M | {r["ours_with_text_mapper"] / 1e6:.1f} M '
                         f'| {r["mask2former"] / 1e6:.1f} M | {r["paper"] / 1e6:.0f} M |')
        tables.append(lines)
    return '\n\n'.join('\n'.join(t) for t in tables)
