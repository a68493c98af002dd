"""setup_cpu_distributed: the config edits that let `--launcher pytorch` run on CPU (1-process gloo group)."""
import socket

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config

from oneformer.apis import setup_cpu_distributed


def _port() -> str:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


@pytest.fixture
def torchrun_env(monkeypatch):
    for key, value in dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=_port()).items():
        monkeypatch.setenv(key, value)
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def _cfg(**kwargs) -> Config:
    return Config(dict(launcher='pytorch', env_cfg=dict(dist_cfg=dict(backend='nccl')), **kwargs))


def test_noop_without_pytorch_launcher():
    cfg = Config(dict(launcher='none', env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    assert setup_cpu_distributed(cfg).env_cfg.dist_cfg.backend == 'nccl'
    assert 'model_wrapper_cfg' not in cfg and not dist.is_initialized()


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_gloo_group_and_ddp_without_device_ids(torchrun_env):
    cfg = setup_cpu_distributed(_cfg(find_unused_parameters=True))
    assert dist.is_initialized() and dist.get_backend() == 'gloo' and dist.get_world_size() == 1
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.to_dict() == dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                                                   find_unused_parameters=True, device_ids=None)
    # the wrapper the runner builds from it accepts a CPU module
    from mmengine.model import BaseModel
    from mmengine.registry import MODEL_WRAPPERS

    class Tiny(BaseModel):

        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)

        def forward(self, *args, **kwargs):
            return self.fc(args[0])

    wrapped = MODEL_WRAPPERS.build(cfg.model_wrapper_cfg, default_args=dict(module=Tiny(), device_ids=[0]))
    assert wrapped.device_ids is None
    # a second call (e.g. train then test in one process) keeps the existing group
    assert setup_cpu_distributed(_cfg()).env_cfg.dist_cfg.backend == 'gloo'


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_custom_wrapper_kept(torchrun_env):
    cfg = setup_cpu_distributed(_cfg(model_wrapper_cfg=dict(type='MMDistributedDataParallel',
                                                            find_unused_parameters=True)))
    assert cfg.model_wrapper_cfg.find_unused_parameters is True and cfg.model_wrapper_cfg.device_ids is None
    cfg = setup_cpu_distributed(_cfg(model_wrapper_cfg=dict(type='MMFullyShardedDataParallel')))
    assert 'device_ids' not in cfg.model_wrapper_cfg  # not a DDP subclass: left alone


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_missing_torchrun_env(monkeypatch):
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RuntimeError, match='torchrun'):
        setup_cpu_distributed(_cfg())


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_sync_bn_becomes_bn_on_cpu(torchrun_env):
    model = dict(type='OneFormer', backbone=dict(type='ResNet', norm_cfg=dict(type='SyncBN', requires_grad=True)),
                 panoptic_head=dict(layers=[dict(norm_cfg=dict(type='mmdet.SyncBN')), dict(norm_cfg=dict(type='GN'))]))
    with pytest.warns(UserWarning, match='SyncBN'):
        cfg = setup_cpu_distributed(_cfg(model=model, sync_bn='torch'))
    assert cfg.model.backbone.norm_cfg.to_dict() == dict(type='BN', requires_grad=True)
    assert [layer.norm_cfg.type for layer in cfg.model.panoptic_head.layers] == ['BN', 'GN']
    assert cfg.sync_bn is None
