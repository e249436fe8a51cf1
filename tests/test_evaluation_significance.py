"""Wilcoxon signed-rank test between models, pairing by event/session, aggregation over seeds."""
import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from engine.errors import InputError
from engine.evaluation.comparison import aggregate_seeds, comparison_table
from engine.evaluation.significance import (
    compare_models,
    paired_metric_values,
    significance_mark,
    wilcoxon_signed_rank,
)

DIFFS = np.array([1.0, -1 / 3, 0.25, 0.8, 0.1, -0.05, 0.6])


def exact_two_sided_p(diffs: np.ndarray) -> float:
    """Exact p-value by enumerating every sign assignment of the ranks of |d| (no ties, no zeros)."""
    ranks = scipy.stats.rankdata(np.abs(diffs))
    centre = len(diffs) * (len(diffs) + 1) / 4
    observed = abs(ranks[diffs > 0].sum() - centre)
    sums = [ranks[np.array(signs, dtype=bool)].sum() for signs in itertools.product([0, 1], repeat=len(diffs))]
    return float(np.mean(np.abs(np.array(sums) - centre) >= observed - 1e-12))


def test_p_value_equals_exact_enumeration() -> None:
    result = wilcoxon_signed_rank(DIFFS + 1.0, np.ones_like(DIFFS))
    assert result.p_value == pytest.approx(exact_two_sided_p(DIFFS))
    assert result.statistic == 5.0  # negative differences have ranks 1 (0.05) and 4 (1/3)
    assert (result.n_pairs, result.n_nonzero) == (7, 7)


def test_zero_differences_are_dropped() -> None:
    a, b = np.r_[DIFFS + 1.0, 2.0, 0.5], np.r_[np.ones_like(DIFFS), 2.0, 0.5]
    result = wilcoxon_signed_rank(a, b)
    assert result.p_value == pytest.approx(exact_two_sided_p(DIFFS))
    assert (result.n_pairs, result.n_nonzero) == (9, 7)


def test_equals_scipy_on_tied_hit_values() -> None:
    rng = np.random.default_rng(0)
    a, b = (rng.random(200) < 0.3).astype(float), (rng.random(200) < 0.2).astype(float)
    expected = scipy.stats.wilcoxon(a, b)
    result = wilcoxon_signed_rank(a, b)
    assert (result.statistic, result.p_value) == (expected.statistic, expected.pvalue)
    assert result.mean_a == a.mean()


def test_all_zero_differences_give_p_one_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = wilcoxon_signed_rank(np.array([0.5, 0.0, 1.0]), np.array([0.5, 0.0, 1.0]))
    assert (result.p_value, result.statistic, result.n_nonzero, result.significant) == (1.0, 0.0, 0, False)


def test_marks() -> None:
    assert significance_mark(0.009) == "*"
    assert significance_mark(0.01) == ""
    assert significance_mark(0.03, alpha=0.05) == "*"


def events(ranks: list[float]) -> pd.DataFrame:
    """Per-event frame: user 0 session 0 positions 1-3, user 1 session 1 positions 1-2."""
    return pd.DataFrame({"user": [0, 0, 0, 1, 1], "session": [0, 0, 0, 1, 1],
                         "position": [1, 2, 3, 1, 2], "rank": ranks})


def test_pairing_by_key_ignores_row_order_and_averages_seeds() -> None:
    seed1, seed2 = events([1, 2, 8, 4, 1]), events([2, 2, 1, 8, 1])
    values = paired_metric_values([seed1.iloc[::-1], seed2], "mrr@5")
    assert values.tolist() == pytest.approx([0.75, 0.5, 0.5, 0.125, 1.0])
    per_session = paired_metric_values([seed1], "recall@5", level="session")
    assert per_session.tolist() == pytest.approx([2 / 3, 1.0])


def test_user_level_averages_each_users_test_events_over_sessions() -> None:
    """User 0 has two test sessions (3 and 1 events), user 1 one session of 2 events."""
    frame = pd.DataFrame({"user": [0, 0, 0, 1, 1, 0], "session": [0, 0, 0, 1, 1, 2],
                          "position": [1, 2, 3, 1, 2, 1], "rank": [1, 9, 2, 7, 3, 6]})
    per_user = paired_metric_values([frame], "recall@5", level="user")
    assert per_user.index.tolist() == [0, 1]
    assert per_user.tolist() == pytest.approx([2 / 4, 1 / 2])  # events, not session means
    per_session = paired_metric_values([frame], "recall@5", level="session")
    assert per_session.tolist() == pytest.approx([2 / 3, 0.0, 1 / 2])  # (0, 0), (0, 2), (1, 1)
    other = frame.assign(rank=[1, 1, 1, 1, 1, 1])
    result = compare_models([other], [frame], "recall@5", level="user")
    assert result == wilcoxon_signed_rank(np.array([1.0, 1.0]), np.array([0.5, 0.5]))


def test_compare_models_refuses_different_events() -> None:
    with pytest.raises(InputError):
        compare_models([events([1] * 5)], [events([1] * 5).iloc[:4]], "mrr@5")
    with pytest.raises(InputError):
        paired_metric_values([events([1] * 5), events([1] * 5).iloc[1:]], "mrr@5")


def test_compare_models_matches_test_on_aligned_values() -> None:
    a, b = events([1, 1, 1, 1, 9]), events([2, 3, 4, 9, 9])
    result = compare_models([a], [b], "mrr@5")
    expected = wilcoxon_signed_rank(np.array([1, 1, 1, 1, 0.0]), np.array([1 / 2, 1 / 3, 1 / 4, 0, 0]))
    assert result == expected


def test_aggregate_seeds_mean_and_std() -> None:
    runs = pd.DataFrame({"model": ["a", "a", "b"], "seed": [1, 2, 1],
                         "recall@5": [0.2, 0.4, 0.5], "mrr@5": [0.1, 0.1, 0.3]})
    table = aggregate_seeds(runs, ["recall@5", "mrr@5"]).set_index(["model", "metric"])
    assert table.loc[("a", "recall@5"), "mean"] == pytest.approx(0.3)
    assert table.loc[("a", "recall@5"), "std"] == pytest.approx(np.sqrt(0.02))  # sample std
    assert table.loc[("a", "mrr@5"), "std"] == 0.0
    assert np.isnan(table.loc[("b", "mrr@5"), "std"])
    assert table["n_seeds"].tolist() == [2, 2, 1, 1]
    with pytest.raises(InputError):
        aggregate_seeds(runs, ["precision@5"])


def test_comparison_table_marks_against_reference() -> None:
    rng = np.random.default_rng(1)
    n = 300
    base = pd.DataFrame({"user": np.arange(n), "session": np.arange(n), "position": 1})
    good = base.assign(rank=rng.integers(1, 4, n).astype(float))
    bad = base.assign(rank=rng.integers(3, 12, n).astype(float))
    runs = pd.DataFrame({"model": ["good", "bad"], "seed": [0, 0], "recall@5": [0.0, 0.0]})
    table = comparison_table(runs, ["recall@5"], {"good": [good], "bad": [bad]}, reference="bad")
    assert table.set_index("model")["mark"].to_dict() == {"good": "*", "bad": ""}
    assert np.isnan(table.set_index("model").loc["bad", "p_value"])


def test_scaled_metrics_get_the_same_p_value() -> None:
    """Precision@K is hit / K. A one-run model against the mean of three seeds: in floating point
    1/5 - (1/5 + 1/5 + 0)/3 is not exactly (1 - 2/3)/5, and differences that are zero in exact
    arithmetic come out a few ulps apart; the test must still tie and drop them as it does for
    the hits, so both metrics get one p-value (before the fix: 350 vs 374 non-zero pairs)."""
    rng = np.random.default_rng(1)
    hit_a = rng.integers(0, 2, 400).astype(float)
    hits_b = rng.integers(0, 2, (3, 400)).astype(float)
    recall = wilcoxon_signed_rank(hit_a, hits_b.mean(axis=0))
    precision = wilcoxon_signed_rank(hit_a / 5, (hits_b / 5).mean(axis=0))
    assert precision.n_nonzero == recall.n_nonzero
    assert precision.p_value == pytest.approx(recall.p_value, rel=1e-9)
