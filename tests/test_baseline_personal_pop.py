"""Personal Pop: own training counts + current-session counts, ties by global popularity; the items
the user has no events on follow by popularity (the fill, on by default) or tie at 0."""
import numpy as np
import pytest
import torch

from engine.baselines.personal_pop import PersonalPopConfig, PersonalPopScorer, fit
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


def slot_scores(scorer, slot: int) -> np.ndarray:
    return scorer.scores(np.array([slot]))[0].numpy()


def own(counts: list[int]) -> np.ndarray:
    """The scores of items with these counts: count + popularity tie-breaker, 0 without events."""
    counts_array = np.array(counts, dtype=np.float64)
    return np.where(counts_array > 0, counts_array + TIE, 0.0)


def test_scores_by_hand() -> None:
    scorer = PersonalPopScorer.fit(TRAIN)
    scorer.reset(2)
    scorer.assign(np.array([0, 1]), np.array([0, 2]))
    assert slot_scores(scorer, 0) == pytest.approx(own([1, 2, 2, 0, 0]))
    assert slot_scores(scorer, 1) == pytest.approx(np.zeros(5))  # no history, nothing consumed: no own items
    active = np.array([True, False])
    scorer.consume(np.array([1, 0]), np.array([True, False]), active)
    assert slot_scores(scorer, 0) == pytest.approx(own([1, 3, 2, 0, 0]))
    scorer.consume(np.array([0, 0]), np.array([False, False]), active)
    scorer.consume(np.array([0, 0]), np.array([False, False]), active)
    assert slot_scores(scorer, 0) == pytest.approx(own([3, 3, 2, 0, 0]))
    scorer.consume(np.array([4, 0]), np.array([True, False]), active)  # a new session forgets the old one
    assert slot_scores(scorer, 0) == pytest.approx(own([1, 2, 2, 0, 1]))
    assert slot_scores(scorer, 1) == pytest.approx(np.zeros(5))  # inactive slot untouched
    scorer.assign(np.array([0]), np.array([1]))
    assert slot_scores(scorer, 0) == pytest.approx(own([1, 0, 1, 1, 0]))


def test_equal_own_counts_are_ordered_by_global_popularity() -> None:
    """DESIGN §4: the user's items with equal counts follow global popularity. User 0 has items 1 and 2
    twice each; item 2 is more popular (3 events against 2), so it comes first; with the fill too."""
    for scorer in (PersonalPopScorer.fit(TRAIN), fit(PersonalPopConfig(), TRAIN)):
        scorer.reset(1)
        scorer.assign(np.array([0]), np.array([0]))
        scores = slot_scores(scorer, 0)
        assert scores[2] > scores[1] > scores[0] > max(scores[3], scores[4])


def test_list_is_full_and_ordered_by_popularity_beyond_own_items() -> None:
    """User 1 has items 2 (pop 3), 0 (pop 2) and 3 (pop 1) once each; with the fill, item 1 (pop 2)
    and item 4 (pop 0) follow by popularity, no two items tied. Without it they tie at 0."""
    scorer = fit(PersonalPopConfig(), TRAIN)
    scorer.reset(1)
    scorer.assign(np.array([0]), np.array([1]))
    scores = slot_scores(scorer, 0)
    assert np.argsort(-scores, kind="stable").tolist() == [2, 0, 3, 1, 4]
    assert len(set(scores.tolist())) == 5
    unfilled = fit(PersonalPopConfig(popularity_fill=False), TRAIN)
    unfilled.reset(1)
    unfilled.assign(np.array([0]), np.array([1]))
    assert slot_scores(unfilled, 0)[[1, 4]].tolist() == [0.0, 0.0]


def test_session_buffer_grows() -> None:
    scorer = PersonalPopScorer.fit(TRAIN)
    scorer.reset(1)
    scorer.assign(np.array([0]), np.array([1]))
    for _ in range(20):
        scorer.consume(np.array([4]), np.array([False]), np.array([True]))
    assert scorer.scores(np.array([0]))[0, 4].item() == pytest.approx(20.0)


def test_evaluated_ranks_by_hand() -> None:
    result = evaluate(fit(PersonalPopConfig(), TRAIN), TRAIN, TEST, EvaluationSettings(ks=(2,)))
    # user 0 after item 1: [1, 2, 0, ...] -> target 2 rank 2; after 2: [2, 1, 0] -> target 0 rank 3
    # user 1 after item 3: [3 (2 events), 2 (1, pop 3), 0 (1, pop 2), ...] -> target 2 rank 2
    assert result.rank.tolist() == [2.0, 3.0, 2.0]
    assert result.tied.tolist() == [0, 0, 0]
