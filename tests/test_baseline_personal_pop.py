"""Personal Pop: own training counts + current-session counts, ties by global popularity."""
import numpy as np
import pytest
import torch

from engine.baselines.personal_pop import PersonalPopScorer
from engine.data.session_log import SessionLog
from engine.evaluation.evaluator import EvaluationSettings, evaluate

torch.set_num_threads(1)


def make_log(rows: list[tuple[int, int, int]], n_users: int, n_items: int) -> SessionLog:
    user, session, item = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
    return SessionLog.from_arrays(user, session, item, np.arange(len(rows), dtype=float), n_users, n_items)


# user 0 counts: item 0: 1, item 1: 2, item 2: 2; user 1: items 2, 3, 0 once each
# global popularity: item 0: 2, item 1: 2, item 2: 3, item 3: 1, item 4: 0
TRAIN = make_log([(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 1), (0, 1, 2), (1, 2, 2), (1, 2, 3), (1, 2, 0)], 3, 5)
TEST = make_log([(0, 0, 1), (0, 0, 2), (0, 0, 0), (1, 1, 3), (1, 1, 2)], 3, 5)


# tie-breaker: dense rank of popularity (levels 0, 1, 2, 3) / (4 levels + 1)
TIE = np.array([2, 2, 3, 1, 0]) / 5


def slot_scores(scorer: PersonalPopScorer, slot: int) -> np.ndarray:
    return scorer.scores(np.array([slot]))[0].numpy()


def test_scores_by_hand() -> None:
    scorer = PersonalPopScorer.fit(TRAIN)
    scorer.reset(2)
    scorer.assign(np.array([0, 1]), np.array([0, 2]))
    assert slot_scores(scorer, 0) == pytest.approx(np.array([1, 2, 2, 0, 0]) + TIE)
    assert slot_scores(scorer, 1) == pytest.approx(TIE)  # no history: global popularity
    active = np.array([True, False])
    scorer.consume(np.array([1, 0]), np.array([True, False]), active)
    assert slot_scores(scorer, 0) == pytest.approx(np.array([1, 3, 2, 0, 0]) + TIE)
    scorer.consume(np.array([0, 0]), np.array([False, False]), active)
    scorer.consume(np.array([0, 0]), np.array([False, False]), active)
    assert slot_scores(scorer, 0) == pytest.approx(np.array([3, 3, 2, 0, 0]) + TIE)
    scorer.consume(np.array([4, 0]), np.array([True, False]), active)  # a new session forgets the old one
    assert slot_scores(scorer, 0) == pytest.approx(np.array([1, 2, 2, 0, 1]) + TIE)
    assert slot_scores(scorer, 1) == pytest.approx(TIE)  # inactive slot untouched
    scorer.assign(np.array([0]), np.array([1]))
    assert slot_scores(scorer, 0) == pytest.approx(np.array([1, 0, 1, 1, 0]) + TIE)


def test_list_is_full_and_ordered_by_popularity_beyond_own_items() -> None:
    scorer = PersonalPopScorer.fit(TRAIN)
    scorer.reset(1)
    scorer.assign(np.array([0]), np.array([1]))
    assert np.argsort(-slot_scores(scorer, 0), kind="stable").tolist() == [2, 0, 3, 1, 4]


def test_session_buffer_grows() -> None:
    scorer = PersonalPopScorer.fit(TRAIN)
    scorer.reset(1)
    scorer.assign(np.array([0]), np.array([1]))
    for _ in range(20):
        scorer.consume(np.array([4]), np.array([False]), np.array([True]))
    assert scorer.scores(np.array([0]))[0, 4].item() == pytest.approx(20.0)


def test_evaluated_ranks_by_hand() -> None:
    result = evaluate(PersonalPopScorer.fit(TRAIN), TRAIN, TEST, EvaluationSettings(ks=(2,)))
    # user 0 after item 1: [1, 2, 0, ...] -> target 2 rank 2; after 2: [2, 1, 0] -> target 0 rank 3
    # user 1 after item 3: [3 (2 events), 2 (1, pop 3), 0 (1, pop 2), ...] -> target 2 rank 2
    assert result.rank.tolist() == [2.0, 3.0, 2.0]
