"""The ranking of the evaluation before its counting passes were fused (kept as the reference the
faster kernels must match bit for bit: tests/test_evaluation_ranking.py, bench/bench_ranking.py).
Each helper builds full [rows, items] boolean masks and sums them."""
from __future__ import annotations

import torch

from engine.evaluation.ranking import TIED_ABOVE, TargetRanks, TieMode, _check_mode

_CPU_CHUNK_SCORES = 1 << 19


def reference_rank_targets_with_ties(
    scores: torch.Tensor, targets: torch.Tensor, tie_mode: TieMode,
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
    chunk = max(1, _CPU_CHUNK_SCORES // max(1, n_items)) if scores.device.type == "cpu" else n_rows
    if chunk >= n_rows:
        return _rank_rows(scores, targets, tie_mode, candidates)
    return _cat([
        _rank_rows(scores[i : i + chunk], targets[i : i + chunk], tie_mode, candidates)
        for i in range(0, n_rows, chunk)
    ])


def _rank_rows(
    scores: torch.Tensor, targets: torch.Tensor, tie_mode: TieMode, candidates: torch.Tensor | None,
) -> TargetRanks:
    """:func:`rank_targets_with_ties` of one chunk of rows."""
    target_scores = scores.gather(1, targets.unsqueeze(1))  # [b, 1]
    higher = _not_below(scores, target_scores)  # [b, n_items]
    tied = scores == target_scores  # [b, n_items]
    if candidates is not None:
        higher &= candidates
        tied &= candidates
        target_is_candidate = candidates[targets].to(torch.int64)  # [b]
        n_competing = int(candidates.sum()) + 1 - target_is_candidate  # [b]
    else:
        target_is_candidate = torch.ones_like(targets)  # [b]
        n_competing = torch.full_like(targets, scores.shape[1])  # [b]
    return _ranks(higher, tied, target_scores.squeeze(1), target_is_candidate, n_competing, tie_mode)


def reference_rank_among_columns(
    scores: torch.Tensor, candidate_items: torch.Tensor, targets: torch.Tensor, tie_mode: TieMode,
) -> TargetRanks:
    """:func:`rank_targets_with_ties` with candidates, from scores of the candidate items only.

    ``scores`` [b, N + b]: columns 0..N-1 score the N ``candidate_items`` [N], column N + i row
    i's target ``targets[i]``. A target that is also a candidate competes once: its candidate
    column is left out (the two columns of one item may differ in the last bit, computed at two
    places of one matrix product). The same ranks as :func:`rank_targets_with_ties` over all items
    with those N items as ``candidates``."""
    _check_mode(tie_mode)
    n_rows = scores.shape[0]
    n_candidates = scores.shape[1] - n_rows
    rows = torch.arange(n_rows, device=scores.device)
    target_scores = scores[rows, n_candidates + rows]  # [b]
    others = candidate_items.unsqueeze(0) != targets.unsqueeze(1)  # [b, N]: not the target itself
    among = scores[:, :n_candidates]  # [b, N]
    higher = _not_below(among, target_scores.unsqueeze(1)) & others
    tied = (among == target_scores.unsqueeze(1)) & others
    is_candidate = (~others).any(dim=1).to(torch.int64)  # [b]
    return _ranks(higher, tied, target_scores, torch.zeros_like(is_candidate), n_candidates + 1 - is_candidate,
                  tie_mode)


def _not_below(scores: torch.Tensor, target_scores: torch.Tensor) -> torch.Tensor:
    """bool, the shape of ``scores``: the item scored strictly higher than the target, or NaN (a
    NaN compares false to everything: ``not (x <= t)`` counts it as above). The target's own
    entry is never set unless the target is NaN, whose rank is replaced anyway."""
    return torch.le(scores, target_scores).logical_not_()


def _ranks(higher: torch.Tensor, tied: torch.Tensor, target_scores: torch.Tensor, tied_self: torch.Tensor,
           n_competing: torch.Tensor, tie_mode: TieMode) -> TargetRanks:
    """rank = 1 + #higher + t * #tied (``tied_self``: the target's own entry among ``tied``, left
    out), or the number of competing items for a NaN target; the ties and the floor flag."""
    n_higher = higher.sum(1, dtype=torch.int32).to(torch.int64)  # [b] (int32 sums are the fastest)
    n_tied = tied.sum(1, dtype=torch.int32).to(torch.int64) - tied_self  # [b]
    nan = torch.isnan(target_scores)  # [b]
    n_tied = torch.where(nan, torch.zeros_like(n_tied), n_tied)
    rank = 1.0 + n_higher.to(torch.float64) + TIED_ABOVE[tie_mode] * n_tied.to(torch.float64)  # [b]
    rank = torch.where(nan, n_competing.to(torch.float64), rank)
    floor = nan | (n_higher + n_tied + 1 >= n_competing)  # nothing competing scored below the target
    return TargetRanks(rank, n_tied, floor)


def _cat(parts: list[TargetRanks]) -> TargetRanks:
    return TargetRanks(torch.cat([p.rank for p in parts]), torch.cat([p.tied for p in parts]),
                       torch.cat([p.floor for p in parts]))
