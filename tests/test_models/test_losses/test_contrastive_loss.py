"""QueryTextContrastiveLoss: value against a hand computation and gradients through gathered negatives."""
import math
import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from oneformer.models import QueryTextContrastiveLoss


def _hand_loss(q, t, scale):
    """Symmetric InfoNCE written out with numpy loops."""
    q = q.reshape(len(q), -1)
    t = t.reshape(len(t), -1)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    b = len(q)
    total = 0.0
    for i in range(b):
        row = [scale * q[i] @ t[j] for j in range(b)]
        total += -row[i] + math.log(sum(math.exp(r) for r in row))
    img2txt = total / b
    total = 0.0
    for i in range(b):
        row = [scale * t[i] @ q[j] for j in range(b)]
        total += -row[i] + math.log(sum(math.exp(r) for r in row))
    return img2txt + total / b


def test_value_matches_hand_computation():
    torch.manual_seed(0)
    q, t = torch.randn(3, 5, 4), torch.randn(3, 5, 4)
    loss_fn = QueryTextContrastiveLoss(temperature=0.07, loss_weight=0.5)
    assert loss_fn.logit_scale.item() == pytest.approx(math.log(1 / 0.07))
    expected = 0.5 * _hand_loss(q.double().numpy(), t.double().numpy(), 1 / 0.07)
    assert loss_fn(q, t).item() == pytest.approx(expected, rel=1e-5)


def test_logit_scale_is_clamped_at_100():
    torch.manual_seed(0)
    q, t = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    loss_fn = QueryTextContrastiveLoss(loss_weight=1.0)
    with torch.no_grad():
        loss_fn.logit_scale.fill_(math.log(1000.0))
    assert loss_fn(q, t).item() == pytest.approx(_hand_loss(q.double().numpy(), t.double().numpy(), 100.0),
                                                 rel=1e-5)
    loss_fn(q, t).backward()  # clamped: no gradient to the scale
    assert loss_fn.logit_scale.grad.item() == 0


def test_aligned_pairs_give_lower_loss_than_shuffled():
    torch.manual_seed(0)
    q = torch.randn(4, 6, 8)
    loss_fn = QueryTextContrastiveLoss()
    assert loss_fn(q, q + 0.01 * torch.randn_like(q)) < loss_fn(q, q[[1, 2, 3, 0]])


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _worker(rank, world, port, q_all, t_all, out):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    torch.manual_seed(0)
    loss_fn = QueryTextContrastiveLoss(loss_weight=1.0)
    b = q_all.shape[0] // world
    q = q_all[rank * b:(rank + 1) * b].clone().requires_grad_(True)
    t = t_all[rank * b:(rank + 1) * b].clone().requires_grad_(True)
    loss = loss_fn(q, t)
    loss.backward()
    out[rank] = (loss.detach(), q.grad.clone(), t.grad.clone())
    dist.destroy_process_group()


@pytest.mark.slow
def test_gathered_negatives_and_gradients_across_two_gloo_ranks():
    torch.manual_seed(0)
    q_all, t_all = torch.randn(4, 3, 4), torch.randn(4, 3, 4)
    manager = mp.Manager()
    out = manager.dict()
    mp.spawn(_worker, args=(2, _free_port(), q_all, t_all, out), nprocs=2, join=True)

    # reference on one process: rank r's loss uses its 2 rows as anchors and all 4 rows as negatives
    q = q_all.clone().requires_grad_(True)
    t = t_all.clone().requires_grad_(True)
    loss_fn = QueryTextContrastiveLoss(loss_weight=1.0)
    qn, tn = torch.nn.functional.normalize(q.flatten(1), dim=-1), torch.nn.functional.normalize(t.flatten(1), dim=-1)
    scale = loss_fn.logit_scale.exp()
    total = 0
    for r in range(2):
        rows = slice(2 * r, 2 * r + 2)
        labels = torch.arange(2) + 2 * r
        loss_r = torch.nn.functional.cross_entropy(scale * qn[rows] @ tn.t(), labels) + \
            torch.nn.functional.cross_entropy(scale * tn[rows] @ qn.t(), labels)
        torch.testing.assert_close(out[r][0], loss_r.detach())
        total = total + loss_r
    total.backward()  # gradient of every rank's loss reaches every input through the gather
    for r in range(2):
        torch.testing.assert_close(out[r][1], q.grad[2 * r:2 * r + 2], rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(out[r][2], t.grad[2 * r:2 * r + 2], rtol=1e-4, atol=1e-6)
