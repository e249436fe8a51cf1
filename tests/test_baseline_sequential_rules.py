"""SR and SR_BR: rules of a tiny log by hand (window, distance weighting, pruning), the boost of the
user's own rules and the reminders, the vectorised rules against a plain implementation of
session-rec's SR, and bad settings."""
from __future__ import annotations

import dataclasses
from collections import defaultdict

import numpy as np
import pytest
import torch

from engine.baselines.sequential_rules import DISTANCE_WEIGHTS, SrBrConfig, SrConfig, fit, rule_matrix
from engine.data.session_log import SessionLog
from engine.errors import Cancelled, ConfigError
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.progress import CancelToken
from engine.runs.models import build_config

torch.set_num_threads(1)

DAY = 86_400.0


def make_log(rows: list[tuple[int, int, int, float]], n_users: int = 3, n_items: int = 6) -> SessionLog:
    """Rows (user, session, item, time in days)."""
    user, session, item, day = (np.array(column) for column in zip(*rows, strict=True))
    return SessionLog.from_arrays(user.astype(np.int64), session, item.astype(np.int64), day * DAY, n_users, n_items)


# s0 = [0, 1, 2] (user 0, day 1), s1 = [1, 3] (user 1, day 2), s2 = [2, 3, 4] (user 1, day 3),
# s3 = [0, 3, 5] (user 2, day 4), s4 = [1, 0, 2] (user 2, day 5); events 0.01 day apart, the last at the day
TRAIN = make_log([(0, 0, 0, 0.98), (0, 0, 1, 0.99), (0, 0, 2, 1.0), (1, 1, 1, 1.99), (1, 1, 3, 2.0),
                  (1, 2, 2, 2.98), (1, 2, 3, 2.99), (1, 2, 4, 3.0), (2, 3, 0, 3.98), (2, 3, 3, 3.99), (2, 3, 5, 4.0),
                  (2, 4, 1, 4.98), (2, 4, 0, 4.99), (2, 4, 2, 5.0)])
# Rules with 1/x (x = positions apart): from 0: 1 <- s0 (x=1); 2 <- s0 (x=2) 1/2 + s4 (x=1) 1; 3 <- s3 1;
# 5 <- s3 (x=2) 1/2.  From 1: 0 <- s4 1; 2 <- s0 1 + s4 (x=2) 1/2; 3 <- s1 1.  From 2: 3 <- s2 1; 4 <- s2 1/2.
# From 3: 4 <- s2 1; 5 <- s3 1.
RULES = np.array([[0, 1, 1.5, 1, 0, 0.5],
                  [1, 0, 1.5, 1, 0, 0],
                  [0, 0, 0, 1, 0.5, 0],
                  [0, 0, 0, 0, 1, 1],
                  [0, 0, 0, 0, 0, 0],
                  [0, 0, 0, 0, 0, 0]])


def session_scores(scorer, user: int, items: list[int], now: float | None = None) -> np.ndarray:
    scorer.reset(1)
    scorer.assign(np.array([0]), np.array([user]))
    for position, item in enumerate(items):
        if now is not None:
            scorer.observe_times(np.array([now]), np.array([True]))
        scorer.consume(np.array([item]), np.array([position == 0]), np.array([True]))
    return scorer.scores(np.array([0]))[0].numpy().astype(np.float64)


def test_rules_by_hand() -> None:
    assert rule_matrix(TRAIN, 10, DISTANCE_WEIGHTS["div"], 0).toarray() == pytest.approx(RULES)
    # a window of one position: only neighbours in a session count
    adjacent = rule_matrix(TRAIN, 1, DISTANCE_WEIGHTS["div"], 0).toarray()
    assert adjacent[0].tolist() == [0, 1, 1, 1, 0, 0] and adjacent[1].tolist() == [1, 0, 1, 1, 0, 0]
    # quadratic 1/x^2: from 0, item 2 gets 1/4 + 1, item 5 1/4
    quadratic = rule_matrix(TRAIN, 10, DISTANCE_WEIGHTS["quadratic"], 0).toarray()[0]
    assert quadratic == pytest.approx([0, 1, 1.25, 1, 0, 0.25])


def test_pruning_keeps_the_strongest_rules_equal_ones_by_lower_item() -> None:
    pruned = rule_matrix(TRAIN, 10, DISTANCE_WEIGHTS["div"], 2).toarray()
    # row 0: 2 (1.5), then 1 and 3 tie at 1: item 1 is kept
    assert pruned[0].tolist() == [0, 1, 1.5, 0, 0, 0]
    assert pruned[2].tolist() == RULES[2].tolist()  # two rules only: nothing to prune


def test_scores_are_the_rules_of_the_latest_item() -> None:
    scorer = fit(SrConfig(pruning=0, popularity_fill=False), TRAIN)
    assert session_scores(scorer, 0, [3, 0]) == pytest.approx(RULES[0])
    assert session_scores(scorer, 0, [0, 2]) == pytest.approx(RULES[2])
    scorer.reset(1)
    assert scorer.scores(np.array([0])).tolist() == [[0.0] * 6]  # nothing consumed yet


def test_boost_multiplies_the_rules_of_the_users_own_sessions() -> None:
    # reminders off
    config = SrBrConfig(pruning=0, popularity_fill=False, boost=1.0, weight_base=1.0, weight_recency=0.0)
    # user 2 had 0 -> 3, 0 -> 5 (s3) and 0 -> 2 (s4): doubled; 0 -> 1 (user 0's s0) not
    assert session_scores(fit(config, TRAIN), 2, [0]) == pytest.approx([0, 1, 3, 2, 0, 1])
    # user 0 had 0 -> 1 and 0 -> 2 (s0)
    assert session_scores(fit(config, TRAIN), 0, [0]) == pytest.approx([0, 2, 3, 1, 0, 0.5])
    # one step: the rules from 0 are 0 -> 1 (s0), 0 -> 2 (s4), 0 -> 3 (s3), user 2's own 2 and 3
    one_step = dataclasses.replace(config, steps=1)
    assert session_scores(fit(one_step, TRAIN), 2, [0]) == pytest.approx([0, 1, 2, 2, 0, 0])


def test_reminders_add_the_recency_of_the_users_items() -> None:
    now = 6 * DAY
    # user 2's items last seen (days): 0 at 4.99, 1 at 4.98, 2 at 5.0, 3 at 3.99, 5 at 4.0 -> now / (now - t),
    # divided by the largest (item 2: 6 / 1)
    recency = np.array([1 / 1.01, 1 / 1.02, 1.0, 1 / 2.01, 0.0, 1 / 2.0])
    config = SrBrConfig(pruning=0, popularity_fill=False, boost=0.0, weight_base=2.0, weight_recency=3.0)
    scores = session_scores(fit(config, TRAIN), 2, [3], now=now)
    assert scores == pytest.approx(2 * RULES[3] / RULES[3].max() + 3 * recency, rel=1e-6)


def test_evaluation_of_the_tiny_log() -> None:
    # user 1's test session [0, 3, 4]: after 0 the rules [0, 1, 1.5, 1, 0, 0.5]: target 3 ties with 1 for
    # second place -> rank 2 (3 conservatively); after 3 the rules [0, 0, 0, 0, 1, 1]: target 4 ties with 5
    # -> rank 1 (2 conservatively); the fill changes nothing: every target was scored
    test = make_log([(1, 0, 0, 7), (1, 0, 3, 7.01), (1, 0, 4, 7.02)])
    for fill in (False, True):
        scorer = fit(SrConfig(pruning=0, popularity_fill=fill), TRAIN)
        assert evaluate(scorer, TRAIN, test, EvaluationSettings(tie_mode="standard")).rank.tolist() == [2.0, 1.0]
        assert evaluate(scorer, TRAIN, test).rank.tolist() == [3.0, 2.0]


def reference_rules(log: SessionLog, steps: int, weighting: str, pruning: int) -> dict[int, dict[int, float]]:
    """session-rec's SR fit: a loop over the events, dicts of dicts, then each row's best ``pruning``."""
    rules: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    offsets = log.session_offsets
    for s in range(log.n_sessions):
        items = log.item[offsets[s]:offsets[s + 1]].tolist()
        for position, item in enumerate(items):
            for distance in range(1, min(steps, position) + 1):
                rules[items[position - distance]][item] += DISTANCE_WEIGHTS[weighting](distance)
    if pruning:
        for item, row in rules.items():
            rules[item] = dict(sorted(row.items(), key=lambda pair: (-pair[1], pair[0]))[:pruning])
    return rules


def test_vectorised_rules_equal_the_plain_algorithm() -> None:
    rng = np.random.default_rng(11)
    for trial in range(40):
        lengths = rng.integers(1, 9, size=int(rng.integers(3, 25)))
        session = np.repeat(np.arange(len(lengths)), lengths)
        items = rng.integers(0, 10, size=len(session))
        log = SessionLog.from_arrays(np.zeros(len(session), dtype=np.int64), session, items,
                                     np.arange(len(session), dtype=float), 1, 10)
        steps, weighting, pruning = int(rng.integers(1, 12)), str(rng.choice(list(DISTANCE_WEIGHTS))), int(
            rng.choice([0, 1, 3]))
        expected = np.zeros((10, 10))
        for a, row in reference_rules(log, steps, weighting, pruning).items():
            for b, value in row.items():
                expected[a, b] = value
        matrix = rule_matrix(log, steps, DISTANCE_WEIGHTS[weighting], pruning)
        assert matrix.toarray() == pytest.approx(expected, rel=1e-6), trial


def test_cancelled_fit_raises() -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        rule_matrix(TRAIN, 10, DISTANCE_WEIGHTS["div"], 20, cancel=cancel)


@pytest.mark.parametrize(("model", "overrides", "message"), [
    ("sr", {"steps": 0}, r"Window \(steps\) must be in \[1, 100\] \(got 0\)"),
    ("sr", {"pruning": -1}, r"Rules kept per item must be at least 0 \(got -1\)"),
    ("sr", {"weighting": "exp"}, r"Distance weighting must be one of div, same, log, quadratic, linear \(got 'exp'\)"),
    ("sr-br", {"boost": -1.0}, r"Boost own sessions must be at least 0 \(got -1.0\)"),
    ("sr-br", {"weight_base": 0.0, "weight_recency": 0.0}, "the model and recency weights are both 0"),
])
def test_bad_settings_are_refused_with_their_label_and_range(model: str, overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_config(model, None, overrides, seed=0)
    config = SrBrConfig() if model == "sr-br" else SrConfig()
    with pytest.raises(ConfigError, match=message):
        fit(dataclasses.replace(config, **overrides), None)  # type: ignore[arg-type]  (before any work)
