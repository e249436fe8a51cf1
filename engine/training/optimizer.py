"""Optimizers with row-sparse updates of the item tables.

``adagrad`` (GRU4Rec / HRNN): per element ``acc += g^2; v = mu * v - lr * g / sqrt(acc + 1e-6);
p += v`` (heavy-ball momentum; with mu = 0 no velocity is kept). ``adam``: Adam with the usual
bias correction (beta1 0.9, beta2 0.999, eps 1e-8), lazy on the item tables like
``torch.optim.SparseAdam``: only the rows of the batch update their moments, with the global step
count in the bias correction.

The item tables are updated row-sparsely: only the rows a batch touched change (parameters and
optimizer state); gradients of duplicate rows are summed first, then each row is updated once.
Every other parameter lives in one flat vector and is updated densely with the same rule.
All shapes are static (no ``unique``), so a step can be captured in a CUDA graph.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

OptimizerKind = Literal["adagrad", "adam"]
ADAGRAD_EPS = 1e-6
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


#: Up to this many rows, duplicates are summed with an n x n equality matrix (one matmul);
#: beyond it, by sorting (n log n).
DENSE_DEDUP_MAX_ROWS = 512


def sum_duplicate_rows(rows: Tensor, grad: Tensor) -> Tensor:
    """[n, D]: for every position, the sum of ``grad`` [n, D] over the positions with the same row
    index in ``rows`` [n] (so duplicates carry identical totals)."""
    if len(rows) <= DENSE_DEDUP_MAX_ROWS:
        same = rows.unsqueeze(0) == rows.unsqueeze(1)  # [n, n]
        return same.to(grad.dtype) @ grad
    sorted_rows, order = rows.sort()
    opens = torch.ones_like(sorted_rows, dtype=torch.bool)
    opens[1:] = sorted_rows[1:] != sorted_rows[:-1]
    segment = opens.cumsum(0) - 1  # [n] segment of each sorted position
    totals = torch.zeros_like(grad).index_add_(0, segment, grad.index_select(0, order))
    summed = torch.empty_like(grad)
    summed.index_copy_(0, order, totals.index_select(0, segment))
    return summed


class RowSparseOptimizer:
    """Updates one flat dense parameter vector and any number of row-sparse tables."""

    def __init__(self, kind: str, learning_rate: float, momentum: float, dense: Tensor,
                 tables: list[Tensor]) -> None:
        self.kind = kind
        self.lr = learning_rate
        self.momentum = momentum
        self.dense = dense
        self.tables = tables
        self.step_count = 0
        params = [dense, *tables]
        # adagrad: (squared-gradient sum, velocity); adam: (first moment, second moment)
        self.first = [torch.zeros_like(p) for p in params]
        self.second = [torch.zeros_like(p) for p in params] \
            if kind == "adam" or momentum > 0 else [None] * len(params)

    def step(self, dense_grad: Tensor, rows: list[Tensor], row_grads: list[Tensor]) -> None:
        """Apply one update: ``dense_grad`` like the dense vector; for table k, ``row_grads[k]``
        [n_k, D_k] are gradients of rows ``rows[k]`` [n_k] (duplicates allowed)."""
        self.step_count += 1
        self._update_rows(0, self.dense, None, dense_grad)
        for k, (table, idx, grad) in enumerate(zip(self.tables, rows, row_grads), start=1):
            self._update_rows(k, table, idx, sum_duplicate_rows(idx, grad))

    def _update_rows(self, k: int, param: Tensor, idx: Tensor | None, g: Tensor) -> None:
        """Update ``param`` (all of it when ``idx`` is None, else rows ``idx``) with gradient ``g``."""
        def take(t: Tensor) -> Tensor:
            return t if idx is None else t.index_select(0, idx)

        def put(t: Tensor, value: Tensor) -> None:
            if idx is not None:
                t.index_copy_(0, idx, value)  # duplicates write identical values

        first, second = self.first[k], self.second[k]
        if self.kind == "adagrad":
            acc = take(first).addcmul_(g, g)
            put(first, acc)
            step = g / (acc + ADAGRAD_EPS).sqrt_()
            if second is None:
                delta = step.mul_(-self.lr)
            else:
                delta = take(second).mul_(self.momentum).sub_(step, alpha=self.lr)
                put(second, delta)
        else:
            beta1, beta2 = ADAM_BETAS
            m = take(first).mul_(beta1).add_(g, alpha=1 - beta1)
            v = take(second).mul_(beta2).addcmul_(g, g, value=1 - beta2)
            put(first, m)
            put(second, v)
            scale = self.lr * (1 - beta2 ** self.step_count) ** 0.5 / (1 - beta1 ** self.step_count)
            delta = m / v.sqrt().add_(ADAM_EPS) * -scale
        if idx is None:
            param.add_(delta)
        else:
            param.index_copy_(0, idx, param.index_select(0, idx).add_(delta))
