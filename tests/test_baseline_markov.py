"""Markov: first-order transition counts of a tiny log by hand, pruning, and bad settings."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.baselines.markov import MarkovConfig, fit
from engine.data.session_log import SessionLog
from engine.errors import ConfigError
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.runs.models import build_config

torch.set_num_threads(1)


def make_log(rows: list[tuple[int, int, int]], n_users: int = 2, n_items: int = 5) -> SessionLog:
    user, session, item = (np.array(column, dtype=np.int64) for column in zip(*rows, strict=True))
    return SessionLog.from_arrays(user, session, item, np.arange(len(rows), dtype=float), n_users, n_items)


# sessions [0, 1, 2], [0, 1, 3], [2, 0, 1, 0, 3]: transitions 0 -> 1 three times, 1 -> 2, 1 -> 3, 2 -> 0,
# 1 -> 0, 0 -> 3 once each; item 4 never follows anything (and nothing jumps across sessions: 2 | 0, 3 | 2)
TRAIN = make_log([(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0), (0, 1, 1), (0, 1, 3),
                  (1, 2, 2), (1, 2, 0), (1, 2, 1), (1, 2, 0), (1, 2, 3)])


def last_item_scores(scorer, items: list[int]) -> list[float]:
    scorer.reset(1)
    scorer.assign(np.array([0]), np.array([0]))
    for position, item in enumerate(items):
        scorer.consume(np.array([item]), np.array([position == 0]), np.array([True]))
    return scorer.scores(np.array([0]))[0].tolist()


def test_transition_counts_by_hand() -> None:
    scorer = fit(MarkovConfig(popularity_fill=False), TRAIN)
    assert last_item_scores(scorer, [0]) == [0, 3, 0, 1, 0]
    assert last_item_scores(scorer, [3, 1]) == [1, 0, 1, 1, 0]
    assert last_item_scores(scorer, [2]) == [1, 0, 0, 0, 0]
    assert last_item_scores(scorer, [4]) == [0, 0, 0, 0, 0]


def test_pruning_keeps_the_most_frequent_successors() -> None:
    # from 1: 0, 2 and 3 once each -> the lowest item code, 0, is kept
    assert last_item_scores(fit(MarkovConfig(pruning=1, popularity_fill=False), TRAIN), [1]) == [1, 0, 0, 0, 0]
    assert last_item_scores(fit(MarkovConfig(pruning=1, popularity_fill=False), TRAIN), [0]) == [0, 3, 0, 0, 0]


@pytest.mark.parametrize("fill, mode, ranks", [(False, "standard", [2.0, 1.0]), (False, "conservative", [2.0, 5.0]),
                                               (False, "median", [2.0, 3.0]), (True, "standard", [2.0, 3.0]),
                                               (True, "conservative", [2.0, 3.0])])
def test_evaluated_ranks_by_hand(fill: bool, mode: str, ranks: list[float]) -> None:
    # test session [0, 3, 2]: after 0, target 3 is second (after 1); after 3 nothing follows: target 2
    # ties with every item at 0: rank 1 optimistically, 5 conservatively, 3 (1 + 4/2) by the median.
    # With the fill, the unscored items follow popularity: 0 (4 events), 1 (3), 2 and 3 (2: lower code
    # first), 4 (0): target 2 is third in every tie mode
    test = make_log([(1, 0, 0), (1, 0, 3), (1, 0, 2)])
    result = evaluate(fit(MarkovConfig(popularity_fill=fill), TRAIN), TRAIN, test, EvaluationSettings(tie_mode=mode))
    assert result.rank.tolist() == ranks
    assert result.tied.tolist() == [0, 0 if fill else 4]


def test_bad_setting_is_refused_before_any_work() -> None:
    with pytest.raises(ConfigError, match=r"Rules kept per item must be at least 0 \(got -3\)"):
        build_config("markov", None, {"pruning": -3}, seed=0)
    with pytest.raises(ConfigError, match="Rules kept per item"):
        fit(MarkovConfig(pruning=-3), None)  # type: ignore[arg-type]
