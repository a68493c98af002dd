"""Launch helpers for ``tools/train.py`` / ``tools/test.py``: distributed runs on machines without CUDA."""
import datetime
import os
import warnings

import torch
import torch.distributed as dist
from mmengine.config import Config, ConfigDict
from mmengine.registry import MODEL_WRAPPERS
from torch.nn.parallel import DistributedDataParallel


def setup_cpu_distributed(cfg: Config) -> Config:
    """Make ``launcher='pytorch'`` work on CPU: a gloo process group and DDP without device ids.

    mmengine's pytorch launcher calls ``torch.cuda.set_device`` (fails without CUDA) and wraps the model in
    DDP with ``device_ids=[LOCAL_RANK]`` (refused for CPU modules). ``Runner.setup_env`` skips ``init_dist`` when
    a process group already exists, so the group is created here (``env://``: RANK, WORLD_SIZE, MASTER_ADDR,
    MASTER_PORT as set by torchrun), ``env_cfg.dist_cfg.backend`` becomes 'gloo', and a DDP-type
    ``model_wrapper_cfg`` gets ``device_ids=None``. ``SyncBN`` cannot run on CPU tensors, so SyncBN layers of
    ``cfg.model`` become BN (per-process statistics) with a warning. A no-op with CUDA or another launcher.
    """
    if cfg.get('launcher', 'none') != 'pytorch' or torch.cuda.is_available():
        return cfg
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT') if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher pytorch needs the environment variables {missing}: start with torchrun '
                           '(tools/dist_train.sh, tools/dist_test.sh)')
    if cfg.get('env_cfg', None) is None:
        cfg.env_cfg = ConfigDict()
    dist_cfg = cfg.env_cfg.get('dist_cfg', None) or ConfigDict()
    dist_cfg.backend = 'gloo'
    cfg.env_cfg.dist_cfg = dist_cfg
    if not dist.is_initialized():
        kwargs = {}
        if dist_cfg.get('timeout', None) is not None:
            kwargs['timeout'] = datetime.timedelta(seconds=dist_cfg.timeout)
        dist.init_process_group(backend='gloo', init_method='env://', rank=int(os.environ['RANK']),
                                world_size=int(os.environ['WORLD_SIZE']), **kwargs)
    wrapper = cfg.get('model_wrapper_cfg', None)
    if wrapper is None:  # the runner's default wrapper, minus the CUDA device id
        wrapper = ConfigDict(type='MMDistributedDataParallel', broadcast_buffers=False,
                             find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper_type = wrapper.get('type', 'MMDistributedDataParallel')
    wrapper_cls = MODEL_WRAPPERS.get(wrapper_type) if isinstance(wrapper_type, str) else wrapper_type
    if isinstance(wrapper_cls, type) and issubclass(wrapper_cls, DistributedDataParallel):
        wrapper.device_ids = None
    cfg.model_wrapper_cfg = wrapper
    replaced = _sync_bn_to_bn(cfg.get('model', None))
    if cfg.get('sync_bn', None) is not None:  # Runner.wrap_model would convert every BN to SyncBN
        cfg.sync_bn = None
        replaced += 1
    if replaced:
        warnings.warn('distributed training on CPU: SyncBN needs CUDA, using BN (per-process batch statistics)')
    return cfg


def _sync_bn_to_bn(node) -> int:
    """Replace ``type='SyncBN'`` / ``'MMSyncBN'`` norm configs by ``'BN'`` in place; returns how many."""
    count = 0
    if isinstance(node, dict):
        if str(node.get('type', '')).rsplit('.', 1)[-1] in ('SyncBN', 'MMSyncBN'):
            node['type'] = 'BN'
            count += 1
        for value in node.values():
            count += _sync_bn_to_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            count += _sync_bn_to_bn(value)
    return count
