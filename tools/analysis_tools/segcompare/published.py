"""``--published``: the leaderboard of published numbers, no training. Every segmentation entry for a dataset in the
model zoos' metafiles, read through the installed packages (mmdet's and mmseg's ``.mim/model-index.yml`` and the
``metafile.yml`` files it imports) and ours (``model-index.yml`` -> ``configs/oneformer/metafile.yml``)."""
import os.path as osp
import re
from typing import Dict, List, Optional, Tuple

from .common import REPO, CompareError

DATASETS = {'ade20k': 'ADE20K', 'coco': 'COCO', 'cityscapes': 'Cityscapes'}
TASKS = {'Panoptic Segmentation': ('panoptic', 'PQ'), 'Instance Segmentation': ('instance', 'mask AP'),
         'Semantic Segmentation': ('semantic', 'mIoU')}
TASK_ORDER = ('panoptic', 'instance', 'semantic')


def model_indexes() -> List[Tuple[str, str]]:
    """(source, model-index.yml path) of mmdet, mmseg (installed ``.mim`` folders) and this project.

    Raises:
        CompareError: An installed package without its ``.mim/model-index.yml``.
    """
    from mmengine.utils import get_installed_path
    out = []
    for package in ('mmdet', 'mmseg'):
        path = osp.join(get_installed_path(package), '.mim', 'model-index.yml')
        if not osp.isfile(path):
            raise CompareError(f'{package} is installed without {path} (its model zoo metafiles)')
        out.append((package, path))
    ours = osp.join(REPO, 'model-index.yml')
    if osp.isfile(ours):
        out.append(('oneformer', ours))
    return out


def _load_yaml(path: str):
    import yaml
    with open(path) as f:
        return yaml.safe_load(f) or {}


def _as_list(value) -> List:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _name_fields(name: str) -> Dict[str, Optional[str]]:
    """Backbone, schedule and crop from an OpenMMLab model name (``{algorithm}_{backbone}_..._{schedule}_{data}``)."""
    parts = name.split('_')
    crop = re.search(r'(\d+x\d+)$', name)
    schedule = re.search(r'(?:^|[_-])(\d+k|\d+e|\d+x|lsj-\d+e|ms-\d+x|\d+ep)(?=[_-]|$)', name)
    return dict(backbone=parts[1] if len(parts) > 1 else None, crop=crop.group(1) if crop else None,
                schedule=schedule.group(1) if schedule else None)


def _params(meta: Dict) -> Optional[str]:
    for key in ('Parameters', 'Params', 'Params (M)', '#Params'):
        if key in meta:
            return str(meta[key])
    return None


def published(dataset: str) -> List[Dict]:
    """Every panoptic / instance / semantic segmentation result for ``dataset`` in the metafiles, one row per
    (model, task), with its metric(s), backbone, crop, schedule, params (where the metafile has them), config and
    source metafile.

    Raises:
        CompareError: An unknown dataset name.
    """
    if dataset.lower() not in DATASETS:
        raise CompareError(f'--published {dataset!r}: one of {sorted(DATASETS)}')
    want = DATASETS[dataset.lower()].lower()
    rows = []
    for source, index in model_indexes():
        root = osp.dirname(index)
        for rel in _as_list(_load_yaml(index).get('Import')):
            metafile = osp.join(root, rel)
            if not osp.isfile(metafile):
                continue
            meta = _load_yaml(metafile)
            collections = {c.get('Name'): c for c in _as_list(meta.get('Collections'))}
            for model in _as_list(meta.get('Models')):
                for result in _as_list(model.get('Results')):
                    if str(result.get('Dataset', '')).lower() != want or result.get('Task') not in TASKS:
                        continue
                    task, main = TASKS[result['Task']]
                    metrics = result.get('Metrics') or {}
                    if main not in metrics:
                        continue
                    name = model.get('Name', '')
                    mmeta = model.get('Metadata') or {}
                    fields = _name_fields(name)
                    arch = mmeta.get('Architecture')
                    if isinstance(arch, list) and len(arch) >= 2:  # mmseg: [backbone, method]
                        fields['backbone'] = str(arch[0])
                    iters = mmeta.get('Iterations') or mmeta.get('Epochs')
                    rows.append(dict(
                        source=source, model=model.get('In Collection') or name, name=name, task=task,
                        metric=main, value=float(metrics[main]),
                        other_metrics={k: v for k, v in metrics.items() if k != main},
                        backbone=fields['backbone'], crop=fields['crop'],
                        schedule=fields['schedule'] or (str(iters) if iters else None),
                        batch=mmeta.get('Batch Size'), params=_params(mmeta),
                        config=model.get('Config'), metafile=osp.relpath(metafile, root) if source != 'oneformer'
                        else osp.relpath(metafile, REPO),
                        collection_paper=(collections.get(model.get('In Collection')) or {}).get('Paper')))
    rows.sort(key=lambda r: (TASK_ORDER.index(r['task']), -r['value']))
    return rows


def published_table(rows: List[Dict], dataset: str) -> str:
    """The published rows as markdown, per task best first, OneFormer's marked."""
    out = [f'Published results on {DATASETS[dataset.lower()]} from the installed model zoos\' metafiles '
           '(mmdet, mmseg, oneformer): **published numbers, not measured here**; each row is what its metafile '
           'says for that model and task.', '',
           '| task | metric | value | model | backbone | crop | schedule | batch | params | source | config |',
           '|---|---|---:|---|---|---|---|---:|---|---|---|']
    for r in rows:
        model = f'**{r["model"]}**' if r['source'] == 'oneformer' else r['model']
        out.append(f'| {r["task"]} | {r["metric"]} | {r["value"]:.1f} | {model} | {r["backbone"] or "–"} | '
                   f'{r["crop"] or "–"} | {r["schedule"] or "–"} | {r["batch"] or "–"} | {r["params"] or "–"} | '
                   f'{r["source"]}: {r["metafile"]} | {r["config"] or "–"} |')
    return '\n'.join(out)
