"""SASRec's losses: each one's value and gradient against autograd on a plain formula, and the
gradients with respect to the logits against hand-computed ones."""
from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional

from engine.models.sasrec_losses import (
    SEQUENCE_LOSSES,
    SequenceLossInputs,
    binary_cross_entropy,
    calibrated_binary_cross_entropy,
    full_cross_entropy,
    gbce_beta,
    sampled_softmax,
    sequence_loss,
)


def _inputs(seed: int = 0, rows: int = 7, n_items: int = 11, d: int = 5):
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn(rows, d, generator=generator, dtype=torch.float64, requires_grad=True)
    items = torch.randn(n_items, d, generator=generator, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(n_items, (rows,), generator=generator)
    return hidden, items, targets


def test_full_cross_entropy_in_chunks_matches_autograd() -> None:
    hidden, items, targets = _inputs()
    ours = full_cross_entropy(hidden, items, targets, chunk_rows=3)  # chunks of 3, 3 and 1 rows
    grad_hidden, grad_items = torch.autograd.grad(2.0 * ours, (hidden, items))
    reference = functional.cross_entropy(hidden @ items.T, targets)
    ref_hidden, ref_items = torch.autograd.grad(2.0 * reference, (hidden, items))
    torch.testing.assert_close(ours, reference)
    torch.testing.assert_close(grad_hidden, ref_hidden)
    torch.testing.assert_close(grad_items, ref_items)


def test_sampled_softmax_gradient_is_the_softmax_less_the_target() -> None:
    positive = torch.tensor([1.0, -0.5], dtype=torch.float64, requires_grad=True)
    negative = torch.tensor([[0.2, 2.0, -1.0], [0.3, 0.3, 0.0]], dtype=torch.float64, requires_grad=True)
    log_expected = torch.log(torch.tensor([3 * 0.5, 3 * 0.2, 3 * 0.3], dtype=torch.float64))  # K q_j
    hit = torch.tensor([[False, False, True], [False, False, False]])
    loss = sampled_softmax(positive, negative, log_expected, hit)
    d_positive, d_negative = torch.autograd.grad(loss.sum(), (positive, negative))
    corrected = (negative.detach() - log_expected).masked_fill(hit, -math.inf)
    logits = torch.cat([positive.detach()[:, None], corrected], dim=1)
    p = torch.softmax(logits, dim=1)  # by hand: d/d logit_j = p_j - [j is the target]
    torch.testing.assert_close(loss, -torch.log(p[:, 0]))
    torch.testing.assert_close(d_positive, p[:, 0] - 1.0)
    torch.testing.assert_close(d_negative, p[:, 1:])
    assert d_negative[0, 2] == 0.0  # the negative that is the target is left out


def test_binary_cross_entropy_by_hand() -> None:
    positive = torch.tensor([0.5, -2.0], dtype=torch.float64, requires_grad=True)
    negative = torch.tensor([1.0, -1.0], dtype=torch.float64, requires_grad=True)
    loss = binary_cross_entropy(positive, negative)
    expected = -torch.log(torch.sigmoid(positive.detach())) - torch.log(1 - torch.sigmoid(negative.detach()))
    torch.testing.assert_close(loss, expected)
    d_positive, d_negative = torch.autograd.grad(loss.sum(), (positive, negative))
    torch.testing.assert_close(d_positive, torch.sigmoid(positive.detach()) - 1.0)
    torch.testing.assert_close(d_negative, torch.sigmoid(negative.detach()))


def test_gbce_beta_and_gradient_by_hand() -> None:
    assert gbce_beta(256, 3707, 0.0) == pytest.approx(1.0)  # t = 0: binary cross-entropy
    assert gbce_beta(256, 3707, 1.0) == pytest.approx(256 / 3706)  # t = 1: beta = alpha
    assert gbce_beta(256, 3707, 0.75) == pytest.approx(1 - 0.75 * (1 - 256 / 3706))
    beta = 0.3
    positive = torch.tensor([0.7], dtype=torch.float64, requires_grad=True)
    negative = torch.tensor([[0.1, -0.4, 2.0]], dtype=torch.float64, requires_grad=True)
    valid = torch.tensor([[1.0, 0.0, 1.0]], dtype=torch.float64)
    loss = calibrated_binary_cross_entropy(positive, negative, valid, beta)
    sig_p, sig_n = torch.sigmoid(positive.detach()), torch.sigmoid(negative.detach())
    torch.testing.assert_close(loss, -beta * torch.log(sig_p) - (torch.log(1 - sig_n) * valid).sum(dim=1))
    d_positive, d_negative = torch.autograd.grad(loss.sum(), (positive, negative))
    torch.testing.assert_close(d_positive, -beta * (1 - sig_p))
    torch.testing.assert_close(d_negative, sig_n * valid)


def _plain(kind: str, hidden, items, targets, negatives, log_expected, beta, window_of_row):
    """Each loss written plainly, from the full score matrix, for autograd."""
    scores = hidden @ items.T  # [N, n]
    positive = scores.gather(1, targets[:, None]).squeeze(1)
    if kind == "cross-entropy":
        return functional.cross_entropy(scores, targets)
    if kind == "bce":
        negative = scores.gather(1, negatives[:, None]).squeeze(1)
        return (-functional.logsigmoid(positive) - functional.logsigmoid(-negative)).mean()
    if kind == "sampled-cross-entropy":
        same = negatives[None, :] == targets[:, None]
        negative = scores[:, negatives]  # [N, K]
        logits = torch.cat([positive[:, None], (negative - log_expected).masked_fill(same, -math.inf)], dim=1)
        return functional.cross_entropy(logits, torch.zeros(len(targets), dtype=torch.long))
    row_negatives = negatives[window_of_row]  # [N, K]: the negatives of each row's window
    negative = scores.gather(1, row_negatives)
    same = row_negatives == targets[:, None]
    return (-beta * functional.logsigmoid(positive) - (functional.logsigmoid(-negative) * ~same).sum(1)).mean()


@pytest.mark.parametrize("kind", SEQUENCE_LOSSES.names())
def test_every_registered_loss_and_its_gradient_match_autograd(kind: str) -> None:
    generator = torch.Generator().manual_seed(4)
    windows = torch.randn(3, 4, 5, generator=generator, dtype=torch.float64, requires_grad=True)  # [B, T, d]
    present = torch.tensor([[False, True, True, True], [True, True, True, True], [False, False, False, True]])
    items = torch.randn(11, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    hidden = windows[present]  # [N, d]
    targets = torch.randint(11, (len(hidden),), generator=generator)
    window_of_row = torch.arange(3)[:, None].expand(3, 4)[present]
    entry = SEQUENCE_LOSSES[kind]
    negatives = log_expected = None
    if entry.negatives == "shared":
        negatives = torch.cat([targets[:2], torch.randint(11, (4,), generator=generator)])  # two accidental hits
        log_expected = torch.log(6 * torch.rand(6, generator=generator, dtype=torch.float64) / 11)
    elif entry.negatives == "per_window":
        negatives = torch.randint(11, (3, 6), generator=generator)
        negatives[1, 0] = targets[3]  # an accidental hit
    elif entry.negatives == "per_row":
        negatives = (targets + 1 + torch.randint(10, targets.shape, generator=generator)) % 11
    inputs = SequenceLossInputs(hidden, items, targets, negatives, log_expected, 0.4, windows, present)
    ours = sequence_loss(kind, inputs)
    reference = _plain(kind, hidden, items, targets, negatives, log_expected, 0.4, window_of_row)
    torch.testing.assert_close(ours, reference)
    ours_grads = torch.autograd.grad(ours, (windows, items), retain_graph=True)
    for got, want in zip(ours_grads, torch.autograd.grad(reference, (windows, items)), strict=True):
        torch.testing.assert_close(got, want)
