"""Ranking losses over a sampled score matrix, with their gradients written out by hand.

``y`` [B, C] holds the (activated) scores of row b's slot for C column items; column b (b < B) is
row b's own target (the positive) and every other valid column is a negative: the other slots'
targets (in-batch negatives, i.e. popularity-proportional sampling) and any extra shared
negatives. As in the paper's formulas, a row's own column is never one of its negatives; a target
that happens to equal another slot's target is still that slot's column (as in GRU4Rec).

Per row i with negatives j (N_i of them):
- ``top1``: mean_j sigmoid(y_j - y_i) + sigmoid(y_j^2)
- ``bpr``: mean_j -log sigmoid(y_i - y_j)
- ``cross-entropy``: -log softmax_i over the row's valid columns, own column included (after
  subtracting ``logq`` times the log of each column item's count, when the Log-Q coefficient
  ``logq`` is set: official GRU4Rec's correction)
- ``cross-entropy-logq``: the same after subtracting log Q(column item), Q the expected number of
  occurrences of the item among the step's columns
- ``top1-max``: sum_j s_j (sigmoid(y_j - y_i) + sigmoid(y_j^2)), s = softmax of y over negatives
- ``bpr-max``: -log sum_j s_j sigmoid(y_i - y_j) + reg * sum_j s_j y_j^2
  (Hidasi & Karatzoglou 2018)

The batch loss is the mean over the rows that count (an active slot with at least one negative).
A loss that corrects for how its columns were sampled (log-Q) says how in its entry's ``log_q``,
computed from the step's :class:`SampledColumns`. A new loss is its function here and its entry in
:data:`LOSSES`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from engine.registry.registry import Registry


class LossOutput(NamedTuple):
    loss: Tensor  # scalar: mean over the counted rows
    dy: Tensor  # [B, C] gradient of ``loss`` with respect to y
    rows: Tensor  # scalar float: number of rows counted


class LossInputs(NamedTuple):
    """What every loss of a step sees: scores ``y`` [B, C], the positives ``pos`` [B, 1] (the
    diagonal), the negatives ``neg`` [B, C] (bool) with ``negf`` their float mask and ``n_neg`` [B]
    their number per row, the own columns ``eye`` [B, C], and the options."""

    y: Tensor
    pos: Tensor
    neg: Tensor
    negf: Tensor
    n_neg: Tensor
    eye: Tensor
    logq: Tensor | None  # [C] log sampling probability of each column's item (log-Q correction)
    bpr_max_reg: float


#: A loss's forward and backward: per-row loss [B] and the gradient [B, C] of each row's loss.
LossFunction = Callable[[LossInputs], tuple[Tensor, Tensor]]


class SampledColumns(NamedTuple):
    """How a training step drew its columns, for the losses that correct for it: the column
    items ``items`` [C] (the first B are the slots' targets, the rest extra negatives), the active
    slots ``active`` [B], per item (padding item last) its share of the training events
    ``target_prob`` [n + 1], its probability as an extra negative ``extra_prob`` [n + 1] and the log
    of its number of training events ``log_count`` [n + 1]; the step's settings."""

    items: Tensor
    active: Tensor
    target_prob: Tensor
    extra_prob: Tensor
    log_count: Tensor
    n_extra_negatives: int
    sample_alpha: float
    logq_weight: float  # the Log-Q coefficient of cross-entropy (0: no correction)


#: A loss's sampling correction: log Q [C] of each column, subtracted from its scores (None: none).
LogQFunction = Callable[[SampledColumns], Tensor | None]


@dataclass(frozen=True)
class LossEntry:
    """A registered loss. ``bounded``: the "auto" final activation is tanh (TOP1, BPR), else
    linear (the max losses and cross-entropy need unbounded scores). ``tuned``: part of the
    networks' search space. ``log_q``: the correction of the column scores for their sampling
    (the function then reads it as ``LossInputs.logq``)."""

    name: str
    label: str
    description: str
    function: LossFunction
    bounded: bool
    tuned: bool = True
    log_q: LogQFunction | None = None


def _softmax_over(y: Tensor, mask: Tensor) -> Tensor:
    """Row softmax of ``y`` [B, C] restricted to ``mask`` [B, C] (bool); rows without any masked
    entry get all zeros."""
    shifted = torch.where(mask, y, float("-inf"))
    top = shifted.amax(dim=1, keepdim=True).nan_to_num_(neginf=0.0)
    e = torch.where(mask, torch.exp(y - top), 0.0)
    return e / e.sum(dim=1, keepdim=True).clamp_min_(1e-30)


def _per_negative_weights(x: LossInputs) -> Tensor:
    """[B, C]: 1/N_i on the negatives of row i."""
    return x.negf / x.n_neg.clamp_min(1).to(x.y.dtype).unsqueeze(1)


def _top1(x: LossInputs) -> tuple[Tensor, Tensor]:
    y, w = x.y, _per_negative_weights(x)
    diff = torch.sigmoid(y - x.pos)  # [B, C] sigmoid(y_j - y_i)
    sq = torch.sigmoid(y * y)
    per_row = ((diff + sq) * w).sum(dim=1)
    dy = w * (diff * (1 - diff) + 2 * y * sq * (1 - sq))
    dy.diagonal().sub_((w * diff * (1 - diff)).sum(dim=1))
    return per_row, dy


def _bpr(x: LossInputs) -> tuple[Tensor, Tensor]:
    w = _per_negative_weights(x)
    per_row = (torch.nn.functional.softplus(x.y - x.pos) * w).sum(dim=1)
    dy = w * torch.sigmoid(x.y - x.pos)
    dy.diagonal().sub_(dy.sum(dim=1))
    return per_row, dy


def _cross_entropy_of(logits: Tensor, x: LossInputs) -> tuple[Tensor, Tensor]:
    allowed = x.neg | x.eye
    logp = torch.log_softmax(torch.where(allowed, logits, float("-inf")), dim=1)
    dy = torch.where(allowed, logp.exp(), 0.0)
    dy.diagonal().sub_(1.0)
    return -logp.diagonal(), dy


def _cross_entropy(x: LossInputs) -> tuple[Tensor, Tensor]:
    return _cross_entropy_of(x.y if x.logq is None else x.y - x.logq.unsqueeze(0), x)


def _cross_entropy_logq(x: LossInputs) -> tuple[Tensor, Tensor]:
    if x.logq is None:
        raise ValueError("cross-entropy-logq needs the log sampling probabilities logq")
    return _cross_entropy(x)


def _weighted_log_counts(columns: SampledColumns) -> Tensor | None:
    """Official GRU4Rec's log-Q correction: the Log-Q coefficient times the log count of an
    in-batch column's item, and alpha times that of an extra negative's (the sampling
    probabilities up to a constant per column group); None when the coefficient is 0."""
    if not columns.logq_weight:
        return None
    logq = columns.log_count[columns.items]  # [C]
    if columns.n_extra_negatives:
        n_targets = len(columns.active)
        logq = torch.cat([logq[:n_targets], logq[n_targets:] * columns.sample_alpha])
    return logq * columns.logq_weight


def _expected_occurrences(columns: SampledColumns) -> Tensor:
    """log Q of each column: the log of its item's expected number of occurrences among the
    columns, A * pop / sum(pop) + K * pop^alpha / sum(pop^alpha) (A active slots, K extra negatives)."""
    expected = (columns.active.sum() * columns.target_prob[columns.items]
                + columns.n_extra_negatives * columns.extra_prob[columns.items])
    return expected.clamp_min_(1e-30).log_()  # [C]


def _top1_max(x: LossInputs) -> tuple[Tensor, Tensor]:
    y = x.y
    diff = torch.sigmoid(y - x.pos)
    s = _softmax_over(y, x.neg)
    sq = torch.sigmoid(y * y)
    g = diff + sq
    per_row = (s * g).sum(dim=1)
    dy = s * (g - per_row.unsqueeze(1) + diff * (1 - diff) + 2 * y * sq * (1 - sq))
    dy.diagonal().sub_((s * diff * (1 - diff)).sum(dim=1))
    return per_row, dy


def _bpr_max(x: LossInputs) -> tuple[Tensor, Tensor]:
    y, reg_weight = x.y, x.bpr_max_reg
    s = _softmax_over(y, x.neg)
    a = torch.sigmoid(x.pos - y)  # [B, C] sigmoid(y_i - y_j)
    total = (s * a).sum(dim=1, keepdim=True)  # [B, 1]
    reg = (s * y * y).sum(dim=1, keepdim=True)
    per_row = -torch.log(total.squeeze(1) + 1e-24) + reg_weight * reg.squeeze(1)
    inv = 1.0 / (total + 1e-24)
    dy = -(s * inv) * (a * a - total) + reg_weight * s * (y * y - reg + 2 * y)
    dy.diagonal().sub_((s * a * (1 - a) * inv).sum(dim=1))
    return per_row, dy


#: The losses the networks train with, in the order menus show them.
LOSSES: Registry[LossEntry] = Registry("loss", [
    LossEntry("top1", "TOP1", "The paper's loss: mean over negatives of sigmoid(r_j - r_i) + sigmoid(r_j^2)",
              _top1, bounded=True),
    LossEntry("bpr", "BPR", "Bayesian personalized ranking: mean over negatives of -log sigmoid(r_i - r_j)",
              _bpr, bounded=True),
    LossEntry("cross-entropy", "Cross-entropy", "Softmax cross-entropy over the target and the sampled negatives",
              _cross_entropy, bounded=False, log_q=_weighted_log_counts),
    LossEntry("cross-entropy-logq", "Cross-entropy (log-Q)",
              "Cross-entropy with the log-Q correction of the sampling probabilities", _cross_entropy_logq,
              bounded=False, tuned=False, log_q=_expected_occurrences),
    LossEntry("top1-max", "TOP1-max", "TOP1 weighted by the softmax of the negatives' scores (GRU4Rec 2018)",
              _top1_max, bounded=False),
    LossEntry("bpr-max", "BPR-max", "-log of the softmax-weighted BPR over negatives, plus score regularization "
              "(GRU4Rec 2018)", _bpr_max, bounded=False),
])


def ranking_loss(
    kind: str, y: Tensor, row_active: Tensor, col_valid: Tensor, eye: Tensor,
    logq: Tensor | None = None, bpr_max_reg: float = 1.0,
) -> LossOutput:
    """Loss and gradient of the registered loss ``kind``. ``y`` [B, C]; ``row_active`` [B] bool;
    ``col_valid`` [C] bool; ``eye`` [B, C] bool with column b marked in row b; ``logq`` [C] the
    sampling correction (the entry's ``log_q``; the cross-entropy losses subtract it)."""
    entry = LOSSES[kind]
    neg = col_valid.unsqueeze(0) & ~eye  # [B, C] negatives of each row
    n_neg = neg.sum(dim=1)  # [B]
    counted = row_active & (n_neg > 0)  # [B]
    rows = counted.sum().to(y.dtype)
    row_weight = counted.to(y.dtype) / rows.clamp_min(1.0)  # [B]
    inputs = LossInputs(y, y.diagonal().unsqueeze(1), neg, neg.to(y.dtype), n_neg, eye, logq, bpr_max_reg)
    per_row, dy = entry.function(inputs)
    per_row = torch.where(counted, per_row, 0.0)
    loss = (per_row * row_weight).sum()
    dy = torch.where(counted.unsqueeze(1), dy, 0.0) * row_weight.unsqueeze(1)
    return LossOutput(loss, dy, rows)
