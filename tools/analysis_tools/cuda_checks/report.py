"""The report: running one row (errors recorded, never raised), the markdown table, the JSON beside it."""
import json
import os
import os.path as osp
import time
import traceback
from typing import Dict

from .common import CORRECTNESS_GROUPS, Context, Row, Skip


def markdown(report: Dict) -> str:
    """The table: one line per row."""
    lines = ['| row | check | status | result | time |', '| --- | --- | --- | --- | --- |']
    for r in report['rows']:
        status = r['status'] + (f' ({r["reason"]})' if r.get('reason') else '')
        result = r.get('summary') or (r.get('error') or '').split('\n')[0]
        secs = f'{r["seconds"]:.1f} s' if r.get('seconds') is not None else ''
        lines.append(f'| {r["name"]} | {r["title"]} | {status} | {result.replace("|", "/")} | {secs} |')
    return '\n'.join(lines)


def write_report(report: Dict, out: str, t0: float, complete: bool) -> Dict[str, int]:
    """Write the JSON report and the markdown table beside it (``.md``); returns the status counts."""
    from oneformer.utils import load_average
    report.update(complete=complete, wall_time_s=time.perf_counter() - t0, cpu_time_s=time.process_time(),
                  load_average=load_average())
    counts = {s: sum(r['status'] == s for r in report['rows']) for s in ('ok', 'FAIL', 'skipped')}
    report.update(summary=counts, table=markdown(report))
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w', encoding='utf-8') as f:
        json.dump(report, f, indent=1, default=str)
    with open(osp.splitext(out)[0] + '.md', 'w', encoding='utf-8') as f:
        f.write(report['table'] + '\n')
    return counts


def run_row(ctx: Context, row: Row) -> Dict:
    """The report entry of ``row``: status, values, summary, time (a raised error becomes a FAIL entry)."""
    entry = dict(name=row.name, group=row.group, title=row.title, correctness=row.group in CORRECTNESS_GROUPS)
    if row.needs_cuda and not ctx.cuda:
        return dict(entry, status='skipped', reason='no CUDA')
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        ok, values, summary = row.fn(ctx)
        entry.update(status='ok' if ok else 'FAIL', values=values, summary=summary)
    except Skip as e:
        entry.update(status='skipped', reason=str(e))
    except Exception as e:  # one broken row must not hide the others
        entry.update(status='FAIL', error=f'{type(e).__name__}: {e}', traceback=traceback.format_exc()[-6000:])
    entry.update(seconds=time.perf_counter() - start, cpu_seconds=time.process_time() - cpu_start)
    return entry

