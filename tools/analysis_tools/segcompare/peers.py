"""Which runs a comparison makes: OneFormer (one joint training) and the peers, each an mmdet / mmseg config given
by name (``mmdet::solov2/solov2_r50_fpn_1x_coco.py``) or path, with its library, task and display name read from
the config itself."""
import os.path as osp
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .common import ALL_TASKS, COMPARE_CONFIGS, REPO, CompareError


@dataclass(frozen=True)
class RunSpec:
    """One training run of the comparison.

    Attributes:
        name: Folder name of the run under the work dir (unique).
        model: Model family shown in the table (``OneFormer``, ``Mask R-CNN``, ``Mask2Former``, ...); runs of one
            family are added up into a model total.
        library: ``oneformer``, ``mmdet`` or ``mmseg``: whose loop, dataset class and metric the run uses.
        tasks: Tasks the run trains on and is evaluated for.
        config: The config as given (``mmdet::...`` name or path).
        kind: ``oneformer``, ``panoptic``, ``instance`` or ``semantic`` (what the run reads).
        path: The config file (absolute).
    """
    name: str
    model: str
    library: str
    tasks: Tuple[str, ...]
    config: str
    kind: str
    path: str


def _synthetic_peer(name: str, task: str) -> str:
    return osp.join(COMPARE_CONFIGS, f'{name}_r18-tiny_1xb4-1k_synthetic-{task}-128x128.py')


# The default leaderboard (`make leaderboard`). Mask2Former / MaskFormer: the width-matched configs of
# configs/compare/ (the demo OneFormer's pixel decoder / decoder / query sizes: same architecture family);
# the others: the OpenMMLab recipes at their own neck / head widths. Light variants where a recipe has several.
DEFAULT_PEERS = (
    'mmdet::panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py',
    _synthetic_peer('maskformer', 'panoptic'),
    _synthetic_peer('mask2former', 'panoptic'),
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'mmdet::solov2/solov2-light_r18_fpn_ms-3x_coco.py',  # the light head: the full one's 512-wide towers at
    # COCO's fixed grids (up to 40x40) took 6-7 s per CPU iteration at 128x128
    'mmdet::rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py',
    _synthetic_peer('mask2former', 'instance'),
    'mmseg::fcn/fcn_r50-d8_4xb4-80k_ade20k-512x512.py',
    'mmseg::upernet/upernet_r50_4xb4-80k_ade20k-512x512.py',
    'mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py',
    'mmseg::knet/knet-s3_r50-d8_fcn_8xb2-adamw-80k_ade20k-512x512.py',
    _synthetic_peer('mask2former', 'semantic'),
)

# model.type (mmdet) or decode_head.type (mmseg) -> name in the table
DISPLAY_NAMES = {
    'PanopticFPN': 'Panoptic FPN', 'MaskFormer': 'MaskFormer', 'Mask2Former': 'Mask2Former', 'MaskRCNN': 'Mask R-CNN',
    'SOLOv2': 'SOLOv2', 'SOLO': 'SOLO', 'CondInst': 'CondInst', 'RTMDet': 'RTMDet-Ins', 'CascadeRCNN': 'Cascade R-CNN',
    'HybridTaskCascade': 'HTC', 'QueryInst': 'QueryInst', 'PointRend': 'PointRend', 'YOLACT': 'YOLACT',
    'BoxInst': 'BoxInst', 'FCNHead': 'FCN', 'DepthwiseSeparableASPPHead': 'DeepLabV3+', 'ASPPHead': 'DeepLabV3',
    'UPerHead': 'UPerNet', 'SegformerHead': 'SegFormer', 'IterativeDecodeHead': 'K-Net', 'PSPHead': 'PSPNet',
    'Mask2FormerHead': 'Mask2Former', 'MaskFormerHead': 'MaskFormer', 'SegmenterMaskTransformerHead': 'Segmenter',
    'OCRHead': 'OCRNet', 'DAHead': 'DANet', 'PointHead': 'PointRend', 'LightHamHead': 'SegNeXt',
}


def resolve_config(name: str) -> Tuple[str, str]:
    """The file of a config name and the library that owns it.

    Args:
        name: ``mmdet::path/in/configs.py`` / ``mmseg::...`` (a config of the installed package, read from its
            ``.mim`` folder as mmengine's ``_base_`` does) or a path.

    Returns:
        tuple: (absolute path, ``mmdet`` / ``mmseg`` / ``oneformer``).

    Raises:
        CompareError: Unknown scope, no such file, or a config whose ``default_scope`` is neither.
    """
    from mmengine.config import Config
    if '::' in name:
        scope, rel = name.split('::', 1)
        if scope not in ('mmdet', 'mmseg'):
            raise CompareError(f'peer {name!r}: scope {scope!r} is not supported (mmdet:: or mmseg::)')
        from mmengine.utils import get_installed_path
        path = osp.join(get_installed_path(scope), '.mim', 'configs', rel)
        if not osp.isfile(path):
            raise CompareError(f'peer {name!r}: no such config in the installed {scope} ({path})')
        return path, scope
    path = osp.abspath(name)
    if not osp.isfile(path):
        raise CompareError(f'peer {name!r}: config file not found')
    cfg = Config.fromfile(path)
    if cfg.get('model', {}).get('type') == 'OneFormer':
        return path, 'oneformer'
    scope = cfg.get('default_scope')
    if scope not in ('mmdet', 'mmseg'):
        raise CompareError(f'peer {name!r}: default_scope {scope!r}; a peer is an mmdet or mmseg config')
    return path, scope


def _mmdet_kind(cfg, name: str) -> str:
    """panoptic / instance for an mmdet config (read from its training dataset and model); refuses detectors."""
    dataset = cfg.train_dataloader.dataset
    while 'dataset' in dataset:  # RepeatDataset / MultiImageMixDataset wrappers
        dataset = dataset.dataset
    if 'Panoptic' in dataset.get('type', ''):
        return 'panoptic'
    model = cfg.model
    masks = any(k in model for k in ('mask_head', 'panoptic_head')) or 'mask_head' in model.get('roi_head', {}) or \
        'Ins' in model.get('bbox_head', {}).get('type', '') or 'Cond' in model.get('bbox_head', {}).get('type', '')
    if not masks:
        raise CompareError(f'peer {name!r} ({model.type}) predicts no masks: a detector, not a segmentor')
    return 'instance'


def display_name(cfg, library: str) -> str:
    """The model family's name for the table: from ``model.type`` (mmdet) or the decode head's type (mmseg)."""
    if library == 'mmseg':
        head = cfg.model.get('decode_head') or {}
        head_type = head[0]['type'] if isinstance(head, (list, tuple)) else head.get('type', '')
        return DISPLAY_NAMES.get(head_type, head_type or cfg.model.type)
    return DISPLAY_NAMES.get(cfg.model.type, cfg.model.type)


def _run_name(path: str, model: str, task: str, taken: Sequence[str]) -> str:
    """Short unique folder name: ``<model>_<task>`` (``mask2former_panoptic``), the config's stem if taken."""
    name = re.sub(r'[^a-z0-9]+', '', model.lower().replace('+', 'plus')) + f'_{task}'
    return name if name not in taken else osp.splitext(osp.basename(path))[0]


def peer_spec(name: str, taken: Sequence[str] = ()) -> RunSpec:
    """The run of one peer config (name or path): library, task, display name and folder read from the config.

    Raises:
        CompareError: The config cannot be a peer (unknown scope, not found, a detector without masks, OneFormer).
    """
    from mmengine.config import Config
    path, library = resolve_config(name)
    if library == 'oneformer':
        raise CompareError(f'peer {name!r} is a OneFormer config; pass it as --oneformer-config')
    cfg = Config.fromfile(path)
    kind = 'semantic' if library == 'mmseg' else _mmdet_kind(cfg, name)
    model = display_name(cfg, library)
    shown = osp.relpath(path, REPO) if '::' not in name and path.startswith(REPO + osp.sep) else name
    return RunSpec(_run_name(path, model, kind, taken), model, library, (kind, ), shown, kind, path)


def oneformer_run(config: str) -> RunSpec:
    """The joint OneFormer run with model config ``config``."""
    return RunSpec('oneformer', 'OneFormer', 'oneformer', ALL_TASKS, osp.relpath(config, REPO)
                   if osp.abspath(config).startswith(REPO) else config, 'oneformer', osp.abspath(config))


def requested_runs(oneformer_config: str, peers: Optional[Sequence[str]] = None,
                   tasks: Sequence[str] = ALL_TASKS) -> List[RunSpec]:
    """OneFormer, then the peers (``DEFAULT_PEERS`` where ``peers`` is None or holds ``default``) whose task is in
    ``tasks``, in the order given."""
    names: List[str] = []
    for p in (peers if peers else ['default']):
        names.extend(DEFAULT_PEERS if p == 'default' else [p])
    runs = [oneformer_run(oneformer_config)]
    for n in names:
        spec = peer_spec(n, [r.name for r in runs])
        if spec.kind in tasks:
            runs.append(spec)
    return runs


def display_config(spec: RunSpec) -> str:
    """The config as a short string for tables: the ``mmdet::`` name or the path relative to the repository."""
    if '::' in spec.config:
        return spec.config
    return osp.relpath(spec.path, REPO) if spec.path.startswith(REPO) else spec.path


def runs_by_name(runs: Sequence[RunSpec]) -> Dict[str, RunSpec]:
    return {r.name: r for r in runs}
