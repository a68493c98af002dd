"""Resolve every config under a folder and dump (or compare) what mmengine makes of it.

    python tools/misc/config_dump.py dump configs before.json          # Config.fromfile(...).to_dict() of each
    python tools/misc/config_dump.py compare before.json after.json    # per config: keys added, removed, changed

For refactors of the config tree (inheritance, shared bases): a change of layout must not change what a config
resolves to, except where intended; ``compare`` lists every difference by config and dotted key.
"""
import argparse
import glob
import json
import os.path as osp
import sys
from typing import Dict, Iterator, Tuple

from mmengine.config import Config


def resolve_all(folder: str) -> Dict[str, object]:
    """``{relative path: to_dict()}`` of every ``*.py`` config below ``folder`` (bases under ``_base_`` included);
    a config that fails to load records its error."""
    out = {}
    for path in sorted(glob.glob(osp.join(folder, '**', '*.py'), recursive=True)):
        rel = osp.relpath(path, folder)
        try:
            out[rel] = json.loads(json.dumps(Config.fromfile(path).to_dict(), default=repr))
        except Exception as e:  # recorded, so that a comparison shows it
            out[rel] = {'__error__': f'{type(e).__name__}: {e}'}
    return out


def diff(a, b, prefix: str = '') -> Iterator[Tuple[str, object, object]]:
    """(dotted key, before, after) of every difference between two JSON trees."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            sub = f'{prefix}.{key}' if prefix else str(key)
            if key not in a:
                yield sub, '<absent>', b[key]
            elif key not in b:
                yield sub, a[key], '<absent>'
            else:
                yield from diff(a[key], b[key], sub)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from diff(x, y, f'{prefix}.{i}')
    elif a != b:
        yield prefix, a, b


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    d = sub.add_parser('dump', help='resolve every config of FOLDER into OUT (JSON)')
    d.add_argument('folder')
    d.add_argument('out')
    c = sub.add_parser('compare', help='list the differences between two dumps')
    c.add_argument('before')
    c.add_argument('after')
    c.add_argument('--ignore', nargs='*', default=[], help='dotted key prefixes to leave out (intended changes)')
    args = parser.parse_args(argv)
    if args.command == 'dump':
        dumped = resolve_all(args.folder)
        with open(args.out, 'w', encoding='utf-8') as f:
            json.dump(dumped, f, indent=1, sort_keys=True)
        print(f'{len(dumped)} configs resolved into {args.out}')
        return 0
    with open(args.before, encoding='utf-8') as f:
        before = json.load(f)
    with open(args.after, encoding='utf-8') as f:
        after = json.load(f)
    changed = 0
    for name in sorted(set(before) | set(after)):
        if name not in after or name not in before:
            print(f'{name}: {"removed" if name not in after else "added"}')
            changed += 1
            continue
        rows = [r for r in diff(before[name], after[name]) if not r[0].startswith(tuple(args.ignore))]
        for key, x, y in rows:
            print(f'{name}: {key}: {json.dumps(x)[:150]} -> {json.dumps(y)[:150]}')
        changed += bool(rows)
    print(f'{changed} of {len(set(before) | set(after))} configs differ')
    return 0


if __name__ == '__main__':
    sys.exit(main())
