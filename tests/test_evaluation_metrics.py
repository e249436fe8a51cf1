"""Recall/MRR/Precision@K from hand-computed ranks, the 2017 rank < K bug and group averages."""
import math

import numpy as np
import pytest

from engine.errors import InputError
from engine.evaluation.metrics import event_metric, mean_metrics, metric_names, parse_metric_name

RANKS = np.array([1.0, 3.0, 5.0, 6.0, 2.5])


def test_metrics_at_5() -> None:
    m = mean_metrics(RANKS, (5,))
    assert m["recall@5"] == pytest.approx(4 / 5)
    assert m["mrr@5"] == pytest.approx((1 + 1 / 3 + 1 / 5 + 0 + 1 / 2.5) / 5)
    assert m["precision@5"] == pytest.approx(4 / 5 / 5)


def test_several_k_at_once() -> None:
    m = mean_metrics(RANKS, (1, 5, 10))
    assert list(m) == metric_names((1, 5, 10))
    assert (m["recall@1"], m["mrr@1"], m["precision@1"]) == pytest.approx((0.2, 0.2, 0.2))
    assert m["recall@10"] == 1.0
    assert m["precision@10"] == pytest.approx(0.1)


def test_compat_2017_counts_rank_below_k() -> None:
    m = mean_metrics(RANKS, (5,), compat_2017=True)
    assert m["recall@5"] == pytest.approx(3 / 5)
    assert m["mrr@5"] == pytest.approx((1 + 1 / 3 + 1 / 2.5) / 5)
    assert event_metric(np.array([4.0, 5.0]), "recall@5", compat_2017=True).tolist() == [1.0, 0.0]


def test_per_group_average_weights_groups_equally() -> None:
    m = mean_metrics(RANKS, (5,), groups=np.array([7, 7, 3, 3, 3]))
    assert m["recall@5"] == pytest.approx((1.0 + 2 / 3) / 2)


def test_no_events_gives_nan() -> None:
    assert all(math.isnan(v) for v in mean_metrics(np.array([]), (5,)).values())


def test_metric_names_parse() -> None:
    assert parse_metric_name("precision@20") == ("precision", 20)
    for bad in ("ndcg@5", "mrr", "mrr@0", "mrr@x"):
        with pytest.raises(InputError):
            parse_metric_name(bad)
