"""Ranking losses against hand computation, and their hand-written gradients against autograd."""
from __future__ import annotations

import math

import pytest
import torch

from engine.models.losses import LOSSES, ranking_loss

torch.set_num_threads(1)

Y = [[0.5, 0.1, -0.3],
     [0.2, 0.4, 0.9],
     [-0.6, 0.3, 0.0]]


def _sig(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def _call(kind: str, y: list[list[float]], active: list[bool], extra_cols: int = 0, **kw):
    b = len(y)
    yt = torch.tensor(y)
    col_valid = torch.tensor(active + [True] * extra_cols)
    eye = torch.eye(b, b + extra_cols, dtype=torch.bool)
    return ranking_loss(kind, yt, torch.tensor(active), col_valid, eye, **kw)


def test_top1_matches_paper_formula_without_own_column() -> None:
    rows = []
    for i in range(3):
        negs = [j for j in range(3) if j != i]
        rows.append(sum(_sig(Y[i][j] - Y[i][i]) + _sig(Y[i][j] ** 2) for j in negs) / len(negs))
    out = _call("top1", Y, [True, True, True])
    assert out.loss.item() == pytest.approx(sum(rows) / 3, abs=1e-6)


def test_bpr_matches_hand_computation() -> None:
    rows = []
    for i in range(3):
        negs = [j for j in range(3) if j != i]
        rows.append(-sum(math.log(_sig(Y[i][i] - Y[i][j])) for j in negs) / len(negs))
    assert _call("bpr", Y, [True] * 3).loss.item() == pytest.approx(sum(rows) / 3, abs=1e-6)


def test_cross_entropy_matches_hand_computation() -> None:
    rows = [-(Y[i][i] - math.log(sum(math.exp(v) for v in Y[i]))) for i in range(3)]
    assert _call("cross-entropy", Y, [True] * 3).loss.item() == pytest.approx(sum(rows) / 3, abs=1e-6)


def test_inactive_slot_is_neither_row_nor_negative() -> None:
    # slot 2 idle: rows 0 and 1 only, each with the single negative among columns 0 and 1
    expected = ((_sig(Y[0][1] - Y[0][0]) + _sig(Y[0][1] ** 2))
                + (_sig(Y[1][0] - Y[1][1]) + _sig(Y[1][0] ** 2))) / 2
    out = _call("top1", Y, [True, True, False])
    assert out.loss.item() == pytest.approx(expected, abs=1e-6)
    assert out.rows.item() == 2
    assert torch.all(out.dy[2] == 0) and torch.all(out.dy[:, 2] == 0)


def test_logq_subtracts_log_sampling_probability() -> None:
    logq = torch.tensor([0.0, math.log(2.0), math.log(4.0)])
    shifted = [[v - float(q) for v, q in zip(row, logq, strict=True)] for row in Y]
    plain = _call("cross-entropy", shifted, [True] * 3).loss
    assert _call("cross-entropy-logq", Y, [True] * 3, logq=logq).loss.item() == pytest.approx(plain.item())


def test_bpr_max_matches_hand_computation() -> None:
    reg = 0.5
    rows = []
    for i in range(3):
        negs = [j for j in range(3) if j != i]
        z = sum(math.exp(Y[i][j]) for j in negs)
        s = {j: math.exp(Y[i][j]) / z for j in negs}
        rows.append(-math.log(sum(s[j] * _sig(Y[i][i] - Y[i][j]) for j in negs))
                    + reg * sum(s[j] * Y[i][j] ** 2 for j in negs))
    out = _call("bpr-max", Y, [True] * 3, bpr_max_reg=reg)
    assert out.loss.item() == pytest.approx(sum(rows) / 3, abs=1e-5)


def _autograd_reference(kind: str, y: torch.Tensor, active: torch.Tensor, col_valid: torch.Tensor,
                        logq: torch.Tensor, reg: float) -> torch.Tensor:
    """Straightforward per-row loops, differentiated by autograd."""
    b = y.shape[0]
    losses = []
    for i in range(b):
        negs = [j for j in range(y.shape[1]) if j != i and bool(col_valid[j])]
        if not bool(active[i]) or not negs:
            continue
        yi, yn = y[i, i], y[i, negs]
        if kind == "top1":
            losses.append((torch.sigmoid(yn - yi) + torch.sigmoid(yn ** 2)).mean())
        elif kind == "bpr":
            losses.append(-torch.log(torch.sigmoid(yi - yn)).mean())
        elif kind.startswith("cross-entropy"):
            cols = [i] + negs
            logits = y[i, cols] - logq[cols]  # a given log-Q correction is subtracted
            losses.append(-torch.log_softmax(logits, 0)[0])
        elif kind == "top1-max":
            s = torch.softmax(yn, 0)
            losses.append((s * (torch.sigmoid(yn - yi) + torch.sigmoid(yn ** 2))).sum())
        else:
            s = torch.softmax(yn, 0)
            losses.append(-torch.log((s * torch.sigmoid(yi - yn)).sum()) + reg * (s * yn ** 2).sum())
    return torch.stack(losses).mean()


@pytest.mark.parametrize("kind", LOSSES.names())
def test_gradient_matches_autograd(kind: str) -> None:
    g = torch.Generator().manual_seed(3)
    b, extra = 4, 3
    y = torch.randn(b, b + extra, generator=g).tanh().requires_grad_(True)
    active = torch.tensor([True, False, True, True])
    col_valid = torch.cat([active, torch.ones(extra, dtype=torch.bool)])
    logq = torch.randn(b + extra, generator=g)
    eye = torch.eye(b, b + extra, dtype=torch.bool)
    out = ranking_loss(kind, y.detach(), active, col_valid, eye, logq, 0.7)
    ref = _autograd_reference(kind, y, active, col_valid, logq, 0.7)
    ref.backward()
    assert out.loss.item() == pytest.approx(ref.item(), abs=1e-5)
    assert torch.allclose(out.dy, y.grad, atol=1e-6)


def test_row_without_negative_does_not_count() -> None:
    out = _call("bpr-max", [[0.3, 0.1], [0.2, 0.4]], [True, False])
    assert out.rows.item() == 0 and out.loss.item() == 0.0 and torch.all(out.dy == 0)
