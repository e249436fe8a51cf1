"""Rank of the target: tie modes, NaN scores, candidate restriction to popular items."""
import math

import numpy as np
import pytest
import torch

from engine.evaluation.popularity import most_popular_mask
from engine.evaluation.ranking import DEFAULT_TIE_MODE, rank_targets, rank_targets_with_ties

torch.set_num_threads(1)

# target 0 scores 0.5: one item above (0.9), two other items tied (items 2 and 4)
SCORES = torch.tensor([[0.5, 0.9, 0.5, 0.1, 0.5]])


@pytest.mark.parametrize("mode, expected", [("standard", 2.0), ("conservative", 4.0), ("median", 3.0)])
def test_tie_modes(mode: str, expected: float) -> None:
    assert rank_targets(SCORES, torch.tensor([0]), mode).tolist() == [expected]


def test_batch_of_rows_each_with_its_own_target() -> None:
    scores = torch.tensor([[3.0, 2.0, 1.0], [3.0, 2.0, 1.0], [1.0, 1.0, 1.0]])
    targets = torch.tensor([2, 0, 1])
    assert rank_targets(scores, targets, "standard").tolist() == [3.0, 1.0, 1.0]
    assert rank_targets(scores, targets, "conservative").tolist() == [3.0, 1.0, 3.0]
    assert rank_targets(scores, targets, "median").tolist() == [3.0, 1.0, 2.0]


def test_candidates_restrict_competitors_but_keep_the_target() -> None:
    candidates = torch.tensor([False, True, False, True, True])
    # target 0 is not a candidate: item 1 is above it, item 4 tied, items 2 (tied) and 3 do not compete
    assert rank_targets(SCORES, torch.tensor([0]), "standard", candidates).tolist() == [2.0]
    assert rank_targets(SCORES, torch.tensor([0]), "conservative", candidates).tolist() == [3.0]
    assert rank_targets(SCORES, torch.tensor([0]), "median", candidates).tolist() == [2.5]
    # target 4 is a candidate: item 1 above; its ties (items 0 and 2) are not candidates
    assert rank_targets(SCORES, torch.tensor([4]), "conservative", candidates).tolist() == [2.0]


@pytest.mark.parametrize("mode", ["standard", "conservative", "median"])
def test_nan_target_ranks_last(mode: str) -> None:
    nan = math.nan
    scores = torch.tensor([[nan, 0.2, 0.3], [nan, nan, nan], [0.2, 0.5, 0.1]])
    assert rank_targets(scores, torch.tensor([0, 1, 0]), mode).tolist() == [3.0, 3.0, 2.0]
    candidates = torch.tensor([False, True, False])
    assert rank_targets(scores[:1], torch.tensor([0]), mode, candidates).tolist() == [2.0]


@pytest.mark.parametrize("mode, expected", [("standard", [3.0, 5.0, 5.0]), ("conservative", [4.0, 5.0, 5.0]),
                                            ("median", [3.5, 5.0, 5.0])])
def test_nan_items_always_rank_above_the_target(mode: str, expected: list[float]) -> None:
    """A diverged model (NaN scores) must never look good: a NaN score of another item counts as
    above the target (never below), so a target among NaN items is not a hit, in every tie mode.
    Row 0: two NaN items, one tied item, one below; row 1: every other item NaN; row 2: all NaN."""
    nan = math.nan
    scores = torch.tensor([[0.5, nan, nan, 0.5, 0.1], [0.9, nan, nan, nan, nan], [nan] * 5])
    targets = torch.tensor([0, 0, 2])
    assert rank_targets(scores, targets, mode).tolist() == expected
    from engine.evaluation.ranking import rank_among_columns

    items = torch.arange(5)
    columns = torch.cat([items, targets])
    assert rank_among_columns(scores[:, columns], items, targets, mode).rank.tolist() == expected
    # restricted to candidates {1, 3}: the NaN item 1 still counts above the target
    mask = torch.tensor([False, True, False, True, False])
    restricted = rank_targets(scores[:1], targets[:1], mode, mask).tolist()
    assert restricted == [{"standard": 2.0, "conservative": 3.0, "median": 2.5}[mode]]


def test_unknown_tie_mode_is_refused() -> None:
    with pytest.raises(ValueError):
        rank_targets(SCORES, torch.tensor([0]), "optimistic")


def test_most_popular_mask_breaks_equal_counts_by_item_code() -> None:
    assert most_popular_mask(np.array([5, 1, 5, 3]), 2).tolist() == [True, False, True, False]
    assert most_popular_mask(np.array([5, 5, 5]), 2).tolist() == [True, True, False]
    assert most_popular_mask(np.array([1, 2]), 10).tolist() == [True, True]


@pytest.mark.parametrize("mode", ["standard", "conservative", "median"])
def test_ranking_from_candidate_columns_equals_ranking_over_all_items(mode: str) -> None:
    """Scores of only the candidates plus each row's target give the masked full ranking, ties,
    NaN and targets inside or outside the candidates included."""
    from engine.evaluation.ranking import rank_among_columns

    g = torch.Generator().manual_seed(3)
    scores = torch.randint(0, 4, (12, 30), generator=g).float()  # many ties
    scores[2, 5] = math.nan
    scores[7, :] = math.nan
    targets = torch.randint(0, 30, (12,), generator=g)
    targets[2] = 5  # a NaN target
    mask = torch.zeros(30, dtype=torch.bool)
    mask[torch.randperm(30, generator=g)[:9]] = True
    targets[3] = int(torch.nonzero(mask)[0])  # a target among the candidates
    candidates = torch.nonzero(mask).squeeze(1)
    columns = torch.cat([candidates, targets])
    ranked = rank_among_columns(scores[:, columns], candidates, targets, mode)
    ranks = ranked.rank
    assert ranks.tolist() == rank_targets(scores, targets, mode, mask).tolist()
    full = rank_targets_with_ties(scores, targets, mode, mask)
    assert ranked.tied.tolist() == full.tied.tolist() and ranked.floor.tolist() == full.floor.tolist()
    # the target's own candidate column scored a hair above (or below) its target column: ignored
    nudged = scores[:, columns].clone()
    position = int(torch.nonzero(candidates == targets[3])[0])
    nudged[3, position] = torch.nextafter(nudged[3, 9 + 3], torch.tensor(math.inf))
    assert rank_among_columns(nudged, candidates, targets, mode).rank[3] == ranks[3]


def test_conservative_ties_are_the_default() -> None:
    assert DEFAULT_TIE_MODE == "conservative"
    assert rank_targets(SCORES, torch.tensor([0])).tolist() == [4.0]
    from engine.evaluation.evaluator import EvaluationSettings

    assert EvaluationSettings().tie_mode == "conservative"


@pytest.mark.parametrize("mode, rank, hit", [("standard", 4.0, True), ("conservative", 1000.0, False),
                                             ("median", 502.0, False)])
def test_a_target_the_model_gave_nothing_among_1000_items(mode: str, rank: float, hit: bool) -> None:
    """The issue's case: the target scores 0 while 3 items score > 0, among 1,000 items. Optimistic
    ranks put it 4th (a hit at 5); conservatively the 996 other zeros rank above it (rank 1000), and
    the median counts half of them (4 + 498 = 502)."""
    from engine.evaluation.metrics import mean_metrics

    scores = torch.zeros(1, 1000)
    scores[0, [10, 20, 30]] = torch.tensor([0.3, 0.2, 0.1])
    ranked = rank_targets_with_ties(scores, torch.tensor([7]), mode)
    assert ranked.rank.tolist() == [rank]
    assert ranked.tied.tolist() == [996] and ranked.floor.tolist() == [True]
    assert mean_metrics(ranked.rank.numpy(), (5,))["recall@5"] == (1.0 if hit else 0.0)


def test_ties_and_floor_of_each_target() -> None:
    """Row 0: target 0 tied with items 2 and 4 and above item 3: 2 tied, not at the floor. Row 1:
    target 3, the lowest score alone: at the floor with no tie. Row 2: all equal: 4 tied, at the floor.
    With candidates {1, 3, 4}: target 0 (not a candidate) ties with item 4 only, item 3 below it."""
    scores = torch.cat([SCORES, SCORES, torch.ones(1, 5)])
    ranked = rank_targets_with_ties(scores, torch.tensor([0, 3, 2]), "conservative")
    assert ranked.tied.tolist() == [2, 0, 4]
    assert ranked.floor.tolist() == [False, True, True]
    candidates = torch.tensor([False, True, False, True, True])
    restricted = rank_targets_with_ties(SCORES, torch.tensor([0]), "conservative", candidates)
    assert restricted.tied.tolist() == [1] and restricted.floor.tolist() == [False]
    # NaN target: no ties counted, at the floor (its rank is the last anyway)
    nan_row = rank_targets_with_ties(torch.tensor([[math.nan, 0.5, 0.5]]), torch.tensor([0]), "conservative")
    assert nan_row.tied.tolist() == [0] and nan_row.floor.tolist() == [True] and nan_row.rank.tolist() == [3.0]


@pytest.mark.parametrize("source", ["standard", "conservative", "median"])
def test_ranks_move_exactly_between_tie_modes_through_the_tie_counts(source: str) -> None:
    from engine.evaluation.ties import convert_ranks

    g = torch.Generator().manual_seed(5)
    scores = torch.randint(0, 3, (20, 40), generator=g).float()
    targets = torch.randint(0, 40, (20,), generator=g)
    ranked = rank_targets_with_ties(scores, targets, source)
    for mode in ("standard", "conservative", "median"):
        moved = convert_ranks(ranked.rank.numpy(), ranked.tied.numpy(), source, mode)
        assert moved.tolist() == rank_targets(scores, targets, mode).tolist()


@pytest.mark.parametrize("mode", ["standard", "conservative", "median"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_counting_kernels_give_the_previous_ranks_bit_for_bit(mode: str, seed: int) -> None:
    """Random scores with many ties, NaN items, NaN targets, targets inside and outside the
    candidates, several chunks of rows: ranks, ties and floor flags equal those of the previous
    implementation (full masks, tests/ranking_reference.py)."""
    from engine.evaluation.ranking import rank_among_columns
    from tests.ranking_reference import reference_rank_among_columns, reference_rank_targets_with_ties

    g = torch.Generator().manual_seed(seed)
    n_rows, n_items = 300, 3000
    scores = torch.randint(0, 6, (n_rows, n_items), generator=g).float() / 4  # heavy ties
    scores[torch.rand(n_rows, n_items, generator=g) < 0.01] = math.nan
    targets = torch.randint(0, n_items, (n_rows,), generator=g)
    scores[5, targets[5]] = math.nan
    scores[6] = math.nan
    mask = torch.rand(n_items, generator=g) < 0.3
    candidates = torch.nonzero(mask).squeeze(1)
    targets[:40] = candidates[torch.randint(0, len(candidates), (40,), generator=g)]
    for candidates_mask in (None, mask):
        new = rank_targets_with_ties(scores, targets, mode, candidates_mask)
        old = reference_rank_targets_with_ties(scores, targets, mode, candidates_mask)
        assert torch.equal(new.rank, old.rank) and torch.equal(new.tied, old.tied) and torch.equal(new.floor, old.floor)
    columns = scores[:, torch.cat([candidates, targets])]
    columns[7, len(candidates) + 7] = math.nan
    new = rank_among_columns(columns, candidates, targets, mode)
    old = reference_rank_among_columns(columns, candidates, targets, mode)
    assert torch.equal(new.rank, old.rank) and torch.equal(new.tied, old.tied) and torch.equal(new.floor, old.floor)


def test_candidate_columns_must_be_ascending() -> None:
    from engine.evaluation.ranking import rank_among_columns

    with pytest.raises(ValueError, match="ascending"):
        rank_among_columns(torch.zeros(1, 4), torch.tensor([2, 1, 0]), torch.tensor([0]))
