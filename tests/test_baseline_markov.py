"""Markov: first-order transition counts of a tiny log by hand, pruning, and bad settings."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.baselines.markov import MarkovConfig, fit
from engine.data.session_log import SessionLog
from engine.errors import ConfigError
from engine.evaluation.evaluator import evaluate
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
    scorer = fit(MarkovConfig(), TRAIN)
    assert last_item_scores(scorer, [0]) == [0, 3, 0, 1, 0]
    assert last_item_scores(scorer, [3, 1]) == [1, 0, 1, 1, 0]
    assert last_item_scores(scorer, [2]) == [1, 0, 0, 0, 0]
    assert last_item_scores(scorer, [4]) == [0, 0, 0, 0, 0]


def test_pruning_keeps_the_most_frequent_successors() -> None:
    # from 1: 0, 2 and 3 once each -> the lowest item code, 0, is kept
    assert last_item_scores(fit(MarkovConfig(pruning=1), TRAIN), [1]) == [1, 0, 0, 0, 0]
    assert last_item_scores(fit(MarkovConfig(pruning=1), TRAIN), [0]) == [0, 3, 0, 0, 0]


def test_evaluated_ranks_by_hand() -> None:
    # test session [0, 3, 4]: after 0, target 3 is second (after 1); after 3 nothing follows: target 4
    # ties with every item at 0 -> rank 1 (standard ties)
    test = make_log([(1, 0, 0), (1, 0, 3), (1, 0, 4)])
    assert evaluate(fit(MarkovConfig(), TRAIN), TRAIN, test).rank.tolist() == [2.0, 1.0]


def test_bad_setting_is_refused_before_any_work() -> None:
    with pytest.raises(ConfigError, match=r"Rules kept per item must be at least 0 \(got -3\)"):
        build_config("markov", None, {"pruning": -3}, seed=0)
    with pytest.raises(ConfigError, match="Rules kept per item"):
        fit(MarkovConfig(pruning=-3), None)  # type: ignore[arg-type]
