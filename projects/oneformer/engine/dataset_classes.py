"""Which classes the datasets of a config actually use, and a top-level ``metainfo`` that never reaches them.

mmengine evaluates each ``_base_`` file before the config that inherits it, so ``train_dataloader.dataset.metainfo``
of a base holds the base's ``metainfo``; a config that assigns a new top-level ``metainfo`` (e.g.
``metainfo = coco_panoptic_classes(json, ['person', 'grass', 'sky'])``) changes only that variable, and training
would silently use the base's classes. ``tools/train.py`` / ``tools/test.py`` refuse such a config
(:func:`check_metainfo_applied`) and ``tools/misc/check_dataset.py`` reports it; the fix is to set the ``metainfo``
on the datasets too.
"""
from typing import List, Optional, Sequence, Tuple

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
_FIX = ('set it on the datasets too, e.g. train_dataloader = dict(dataset=dict(metainfo=metainfo)), '
        'val_dataloader = dict(dataset=dict(metainfo=metainfo)), test_dataloader = val_dataloader (and the model\'s '
        'num_things_classes / num_stuff_classes from it; see the README, "Your own data")')


def _shorten(names: Sequence[str], n: int = 8) -> str:
    names = tuple(names)
    shown = ', '.join(map(str, names[:n]))
    return f'({shown}{f", ... {len(names) - n} more" if len(names) > n else ""})'


def describe_classes(metainfo: Optional[dict]) -> str:
    """'3 classes (person, grass, sky): 1 thing (person), 2 stuff (grass, sky)', or 'no classes'."""
    classes = tuple((metainfo or {}).get('classes') or ())
    if not classes:
        return 'no classes'
    text = f'{len(classes)} classes {_shorten(classes)}'
    things, stuff = (tuple(metainfo.get(k) or ()) for k in ('thing_classes', 'stuff_classes'))
    if things or stuff:
        text += f': {len(things)} thing {_shorten(things)}, {len(stuff)} stuff {_shorten(stuff)}'
    return text


def dataset_cfgs(cfg) -> List[Tuple[str, dict]]:
    """(where, dataset config) of each dataloader's annotated datasets, dataset wrappers unwrapped."""
    found = []

    def walk(ds, where):
        if not isinstance(ds, dict):
            return
        if isinstance(ds.get('datasets'), (list, tuple)):
            for i, sub in enumerate(ds['datasets']):
                walk(sub, f'{where}.datasets[{i}]')
        elif isinstance(ds.get('dataset'), dict):
            walk(ds['dataset'], f'{where}.dataset')
        else:
            found.append((where, ds))

    for key in LOADERS:
        loader = cfg.get(key, None)
        if isinstance(loader, dict) and isinstance(loader.get('dataset'), dict):
            walk(loader['dataset'], f'{key}.dataset')
    return found


def unapplied_metainfo_problems(cfg, loaders: Sequence[str] = LOADERS) -> List[str]:
    """One message per dataset of ``loaders`` whose classes differ from the config's top-level ``metainfo``.

    Nothing is reported when the config has no top-level ``metainfo`` with ``classes``.
    """
    top = cfg.get('metainfo', None)
    if not isinstance(top, dict) or not top.get('classes'):
        return []
    wanted = tuple(top['classes']) if not isinstance(top['classes'], str) else top['classes']
    problems = []
    for where, ds in dataset_cfgs(cfg):
        if not where.startswith(tuple(loaders)):
            continue
        meta = ds.get('metainfo', None) or {}
        got = meta.get('classes', None)
        got = tuple(got) if got is not None and not isinstance(got, str) else got
        if got != wanted:
            have = (f'metainfo classes {got!r}' if isinstance(got, str) else
                    f'{len(got)} classes {_shorten(got)}' if got else 'no metainfo (its default classes)')
            problems.append(f'the config sets metainfo with {describe_classes(top)}, but {where} has {have}: a '
                            'top-level metainfo does not reach datasets defined in a _base_ file (mmengine '
                            f'evaluates the base first); {_FIX}')
    return problems


def check_metainfo_applied(cfg, loaders: Sequence[str] = LOADERS) -> None:
    """Raise ``ValueError`` listing :func:`unapplied_metainfo_problems`, if there are any."""
    problems = unapplied_metainfo_problems(cfg, loaders)
    if problems:
        raise ValueError('the datasets do not use the classes of the config\'s metainfo:\n  ' + '\n  '.join(problems))
