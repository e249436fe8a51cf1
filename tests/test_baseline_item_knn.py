"""Item-KNN: session co-occurrence cosine, neighbour cut-off, scores from the last item."""
import math

import numpy as np
import pytest
import torch

from engine.baselines.item_knn import BYTES_PER_ENTRY, ItemKnnScorer, session_cosine_similarity
from engine.data.session_log import SessionLog
from engine.errors import Cancelled
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.progress import CancelToken

torch.set_num_threads(1)


def make_log(rows: list[tuple[int, int, int]], n_users: int, n_items: int) -> SessionLog:
    user, session, item = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
    return SessionLog.from_arrays(user, session, item, np.arange(len(rows), dtype=float), n_users, n_items)


# sessions {0, 1, 2}, {1, 2} (item 2 repeated), {2, 3, 0}; item 4 never occurs
TRAIN = make_log([(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 1), (0, 1, 2), (0, 1, 2),
                  (1, 2, 2), (1, 2, 3), (1, 2, 0)], 2, 5)
# sessions with: item 0: 2, item 1: 2, item 2: 3, item 3: 1
S01, S02, S03, S12, S23 = 1 / math.sqrt(4), 2 / math.sqrt(6), 1 / math.sqrt(2), 2 / math.sqrt(6), 1 / math.sqrt(3)
EXPECTED = np.array([
    [0, S01, S02, S03, 0],
    [S01, 0, S12, 0, 0],
    [S02, S12, 0, S23, 0],
    [S03, 0, S23, 0, 0],
    [0, 0, 0, 0, 0],
])


def test_cosine_similarity_by_hand() -> None:
    assert session_cosine_similarity(TRAIN).toarray() == pytest.approx(EXPECTED, abs=1e-6)


def test_neighbour_cut_off_keeps_largest_then_lowest_code() -> None:
    sim = session_cosine_similarity(TRAIN, n_neighbors=1).toarray()
    # row 2: items 0 and 1 tie at 2/sqrt(6): item 0 is kept
    assert [np.flatnonzero(row).tolist() for row in sim] == [[2], [2], [0], [0], []]


def test_scores_from_last_item_of_the_session() -> None:
    scorer = ItemKnnScorer.fit(TRAIN)
    scorer.reset(2)
    scorer.assign(np.array([0, 1]), np.array([0, 1]))
    assert scorer.scores(np.array([0])).tolist() == [[0.0] * 5]  # nothing consumed yet
    scorer.consume(np.array([1, 3]), np.array([True, True]), np.array([True, True]))
    scorer.consume(np.array([0, 9]), np.array([False, False]), np.array([True, False]))
    assert scorer.scores(np.array([1, 0])).numpy() == pytest.approx(EXPECTED[[3, 0]], abs=1e-6)


def test_evaluated_ranks_by_hand() -> None:
    test = make_log([(0, 0, 0), (0, 0, 3), (0, 0, 1), (1, 1, 0), (1, 1, 4)], 2, 5)
    scorer = ItemKnnScorer.fit(TRAIN, n_neighbors=2)
    # row 0 keeps items 2 (0.816) and 3 (0.707). After 0: target 3 is second. After 3 (row 3: 0, 2):
    # target 1 scores 0 like items 3 and 4. After 0: target 4 scores 0 like items 0 and 1.
    standard = evaluate(scorer, TRAIN, test, EvaluationSettings(tie_mode="standard"))
    assert standard.rank.tolist() == [2.0, 3.0, 3.0]
    conservative = evaluate(scorer, TRAIN, test)  # the default
    assert conservative.rank.tolist() == [2.0, 5.0, 5.0]
    assert conservative.tied.tolist() == [0, 2, 2] and conservative.floor.tolist() == [False, True, True]


def reference_similarity(log: SessionLog, n_neighbors: int) -> tuple[np.ndarray, bool]:
    """(float32 [n_items, n_items] dense Item-KNN similarities computed the plain way, whether some
    row's cut-off fell between equal similarities)."""
    occurs = np.zeros((log.n_sessions, log.n_items), dtype=np.int64)
    occurs[log.session, log.item] = 1
    both = occurs.T @ occurs  # [n_items, n_items]
    sessions_with = occurs.sum(axis=0)
    expected = np.zeros((log.n_items, log.n_items), dtype=np.float32)
    tie_at_cut = False
    for i in range(log.n_items):
        candidates = [j for j in range(log.n_items) if j != i and both[i, j] > 0]
        sims = {j: both[i, j] / math.sqrt(sessions_with[i] * sessions_with[j]) for j in candidates}
        ranked = sorted(candidates, key=lambda j: (-sims[j], j))
        for j in ranked[:n_neighbors]:
            expected[i, j] = sims[j]
        if 0 < n_neighbors < len(ranked):
            tie_at_cut |= sims[ranked[n_neighbors - 1]] == sims[ranked[n_neighbors]]
    return expected, tie_at_cut


def random_log(rng: np.random.Generator, n_items: int) -> SessionLog:
    """Sessions of 1-5 events over all items but the last two (which never occur), repeats allowed."""
    lengths = rng.integers(1, 6, size=int(rng.integers(5, 30)))
    session = np.repeat(np.arange(len(lengths)), lengths)
    item = rng.integers(0, n_items - 2, size=len(session))
    return SessionLog.from_arrays(np.zeros(len(session), dtype=np.int64), session, item,
                                  np.arange(len(session), dtype=float), 1, n_items)


def test_blocked_fit_equals_the_plain_computation_for_any_block_size() -> None:
    rng = np.random.default_rng(7)
    budgets = [1, 5 * BYTES_PER_ENTRY, 40 * BYTES_PER_ENTRY, 1 << 40]  # 1 row a block ... one block
    ties_cut = 0
    for _ in range(25):
        log = random_log(rng, n_items=int(rng.integers(4, 16)))
        for n_neighbors in (1, 2, 3, 300):
            expected, tie_at_cut = reference_similarity(log, n_neighbors)
            ties_cut += tie_at_cut
            for budget in budgets:
                sim = session_cosine_similarity(log, n_neighbors, memory_budget_bytes=budget)
                assert sim.dtype == np.float32 and sim.has_sorted_indices
                assert np.array_equal(sim.toarray(), expected)
                assert sim.nnz == np.count_nonzero(expected)
    assert ties_cut > 0  # the cut-off between equal similarities was exercised


def test_memory_budget_sets_the_blocks_reported_to_progress() -> None:
    # items 0-11 in their own sessions, then 0 and 5 together: every row has entries to compute
    log = make_log([(0, s, i) for s, i in enumerate(range(12))] + [(0, 12, 0), (0, 12, 5)], 1, 12)
    for budget, n_blocks in ((1, 12), (1 << 40, 1)):
        reports: list[float] = []
        session_cosine_similarity(log, memory_budget_bytes=budget,
                                  progress=lambda fraction, message, reports=reports: reports.append(fraction))
        assert len(reports) == n_blocks and reports[-1] == 1.0


def test_cancelled_fit_raises() -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        session_cosine_similarity(TRAIN, cancel=cancel)
