"""``panopticapi`` is not on PyPI; mmdet's panoptic loader, metric and inferencer import it.

They need ``rgb2id``, ``id2rgb``, ``PQStat``, ``OFFSET`` and ``VOID``. cityscapesscripts ships the same COCO panoptic
protocol, so its implementation is exposed under the ``panopticapi`` names when the real package is absent, with
this package's PNG codec (:mod:`oneformer.structures.panoptic_png`) as ``panopticapi.utils``. mmdet
modules imported earlier cached ``None`` for those names (``try: import ... except ImportError``), so they are
filled in.

Can go when: panopticapi is installable from PyPI (or mmdet drops the dependency).
"""
import importlib
import sys
import types

from ..structures.panoptic_png import id2rgb, rgb2id


def install_panopticapi_alias() -> bool:
    """Expose cityscapesscripts' COCO-panoptic implementation as ``panopticapi`` if that is missing.

    Returns True if the alias was installed (False when the real panopticapi is importable).
    """
    try:
        spec = importlib.util.find_spec('panopticapi')
    except ValueError:  # already in sys.modules with no spec: our alias
        return False
    if spec is not None:
        return False
    from cityscapesscripts.evaluation import evalPanopticSemanticLabeling as cs_pq

    pkg = types.ModuleType('panopticapi')
    pkg.__path__ = []  # a package, so `from panopticapi import utils` works
    pkg.__doc__ = 'Alias of cityscapesscripts.evaluation.evalPanopticSemanticLabeling (installed by oneformer).'
    utils = types.ModuleType('panopticapi.utils')
    utils.rgb2id = rgb2id
    utils.id2rgb = id2rgb
    evaluation = types.ModuleType('panopticapi.evaluation')
    for name in ('OFFSET', 'VOID', 'PQStat', 'PQStatCat', 'pq_compute_single_core', 'pq_compute_multi_core'):
        setattr(evaluation, name, getattr(cs_pq, name))
    pkg.utils, pkg.evaluation = utils, evaluation
    sys.modules.update({'panopticapi': pkg, 'panopticapi.utils': utils, 'panopticapi.evaluation': evaluation})
    _patch_imported_mmdet_modules()
    return True


def _patch_imported_mmdet_modules() -> None:
    """mmdet modules imported before the alias cached ``None`` for panopticapi names: fill them in."""
    evaluation = sys.modules['panopticapi.evaluation']
    utils = sys.modules['panopticapi.utils']
    patches = {
        'mmdet.evaluation.functional.panoptic_utils': dict(
            PQStat=evaluation.PQStat, rgb2id=utils.rgb2id, VOID=evaluation.VOID, OFFSET=evaluation.OFFSET),
        'mmdet.evaluation.metrics.coco_panoptic_metric': dict(
            panopticapi=sys.modules['panopticapi'], PQStat=evaluation.PQStat, VOID=evaluation.VOID,
            id2rgb=utils.id2rgb, rgb2id=utils.rgb2id),
        'mmdet.apis.det_inferencer': dict(VOID=evaluation.VOID, id2rgb=utils.id2rgb),
    }
    for mod_name, attrs in patches.items():
        mod = sys.modules.get(mod_name)
        if mod is not None:
            for k, v in attrs.items():
                setattr(mod, k, v)
