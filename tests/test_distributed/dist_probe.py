"""Test-only hook loaded by the distributed runs (``custom_imports``): records what each rank sees.

Writes ``{out_dir}/rank{r}.json`` with the process group facts, what the contrastive loss gathered, the images of
each rank and the largest parameter difference across ranks after training.
"""
import json
import os.path as osp

import torch
import torch.distributed as dist
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


def _params(runner) -> torch.Tensor:
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    return torch.cat([p.detach().double().flatten() for p in model.parameters()])


@HOOKS.register_module()
class DistProbeHook(Hook):

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir
        self.gathers, self.img_paths = [], []

    def before_train(self, runner) -> None:
        from oneformer.models.losses import contrastive_loss
        original = contrastive_loss.gather_with_grad
        probe = self

        def recording_gather(x: torch.Tensor) -> torch.Tensor:
            out = original(x)
            rank, b = dist.get_rank(), x.shape[0]
            own = out[rank * b:(rank + 1) * b].detach()
            others = torch.cat([out[:rank * b], out[(rank + 1) * b:]]).detach()
            probe.gathers.append(dict(local=b, gathered=out.shape[0], own_slice_is_local=bool(torch.equal(own, x)),
                                      others_differ=bool(others.shape[0] == b and not torch.allclose(others, own))))
            return out

        contrastive_loss.gather_with_grad = recording_gather
        self.initial = _params(runner)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self.img_paths.extend(s.img_path for s in data_batch['data_samples'])

    def after_train(self, runner) -> None:
        final = _params(runner)
        world = dist.get_world_size()
        everyone = [torch.zeros_like(final) for _ in range(world)]
        dist.all_gather(everyone, final)
        record = dict(
            rank=dist.get_rank(),
            world_size=world,
            backend=dist.get_backend(),
            gathers=self.gathers,
            img_paths=self.img_paths,
            param_change=float((final - self.initial).abs().max()),
            max_param_diff_across_ranks=max(float((p - final).abs().max()) for p in everyone))
        with open(osp.join(self.out_dir, f'rank{record["rank"]}.json'), 'w') as f:
            json.dump(record, f)
