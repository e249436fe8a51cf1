"""Optimizers with row-sparse updates of the item tables.

``adagrad`` (GRU4Rec / HRNN): per element ``acc += g^2; v = mu * v - lr * g / sqrt(acc + 1e-6);
p += v`` (heavy-ball momentum; with mu = 0 no velocity is kept). ``adam``: Adam with bias
correction (beta1 0.9, beta2 0.999, eps 1e-8, added to sqrt(v) before the correction: the
Adam paper's "efficient" form), lazy on the item tables like ``torch.optim.SparseAdam``: only
the rows of the batch update their moments, with the global step count in the bias correction.

The item tables are updated row-sparsely: only the rows a batch touched change (parameters and
optimizer state); gradients of duplicate rows are summed first, then each row is updated once.
Every other parameter lives in one flat vector and is updated densely, in place, by the same rule.
All shapes are static (no ``unique``) and the step count is a tensor, so an update can be
captured in a CUDA graph.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

OptimizerKind = Literal["adagrad", "adam"]
ADAGRAD_EPS = 1e-6
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


class DuplicateRowSummer:
    """Sums gradients of duplicate row indices for a table of ``n_rows`` rows.

    On a CPU: scatter into one representative position per distinct row, O(n * D). On a GPU
    (or with ``by_matmul``): ``(rows == rows^T) @ grad``, O(n^2 * D) for the few hundred rows of a
    step; unlike a scatter-add, whose atomic additions sum in a varying order on a GPU, it gives
    the same result on every run (same seed, same loss curve)."""

    def __init__(self, n_rows: int, device: torch.device, by_matmul: bool | None = None) -> None:
        self.by_matmul = torch.device(device).type == "cuda" if by_matmul is None else by_matmul
        self.position = torch.zeros(0 if self.by_matmul else n_rows, dtype=torch.int64, device=device)  # scratch

    def __call__(self, rows: Tensor, grad: Tensor) -> Tensor:
        """[n, D]: at every position, the sum of ``grad`` [n, D] over the positions holding the same
        row index of ``rows`` [n] (so duplicates carry identical totals)."""
        if self.by_matmul:
            same = rows.unsqueeze(1) == rows.unsqueeze(0)  # [n, n]
            return same.to(grad.dtype) @ grad
        self.position.index_put_((rows,), torch.arange(len(rows), device=rows.device))
        representative = self.position.index_select(0, rows)  # [n] one position per distinct row
        totals = torch.zeros_like(grad).index_add_(0, representative, grad)
        return totals.index_select(0, representative)


class RowSparseOptimizer:
    """Updates one flat dense parameter vector and any number of row-sparse tables."""

    def __init__(self, kind: str, learning_rate: float, momentum: float, dense: Tensor,
                 tables: list[Tensor]) -> None:
        self.kind = kind
        self.lr = learning_rate
        self.momentum = momentum
        self.dense = dense
        self.tables = tables
        self.step_count = torch.zeros((), dtype=torch.float64, device=dense.device)
        params = [dense, *tables]
        # adagrad: (squared-gradient sum, velocity or None); adam: (first moment, second moment)
        self.first = [torch.zeros_like(p) for p in params]
        self.second = [torch.zeros_like(p) if kind == "adam" or momentum > 0 else None for p in params]
        self.dense_buffer = torch.empty_like(dense)
        self.summers = [DuplicateRowSummer(t.shape[0], t.device) for t in tables]

    def step(self, dense_grad: Tensor, rows: list[Tensor], row_grads: list[Tensor]) -> None:
        """Apply one update: ``dense_grad`` like the dense vector; for table k, ``row_grads[k]``
        [n_k, D_k] are gradients of rows ``rows[k]`` [n_k] (duplicates allowed)."""
        self.step_count.add_(1.0)
        if self.kind == "adagrad":
            self._adagrad_dense(dense_grad)
        else:
            self._adam(0, self.dense, None, dense_grad)
        for k, (table, idx, grad) in enumerate(zip(self.tables, rows, row_grads, strict=True), start=1):
            summed = self.summers[k - 1](idx, grad)
            if self.kind == "adagrad":
                self._adagrad_rows(k, table, idx, summed)
            else:
                self._adam(k, table, idx, summed)

    def _adagrad_dense(self, g: Tensor) -> None:
        acc, velocity = self.first[0], self.second[0]
        acc.addcmul_(g, g)
        denom = torch.add(acc, ADAGRAD_EPS, out=self.dense_buffer).sqrt_()
        if velocity is None:
            self.dense.addcdiv_(g, denom, value=-self.lr)
        else:
            velocity.mul_(self.momentum).addcdiv_(g, denom, value=-self.lr)
            self.dense.add_(velocity)

    def _adagrad_rows(self, k: int, table: Tensor, idx: Tensor, g: Tensor) -> None:
        """Duplicates of ``idx`` carry identical ``g``, so they write identical values."""
        acc = self.first[k].index_select(0, idx).addcmul_(g, g)  # [n, D]
        self.first[k].index_copy_(0, idx, acc)
        step = g / acc.add_(ADAGRAD_EPS).sqrt_()
        velocity = self.second[k]
        if velocity is None:
            delta = step.mul_(-self.lr)
        else:
            delta = velocity.index_select(0, idx).mul_(self.momentum).sub_(step, alpha=self.lr)
            velocity.index_copy_(0, idx, delta)
        table.index_copy_(0, idx, table.index_select(0, idx).add_(delta))

    def _adam(self, k: int, param: Tensor, idx: Tensor | None, g: Tensor) -> None:
        """Dense (``idx`` None, in place) or lazy on rows ``idx``."""
        beta1, beta2 = ADAM_BETAS
        first, second = self.first[k], self.second[k]
        assert second is not None
        m = first if idx is None else first.index_select(0, idx)
        v = second if idx is None else second.index_select(0, idx)
        m.mul_(beta1).add_(g, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        if idx is not None:
            first.index_copy_(0, idx, m)
            second.index_copy_(0, idx, v)
        t = self.step_count
        scale = (-self.lr * (1 - beta2 ** t).sqrt() / (1 - beta1 ** t)).to(g.dtype)
        delta = m / v.sqrt().add_(ADAM_EPS) * scale
        if idx is None:
            param.add_(delta)
        else:
            param.index_copy_(0, idx, param.index_select(0, idx).add_(delta))
