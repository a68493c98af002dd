"""mmengine checkpoints load and resume under torch >= 2.6 (weights_only=True) via an allow-list."""
import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmengine.runner import CheckpointLoader, Runner

import oneformer  # noqa: F401  (installs the allow-list)
from oneformer.compat import CheckpointReadError


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.linear(inputs)  # default_collate already stacked the batch
        if mode == 'loss':
            return dict(loss=((out.squeeze(-1) - labels)**2).mean())
        return out


class ToyDataset(torch.utils.data.Dataset):
    metainfo = dict(classes=('a', 'b'))

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.full((2, ), float(i)), labels=torch.tensor(float(i % 2)))


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """The runners here make ``mmengine`` the current default scope; later tests build mmdet modules by name."""
    before = DefaultScope.get_current_instance()
    yield
    if before is not None:
        DefaultScope.get_instance(f'restore-{id(before)}-{len(DefaultScope._instance_dict)}',
                                  scope_name=before.scope_name)


def _runner(work_dir, max_iters, resume=False, load_from=None):
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(dataset=ToyDataset(), sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=2, num_workers=0, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False)),
        resume=resume, load_from=load_from,
        default_scope='mmengine', experiment_name=f'run{max_iters}{resume}')


def test_save_load_resume_roundtrip(tmp_path):
    runner = _runner(tmp_path, 4)
    runner.train()
    # numpy scalars/arrays and mmengine objects in the checkpoint, as mmengine writes them
    runner.message_hub.update_info('np_scalar', np.float64(1.5))
    runner.message_hub.update_info('np_array', np.arange(3, dtype=np.int64))
    runner.save_checkpoint(str(tmp_path), 'ckpt.pth')
    # mmengine's loader (used by load_from / resume / init_cfg) reads it with weights_only=True
    ckpt = CheckpointLoader.load_checkpoint(str(tmp_path / 'ckpt.pth'), map_location='cpu')
    assert ckpt['meta']['iter'] == 4
    hub = ckpt['message_hub']
    assert 'train/loss' in hub['log_scalars']
    assert type(hub['log_scalars']['train/loss']).__name__ == 'HistoryBuffer'
    assert hub['runtime_info']['np_scalar'] == 1.5
    assert (hub['runtime_info']['np_array'] == np.arange(3)).all()

    # resume continues from iteration 4 with identical weights and optimizer state
    resumed = _runner(tmp_path / 'r', 6, load_from=str(tmp_path / 'ckpt.pth'), resume=True)
    resumed.train()
    assert resumed.iter == 6
    for p in resumed.model.parameters():
        assert torch.isfinite(p).all()

    # load_from (no resume) gives the saved weights
    loaded = _runner(tmp_path / 'l', 4, load_from=str(tmp_path / 'ckpt.pth'))
    loaded.load_or_resume()
    torch.testing.assert_close(loaded.model.linear.weight, runner.model.linear.weight)


def test_safety_is_not_switched_off(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'obj': ToyDataset()}, path)
    # an arbitrary class is rejected, by torch.load and by mmengine's loader alike
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(path)
    with pytest.raises(CheckpointReadError, match=rf'cannot read checkpoint {path}: it holds an object of type '
                       r'.*ToyDataset.* torch.serialization.add_safe_globals') as e:
        CheckpointLoader.load_checkpoint(str(path))
    assert 'weights_only=False' not in str(e.value)
    # and the allow-list is scoped to mmengine's loaders: plain torch.load still refuses mmengine objects
    from mmengine.logging import HistoryBuffer
    torch.save({'hb': HistoryBuffer()}, tmp_path / 'hb.pth')
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(tmp_path / 'hb.pth')
    assert isinstance(CheckpointLoader.load_checkpoint(str(tmp_path / 'hb.pth'))['hb'], HistoryBuffer)


@pytest.mark.parametrize('damage', ['truncated', 'tail-cut', 'start-only', 'garbage', 'empty'])
def test_broken_checkpoint_names_the_file_without_weights_only_advice(tmp_path, damage):
    runner = _runner(tmp_path, 2)
    runner.train()
    runner.save_checkpoint(str(tmp_path), 'good.pth')
    data = (tmp_path / 'good.pth').read_bytes()
    broken = {'truncated': data[:len(data) // 2], 'tail-cut': data[:-10], 'start-only': data[:64],
              'garbage': b'not a checkpoint ' * 20, 'empty': b''}[damage]
    path = tmp_path / 'iter_4.pth'
    path.write_bytes(broken)
    message = rf'cannot read checkpoint {path}: the file is truncated, damaged or not a PyTorch checkpoint'
    with pytest.raises(CheckpointReadError, match=message) as e:
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert 'weights_only' not in str(e.value)
    # what load_from / resume of tools/train.py and tools/test.py run into
    with pytest.raises(CheckpointReadError, match=message):
        _runner(tmp_path / 'resume', 4, load_from=str(path), resume=True).load_or_resume()
    with pytest.raises(FileNotFoundError, match='can not be found'):  # a missing file keeps mmengine's error
        CheckpointLoader.load_checkpoint(str(tmp_path / 'missing.pth'))
