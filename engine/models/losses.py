"""Ranking losses over a sampled score matrix, with their gradients written out by hand.

``y`` [B, C] holds the (activated) scores of row b's slot for C column items; column b (b < B) is
row b's own target (the positive) and every other valid column is a negative: the other slots'
targets (in-batch negatives, i.e. popularity-proportional sampling) and any extra shared
negatives. As in the paper's formulas, a row's own column is never one of its negatives; a target
that happens to equal another slot's target is still that slot's column (as in GRU4Rec).

Per row i with negatives j (N_i of them):
- ``top1``: mean_j sigmoid(y_j - y_i) + sigmoid(y_j^2)
- ``bpr``: mean_j -log sigmoid(y_i - y_j)
- ``cross-entropy``: -log softmax_i over the row's valid columns, own column included
- ``cross-entropy-logq``: the same after subtracting log Q(column item), Q the sampling
  probability (``logq``)
- ``top1-max``: sum_j s_j (sigmoid(y_j - y_i) + sigmoid(y_j^2)), s = softmax of y over negatives
- ``bpr-max``: -log sum_j s_j sigmoid(y_i - y_j) + reg * sum_j s_j y_j^2
  (Hidasi & Karatzoglou 2018)

The batch loss is the mean over the rows that count (an active slot with at least one negative).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from engine.models.spec import LOSS_KINDS, LossKind


class LossOutput(NamedTuple):
    loss: Tensor  # scalar: mean over the counted rows
    dy: Tensor  # [B, C] gradient of ``loss`` with respect to y
    rows: Tensor  # scalar float: number of rows counted


def _softmax_over(y: Tensor, mask: Tensor) -> Tensor:
    """Row softmax of ``y`` [B, C] restricted to ``mask`` [B, C] (bool); rows without any masked
    entry get all zeros."""
    shifted = torch.where(mask, y, float("-inf"))
    top = shifted.amax(dim=1, keepdim=True).nan_to_num_(neginf=0.0)
    e = torch.where(mask, torch.exp(y - top), 0.0)
    return e / e.sum(dim=1, keepdim=True).clamp_min_(1e-30)


def ranking_loss(
    kind: str, y: Tensor, row_active: Tensor, col_valid: Tensor, eye: Tensor,
    logq: Tensor | None = None, bpr_max_reg: float = 1.0,
) -> LossOutput:
    """Loss and gradient. ``y`` [B, C]; ``row_active`` [B] bool; ``col_valid`` [C] bool;
    ``eye`` [B, C] bool with column b marked in row b; ``logq`` [C] (``cross-entropy-logq``)."""
    neg = col_valid.unsqueeze(0) & ~eye  # [B, C] negatives of each row
    n_neg = neg.sum(dim=1)  # [B]
    counted = row_active & (n_neg > 0)  # [B]
    rows = counted.sum().to(y.dtype)
    row_weight = counted.to(y.dtype) / rows.clamp_min(1.0)  # [B]
    pos = y.diagonal().unsqueeze(1)  # [B, 1]
    negf = neg.to(y.dtype)
    if kind in ("top1", "bpr", "top1-max"):
        diff = torch.sigmoid(y - pos)  # [B, C] sigmoid(y_j - y_i)
    if kind in ("top1", "bpr"):
        w = negf / n_neg.clamp_min(1).to(y.dtype).unsqueeze(1)  # [B, C] 1/N_i on negatives
        if kind == "top1":
            sq = torch.sigmoid(y * y)
            per_row = ((diff + sq) * w).sum(dim=1)
            dy = w * (diff * (1 - diff) + 2 * y * sq * (1 - sq))
            dy.diagonal().sub_((w * diff * (1 - diff)).sum(dim=1))
        else:
            per_row = (torch.nn.functional.softplus(y - pos) * w).sum(dim=1)
            dy = w * diff
            dy.diagonal().sub_(dy.sum(dim=1))
    elif kind in ("cross-entropy", "cross-entropy-logq"):
        if kind == "cross-entropy-logq":
            if logq is None:
                raise ValueError("cross-entropy-logq needs the log sampling probabilities logq")
            logits = y - logq.unsqueeze(0)
        else:
            logits = y
        allowed = neg | eye
        logp = torch.log_softmax(torch.where(allowed, logits, float("-inf")), dim=1)
        per_row = -logp.diagonal()
        dy = torch.where(allowed, logp.exp(), 0.0)
        dy.diagonal().sub_(1.0)
    elif kind == "top1-max":
        s = _softmax_over(y, neg)
        sq = torch.sigmoid(y * y)
        g = diff + sq
        per_row = (s * g).sum(dim=1)
        dy = s * (g - per_row.unsqueeze(1) + diff * (1 - diff) + 2 * y * sq * (1 - sq))
        dy.diagonal().sub_((s * diff * (1 - diff)).sum(dim=1))
    elif kind == "bpr-max":
        s = _softmax_over(y, neg)
        a = torch.sigmoid(pos - y)  # [B, C] sigmoid(y_i - y_j)
        total = (s * a).sum(dim=1, keepdim=True)  # [B, 1]
        reg = (s * y * y).sum(dim=1, keepdim=True)
        per_row = -torch.log(total.squeeze(1) + 1e-24) + bpr_max_reg * reg.squeeze(1)
        inv = 1.0 / (total + 1e-24)
        dy = -(s * inv) * (a * a - total) + bpr_max_reg * s * (y * y - reg + 2 * y)
        dy.diagonal().sub_((s * a * (1 - a) * inv).sum(dim=1))
    else:
        raise ValueError(f"unknown loss {kind!r}; choose one of {', '.join(LOSS_KINDS)}")
    per_row = torch.where(counted, per_row, 0.0)
    loss = (per_row * row_weight).sum()
    dy = torch.where(counted.unsqueeze(1), dy, 0.0) * row_weight.unsqueeze(1)
    return LossOutput(loss, dy, rows)
