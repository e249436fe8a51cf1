"""Adagrad with momentum and lazy Adam, row-sparse on item tables: one step against the formula."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.training.optimizer import DuplicateRowSummer, RowSparseOptimizer

torch.set_num_threads(1)


def test_sparse_adagrad_momentum_matches_formula() -> None:
    lr, mu = 0.1, 0.3
    table = torch.arange(10, dtype=torch.float32).view(5, 2) / 10
    before = table.clone()
    dense = torch.tensor([0.5, -0.5, 1.0])
    opt = RowSparseOptimizer("adagrad", lr, mu, dense, [table])
    p = table.numpy().astype(np.float64).copy()
    acc = np.zeros_like(p)
    vel = np.zeros_like(p)
    steps = [([1, 3, 1], [[0.2, -0.1], [0.4, 0.4], [0.3, 0.5]]), ([1, 4], [[-0.6, 0.2], [0.1, 0.1]])]
    for rows, grads in steps:
        g = np.zeros_like(p)
        for r, gr in zip(rows, grads, strict=True):
            g[r] += gr  # duplicates summed first
        touched = sorted(set(rows))
        acc[touched] += g[touched] ** 2
        vel[touched] = mu * vel[touched] - lr * g[touched] / np.sqrt(acc[touched] + 1e-6)
        p[touched] += vel[touched]
        opt.step(torch.zeros(3), [torch.tensor(rows)], [torch.tensor(grads)])
    assert np.allclose(table.numpy(), p, atol=1e-6)
    assert np.allclose(opt.first[1].numpy(), acc, atol=1e-6)
    assert torch.equal(table[[0, 2]], before[[0, 2]])  # untouched rows: parameters and state
    assert opt.first[1][[0, 2]].abs().sum() == 0 and opt.second[1][[0, 2]].abs().sum() == 0


def test_dense_adagrad_without_momentum() -> None:
    dense = torch.tensor([1.0, 2.0])
    opt = RowSparseOptimizer("adagrad", 0.5, 0.0, dense, [])
    opt.step(torch.tensor([0.2, -0.4]), [], [])
    opt.step(torch.tensor([0.1, 0.0]), [], [])
    acc1 = np.array([0.04, 0.16])
    p = np.array([1.0, 2.0]) - 0.5 * np.array([0.2, -0.4]) / np.sqrt(acc1 + 1e-6)
    acc2 = acc1 + np.array([0.01, 0.0])
    p = p - 0.5 * np.array([0.1, 0.0]) / np.sqrt(acc2 + 1e-6)
    assert np.allclose(dense.numpy(), p, atol=1e-6)


def test_lazy_adam_updates_only_touched_rows() -> None:
    table = torch.ones(4, 1)
    opt = RowSparseOptimizer("adam", 0.01, 0.0, torch.zeros(1), [table])
    opt.step(torch.zeros(1), [torch.tensor([2, 2])], [torch.tensor([[0.5], [0.5]])])
    g = 1.0
    m, v = 0.1 * g, 0.001 * g * g
    expected = 1.0 - 0.01 * (m / 0.1) / (np.sqrt(v / 0.001) + 1e-8)
    assert table[2].item() == pytest.approx(expected, abs=1e-6)
    assert table[[0, 1, 3]].eq(1.0).all()


@pytest.mark.parametrize("by_matmul", [False, True], ids=["scatter (CPU)", "matmul (GPU)"])
def test_duplicate_rows_are_summed(by_matmul: bool) -> None:
    g = torch.Generator().manual_seed(0)
    rows = torch.randint(0, 6, (40,), generator=g)
    grads = torch.randn(40, 3, generator=g)
    summer = DuplicateRowSummer(8, torch.device("cpu"), by_matmul=by_matmul)
    summed = summer(rows, grads)
    expected = torch.stack([grads[rows == r].sum(0) for r in rows.tolist()])
    assert torch.allclose(summed, expected, atol=1e-5)
    assert torch.equal(summer(rows, grads), summed)  # same input, same bits
    distinct = torch.tensor([5, 0, 3])
    assert torch.equal(summer(distinct, grads[:3]), grads[:3])  # rows without duplicates: unchanged


def test_adam_dense_matches_torch_for_a_few_steps() -> None:
    ours = torch.tensor([0.3, -0.2, 0.5])
    ref = torch.nn.Parameter(ours.clone())
    opt = RowSparseOptimizer("adam", 0.01, 0.0, ours, [])
    torch_opt = torch.optim.Adam([ref], lr=0.01)
    for k in range(3):
        grad = torch.tensor([0.1, -0.3, 0.05]) * (k + 1)
        opt.step(grad, [], [])
        ref.grad = grad.clone()
        torch_opt.step()
    assert torch.allclose(ours, ref.detach(), atol=1e-6)
