"""From the command's settings to each run's final config (the same function in the parent and in each run's
process, so the config a run trains with is the one its signature was made of)."""
import functools
from typing import Dict, Optional, Sequence, Tuple

from .adapt import build_run_config
from .backbone import demo_backbone, parse_backbone
from .dataset import DatasetInfo, read_dataset
from .peers import RunSpec


@functools.lru_cache(maxsize=4)
def _oneformer_cfg(path: str):
    from mmengine.config import Config
    return Config.fromfile(path)


def shared_setup(dataset: str, data_root: Optional[str], instance_anns: Sequence[Optional[str]],
                 oneformer_config: str) -> Tuple[DatasetInfo, object]:
    """The shared dataset and the OneFormer config (whose schedule and backbone are the shared ones)."""
    return read_dataset(dataset, data_root, tuple(instance_anns)), _oneformer_cfg(oneformer_config)


def backbone_for(spec: RunSpec, oneformer_cfg, backbone: Optional[str]) -> Optional[Dict]:
    """The shared backbone as ``spec``'s library builds it (None for OneFormer without ``--backbone``: its own is
    the demo's)."""
    if backbone:
        return parse_backbone(backbone)
    if spec.library == 'oneformer':
        return None
    return demo_backbone(oneformer_cfg, spec.library)


def config_for(spec: RunSpec, job: Dict, setup: Optional[Tuple[DatasetInfo, object]] = None):
    """The run's config from a job dict (the command's settings; see :func:`run.job_for`)."""
    ds, one = setup or shared_setup(job['dataset'], job['data_root'], job['instance_anns'], job['oneformer_config'])
    iters = job['iters']
    return build_run_config(spec, ds, one, backbone_for(spec, one, job['backbone']), iters, job['batch'],
                            job['seed'], job['checkpoint_interval'] or max(iters // 4, 1),
                            min(job['log_interval'], iters), job.get('rois_per_image'))
