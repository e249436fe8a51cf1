"""Pop: scores are training counts, whatever was consumed."""
import numpy as np
import torch

from engine.baselines.pop import MODEL, PopConfig, PopScorer
from engine.data.session_log import SessionLog
from engine.evaluation.evaluator import EvaluationSettings, evaluate

torch.set_num_threads(1)


def make_log(rows: list[tuple[int, int, int]], n_users: int, n_items: int) -> SessionLog:
    user, session, item = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
    return SessionLog.from_arrays(user, session, item, np.arange(len(rows), dtype=float), n_users, n_items)


# counts: item 0: 2, item 1: 3, item 2: 1, item 3: 0, item 4: 2
TRAIN = make_log([(0, 0, 1), (0, 0, 0), (0, 1, 1), (0, 1, 4), (1, 2, 1), (1, 2, 0), (1, 2, 2), (1, 2, 4)], 2, 5)
TEST = make_log([(0, 0, 2), (0, 0, 4), (0, 0, 3), (1, 1, 1), (1, 1, 0)], 2, 5)


def test_scores_are_training_counts() -> None:
    scorer = PopScorer.fit(TRAIN)
    scorer.reset(2)
    scorer.consume(np.array([3, 2]), np.array([True, True]), np.array([True, True]))
    assert scorer.scores(np.array([1, 0])).tolist() == [[2.0, 3.0, 1.0, 0.0, 2.0]] * 2


def test_pop_ranks() -> None:
    scorer = MODEL.fit(PopConfig(), TRAIN)
    # order 1 (3) > 0, 4 (2) > 2 (1) > 3 (0); targets 4, 3, 0
    standard = evaluate(scorer, TRAIN, TEST, EvaluationSettings(ks=(2,), tie_mode="standard"))
    assert standard.rank.tolist() == [2.0, 5.0, 2.0]
    conservative = evaluate(scorer, TRAIN, TEST)  # the default
    assert conservative.settings.tie_mode == "conservative" and conservative.tied.tolist() == [1, 0, 1]
    assert conservative.rank.tolist() == [3.0, 5.0, 3.0]
    assert standard.metrics["recall@2"] == 2 / 3
