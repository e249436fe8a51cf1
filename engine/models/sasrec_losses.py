"""The losses SASRec trains with, over the outputs ``hidden`` [N, d] at the N positions of a batch
that have a target and the item table ``items`` [n, d] (the shared embedding without padding):

- ``cross-entropy``: softmax cross-entropy over all n items ("SASRec+", Klenitskiy & Vasilev
  2023): -s_target + log sum_i exp(s_i). Computed a few rows at a time with the gradient written
  out (softmax - one-hot), so memory is rows x n only for one chunk of rows.
- ``sampled-cross-entropy``: softmax over the target and K negatives shared by the batch, drawn
  uniformly or by popularity, with the log-Q correction: each negative's logit minus log(K q_j),
  q_j its sampling probability, so that the negatives' sum estimates the full softmax's
  denominator (the target's logit is not corrected); a negative equal to the row's target is left out.
- ``bce``: the paper's binary cross-entropy with one uniform negative per target:
  -log sigmoid(s_target) - log(1 - sigmoid(s_negative)).
- ``gbce``: gSASRec's calibrated loss (Petrov & Macdonald 2023) over K uniform negatives drawn
  for each window (each sequence of the batch, as gSASRec draws them per sequence position):
  -beta log sigmoid(s_target) - sum_j log(1 - sigmoid(s_j)), beta = alpha (t (1 - 1/alpha) + 1/alpha)
  = 1 - t (1 - alpha), alpha = K / (n - 1) the sampling rate, t in [0, 1] the calibration
  (t = 0: plain BCE over K negatives; t = 1: fully calibrated).

Every loss is the mean over the N positions. A new loss is its function here and its entry in
:data:`SEQUENCE_LOSSES`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor
from torch.nn import functional

from engine.registry.registry import Registry

#: Scores held at once by the full cross-entropy: rows per chunk = this / n_items.
FULL_SOFTMAX_CHUNK_SCORES = 1 << 22


class SequenceLossInputs(NamedTuple):
    """``hidden`` [N, d], ``items`` [n, d], ``targets`` [N]; ``negatives``: [K] shared by the rows
    (sampled cross-entropy), [B, K] per window (gBCE), [N] one per row (BCE) or None;
    ``log_expected`` [K]: log(K q_j) of the shared negatives (sampled cross-entropy); ``beta``:
    gBCE's calibration exponent; ``windows`` [B, T, d] and ``present`` [B, T]: the outputs of
    every column of the batch's windows and where a target is (``hidden = windows[present]``), for
    the losses whose negatives are drawn per window."""

    hidden: Tensor
    items: Tensor
    targets: Tensor
    negatives: Tensor | None = None
    log_expected: Tensor | None = None
    beta: float = 1.0
    windows: Tensor | None = None
    present: Tensor | None = None


class _FullCrossEntropy(torch.autograd.Function):
    """Mean softmax cross-entropy over all items, chunked over rows; the gradients are computed in
    the forward pass (softmax - one-hot, times the other factor) and only scaled in the backward."""

    @staticmethod
    def forward(ctx: Any, hidden: Tensor, items: Tensor, targets: Tensor, chunk_rows: int) -> Tensor:
        n_rows = hidden.shape[0]
        grad_hidden = torch.empty_like(hidden)  # [N, d]
        grad_items = torch.zeros_like(items)  # [n, d]
        total = hidden.new_zeros(())
        for start in range(0, n_rows, chunk_rows):
            rows = hidden[start: start + chunk_rows]  # [c, d]
            target = targets[start: start + chunk_rows]  # [c]
            log_p = torch.log_softmax(rows @ items.T, dim=1)  # [c, n]
            total -= log_p.gather(1, target.unsqueeze(1)).sum()
            grad = log_p.exp_()  # softmax
            grad[torch.arange(len(target), device=grad.device), target] -= 1.0
            grad_hidden[start: start + chunk_rows] = grad @ items
            grad_items.addmm_(grad.T, rows)
        scale = 1.0 / max(n_rows, 1)
        ctx.save_for_backward(grad_hidden, grad_items)
        ctx.scale = scale
        return total * scale

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, Tensor, None, None]:
        grad_hidden, grad_items = ctx.saved_tensors
        factor = grad_output * ctx.scale
        return grad_hidden * factor, grad_items * factor, None, None


def full_cross_entropy(hidden: Tensor, items: Tensor, targets: Tensor, chunk_rows: int | None = None) -> Tensor:
    """Mean over rows of -log softmax(hidden @ items.T)[target], ``chunk_rows`` rows at a time."""
    chunk = chunk_rows or max(1, FULL_SOFTMAX_CHUNK_SCORES // max(items.shape[0], 1))
    return _FullCrossEntropy.apply(hidden, items, targets, chunk)


def sampled_softmax(positive: Tensor, negative: Tensor, log_expected: Tensor, hit: Tensor) -> Tensor:
    """Per row [N]: -log of the target's share of a softmax over the target's logit ``positive``
    [N] and the negatives' logits ``negative`` [N, K] less ``log_expected`` [K] (the log-Q
    correction); negatives where ``hit`` [N, K] (they are the row's target) are left out."""
    corrected = (negative - log_expected.unsqueeze(0)).masked_fill(hit, float("-inf"))
    return torch.logsumexp(torch.cat([positive.unsqueeze(1), corrected], dim=1), dim=1) - positive


def binary_cross_entropy(positive: Tensor, negative: Tensor) -> Tensor:
    """Per row [N]: -log sigmoid(positive) - log(1 - sigmoid(negative)), one negative per row."""
    return functional.softplus(-positive) + functional.softplus(negative)


def calibrated_binary_cross_entropy(positive: Tensor, negative: Tensor, valid: Tensor, beta: float) -> Tensor:
    """Per row [N]: -beta log sigmoid(positive) - sum over the ``valid`` [N, K] negatives [N, K] of
    log(1 - sigmoid(negative))."""
    return beta * functional.softplus(-positive) + (functional.softplus(negative) * valid).sum(dim=1)


def gbce_beta(n_negatives: int, n_items: int, calibration: float) -> float:
    """gSASRec's beta = alpha (t (1 - 1/alpha) + 1/alpha) for K negatives among n items
    (alpha = K / (n - 1), at most 1), calibration t."""
    alpha = min(1.0, n_negatives / max(n_items - 1, 1))
    return alpha * (calibration * (1.0 - 1.0 / alpha) + 1.0 / alpha)


def _positive(x: SequenceLossInputs) -> Tensor:
    return (x.hidden * x.items[x.targets]).sum(dim=1)  # [N]


def _cross_entropy(x: SequenceLossInputs) -> Tensor:
    return full_cross_entropy(x.hidden, x.items, x.targets)


def _sampled_cross_entropy(x: SequenceLossInputs) -> Tensor:
    if x.negatives is None or x.log_expected is None:
        raise ValueError("sampled cross-entropy needs shared negatives and their log expected counts")
    negative = x.hidden @ x.items[x.negatives].T  # [N, K]
    hit = x.negatives.unsqueeze(0) == x.targets.unsqueeze(1)  # [N, K]
    return sampled_softmax(_positive(x), negative, x.log_expected, hit).mean()


def _bce(x: SequenceLossInputs) -> Tensor:
    if x.negatives is None:
        raise ValueError("binary cross-entropy needs one negative per row")
    negative = (x.hidden * x.items[x.negatives]).sum(dim=1)  # [N]
    return binary_cross_entropy(_positive(x), negative).mean()


def _gbce(x: SequenceLossInputs) -> Tensor:
    if x.negatives is None or x.windows is None or x.present is None:
        raise ValueError("gBCE needs negatives per window and the windows' outputs")
    negative = torch.einsum("btd,bkd->btk", x.windows, x.items[x.negatives])[x.present]  # [N, K]
    row_negatives = x.negatives.unsqueeze(1).expand(-1, x.present.shape[1], -1)[x.present]  # [N, K]
    valid = (row_negatives != x.targets.unsqueeze(1)).to(negative.dtype)  # [N, K]
    return calibrated_binary_cross_entropy(_positive(x), negative, valid, x.beta).mean()


@dataclass(frozen=True)
class SequenceLossEntry:
    """A loss of SASRec. ``negatives``: what the trainer samples for it: nothing (``"none"``), one
    uniform item per target (``"per_row"``), K uniform items per window (``"per_window"``) or K items
    shared by the batch (``"shared"``, drawn as the sampling setting says)."""

    name: str
    label: str
    description: str
    function: Callable[[SequenceLossInputs], Tensor]
    negatives: Literal["none", "per_row", "per_window", "shared"]


#: SASRec's losses, in the order menus show them.
SEQUENCE_LOSSES: Registry[SequenceLossEntry] = Registry("SASRec loss", [
    SequenceLossEntry("cross-entropy", "Cross-entropy (all items)", "Softmax cross-entropy over every item "
                      "(SASRec+, Klenitskiy & Vasilev 2023)", _cross_entropy, "none"),
    SequenceLossEntry("sampled-cross-entropy", "Sampled cross-entropy", "Softmax over the target and K negatives "
                      "shared by the batch, with the log-Q correction", _sampled_cross_entropy, "shared"),
    SequenceLossEntry("bce", "Binary cross-entropy", "The paper's loss: the target against one uniform negative",
                      _bce, "per_row"),
    SequenceLossEntry("gbce", "gBCE", "gSASRec's calibrated binary cross-entropy over K uniform negatives per "
                      "sequence (Petrov & Macdonald 2023)", _gbce, "per_window"),
])


def sequence_loss(kind: str, inputs: SequenceLossInputs) -> Tensor:
    """The mean loss ``kind`` over the rows of ``inputs``."""
    return SEQUENCE_LOSSES[kind].function(inputs)
