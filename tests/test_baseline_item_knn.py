"""Item-KNN: session co-occurrence cosine, neighbour cut-off, scores from the last item."""
import math

import numpy as np
import pytest
import torch

from engine.baselines import ItemKnnScorer
from engine.baselines.item_knn import session_cosine_similarity
from engine.data.session_log import SessionLog
from engine.evaluation.evaluator import EvaluationSettings, evaluate

torch.set_num_threads(1)


def make_log(rows: list[tuple[int, int, int]], n_users: int, n_items: int) -> SessionLog:
    user, session, item = (np.array(c, dtype=np.int64) for c in zip(*rows))
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
    standard = evaluate(scorer, TRAIN, test)
    assert standard.rank.tolist() == [2.0, 3.0, 3.0]
    conservative = evaluate(scorer, TRAIN, test, EvaluationSettings(tie_mode="conservative"))
    assert conservative.rank.tolist() == [2.0, 5.0, 5.0]
