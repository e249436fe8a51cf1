"""Rank of each target item among the scored items, batched on torch tensors (CPU or GPU), with
what the ties were: how many items were scored exactly like the target, and whether the target
sat at the very bottom of the list (the model gave it nothing)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch

#: How items scored exactly as the target count: "conservative" (every tied item ranks above it:
#: the default, as in the official GRU4Rec evaluation), "median" (half of them do), "standard"
#: (optimistic: ties never count against the target).
TieMode = Literal["conservative", "median", "standard"]
TIE_MODES: tuple[TieMode, ...] = get_args(TieMode)
#: What every figure uses unless the user chooses otherwise (DESIGN §5).
DEFAULT_TIE_MODE: TieMode = "conservative"
#: The share of the tied items that rank above the target, per tie mode.
TIED_ABOVE: dict[str, float] = {"conservative": 1.0, "median": 0.5, "standard": 0.0}

#: On CPU, rows are counted in chunks of about this many scores, so that the [rows, n_items]
#: temporaries stay in cache instead of being allocated (and page-faulted) at full batch size;
#: this makes ranking several times faster. Other devices count the whole batch at once.
_CPU_CHUNK_SCORES = 1 << 17


@dataclass(frozen=True)
class TargetRanks:
    """Ranks of a batch of targets and their ties. ``rank`` float64 [b] (1 = best); ``tied`` int64
    [b]: the other competing items scored exactly like the target; ``floor`` bool [b]: no
    competing item scored below the target (it is last, alone or tied with the lowest-scored
    items: the model gave it nothing). A NaN target has ``tied`` 0 and ``floor`` True."""

    rank: torch.Tensor
    tied: torch.Tensor
    floor: torch.Tensor


def _check_mode(tie_mode: str) -> None:
    if tie_mode not in TIE_MODES:
        raise ValueError(f"tie mode {tie_mode!r} is not one of {TIE_MODES}")


def rank_targets(
    scores: torch.Tensor, targets: torch.Tensor, tie_mode: TieMode = DEFAULT_TIE_MODE,
    candidates: torch.Tensor | None = None,
) -> torch.Tensor:
    """float64 [b]: rank of ``targets`` [b] (int64 item codes) under ``scores`` [b, n_items], 1 = best
    (the ``rank`` of :func:`rank_targets_with_ties`)."""
    return rank_targets_with_ties(scores, targets, tie_mode, candidates).rank


def rank_targets_with_ties(
    scores: torch.Tensor, targets: torch.Tensor, tie_mode: TieMode = DEFAULT_TIE_MODE,
    candidates: torch.Tensor | None = None,
) -> TargetRanks:
    """Ranks and ties of ``targets`` [b] (int64 item codes) under ``scores`` [b, n_items].

    rank = 1 + #higher + t * #tied, with #tied counting the other items scored exactly as the target
    and t = 1, 1/2, 0 for the conservative, median and standard tie modes. Only items in
    ``candidates`` (bool [n_items]; None means all) and the target itself compete.

    NaN: a target scored NaN gets the worst rank (the number of competing items) in every tie
    mode; another item scored NaN always counts as above the target (never below it), so a model
    that scores NaN never looks good.
    """
    _check_mode(tie_mode)
    n_rows, n_items = scores.shape
    target_scores = scores.gather(1, targets.unsqueeze(1)).squeeze(1)  # [b]
    if candidates is None:
        # every item competes: #higher = n_items - #(x <= t), counting NaN items as higher; the
        # target's own entry is among the items <= t and tied (unless it is NaN: replaced anyway)
        at_most, equal = _count_rows(scores, target_scores)
        n_higher = n_items - at_most
        n_tied = equal - 1
        n_competing = torch.full_like(targets, n_items)  # [b]
    else:
        higher = _not_below(scores, target_scores.unsqueeze(1)) & candidates  # [b, n_items]
        tied = (scores == target_scores.unsqueeze(1)) & candidates
        target_is_candidate = candidates[targets].to(torch.int64)  # [b]
        n_higher = higher.sum(1, dtype=torch.int32).to(torch.int64)
        n_tied = tied.sum(1, dtype=torch.int32).to(torch.int64) - target_is_candidate
        n_competing = int(candidates.sum()) + 1 - target_is_candidate  # [b]
    return _ranks(n_higher, n_tied, target_scores, n_competing, tie_mode)


def rank_among_columns(
    scores: torch.Tensor, candidate_items: torch.Tensor, targets: torch.Tensor, tie_mode: TieMode = DEFAULT_TIE_MODE,
) -> TargetRanks:
    """:func:`rank_targets_with_ties` with candidates, from scores of the candidate items only.

    ``scores`` [b, N + b]: columns 0..N-1 score the N ``candidate_items`` [N] (ascending item
    codes), column N + i row i's target ``targets[i]``: :func:`rank_among_candidates` of those
    columns and that diagonal."""
    n_rows = scores.shape[0]
    n_candidates = scores.shape[1] - n_rows
    rows = torch.arange(n_rows, device=scores.device)
    return rank_among_candidates(scores[:, :n_candidates], scores[rows, n_candidates + rows], candidate_items,
                                 targets, tie_mode)


def rank_among_candidates(
    candidate_scores: torch.Tensor, target_scores: torch.Tensor, candidate_items: torch.Tensor, targets: torch.Tensor,
    tie_mode: TieMode = DEFAULT_TIE_MODE,
) -> TargetRanks:
    """Ranks and ties of ``targets`` [b] among the N ``candidate_items`` [N] (ascending item codes)
    and themselves, from ``candidate_scores`` [b, N] and each row's ``target_scores`` [b]. A target
    that is also a candidate competes once: its candidate column is left out (its score there may
    differ in the last bit from ``target_scores``, computed elsewhere). The same ranks as
    :func:`rank_targets_with_ties` over all items with those N items as ``candidates``.

    Two counting passes over the candidate columns, a few rows at a time so that they stay in
    cache: #(x <= t) and #(x == t); the target's own candidate column is then taken out of both."""
    _check_mode(tie_mode)
    n_candidates = candidate_scores.shape[1]
    if n_candidates > 1 and bool((candidate_items[1:] <= candidate_items[:-1]).any()):
        raise ValueError("candidate items must be distinct and ascending")
    at_most, equal = _count_rows(candidate_scores, target_scores)
    if n_candidates:
        rows = torch.arange(len(targets), device=candidate_scores.device)
        position = torch.searchsorted(candidate_items, targets).clamp_(max=n_candidates - 1)  # [b]
        is_candidate = candidate_items[position] == targets  # [b]
        own = candidate_scores[rows, position]  # [b]: the target's own candidate column (where it is one)
        at_most = at_most - (is_candidate & (own <= target_scores)).to(torch.int64)
        equal = equal - (is_candidate & (own == target_scores)).to(torch.int64)
        n_others = n_candidates - is_candidate.to(torch.int64)  # [b] competing items besides the target
    else:
        n_others = torch.zeros_like(targets)
    # NaN candidates are not <= the target: they count as higher, as in rank_targets_with_ties
    return _ranks(n_others - at_most, equal, target_scores, n_others + 1, tie_mode)


def _count_rows(scores: torch.Tensor, target_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """int64 [b] each: per row, the entries of ``scores`` [b, n] that are <= and == the row's
    ``target_scores`` [b]. On CPU, a few rows at a time (their temporaries stay in cache)."""
    n_rows, n_columns = scores.shape
    at_most = torch.empty(n_rows, dtype=torch.int64, device=scores.device)
    equal = torch.empty_like(at_most)
    chunk = max(1, _CPU_CHUNK_SCORES // max(1, n_columns)) if scores.device.type == "cpu" else max(n_rows, 1)
    for start in range(0, n_rows, chunk):
        part = scores[start : start + chunk]  # [c, n]
        target = target_scores[start : start + chunk].unsqueeze(1)  # [c, 1]
        at_most[start : start + chunk] = (part <= target).sum(1, dtype=torch.int32)
        equal[start : start + chunk] = (part == target).sum(1, dtype=torch.int32)
    return at_most, equal


def _not_below(scores: torch.Tensor, target_scores: torch.Tensor) -> torch.Tensor:
    """bool, the shape of ``scores``: the item scored strictly higher than the target, or NaN (a
    NaN compares false to everything: ``not (x <= t)`` counts it as above). The target's own
    entry is never set unless the target is NaN, whose rank is replaced anyway."""
    return torch.le(scores, target_scores).logical_not_()


def _ranks(n_higher: torch.Tensor, n_tied: torch.Tensor, target_scores: torch.Tensor, n_competing: torch.Tensor,
           tie_mode: TieMode) -> TargetRanks:
    """rank = 1 + #higher + t * #tied, or the number of competing items for a NaN target; the ties
    (0 for a NaN target) and the floor flag."""
    nan = torch.isnan(target_scores)  # [b]
    n_tied = torch.where(nan, torch.zeros_like(n_tied), n_tied)
    rank = 1.0 + n_higher.to(torch.float64) + TIED_ABOVE[tie_mode] * n_tied.to(torch.float64)  # [b]
    rank = torch.where(nan, n_competing.to(torch.float64), rank)
    floor = nan | (n_higher + n_tied + 1 >= n_competing)  # nothing competing scored below the target
    return TargetRanks(rank, n_tied, floor)
