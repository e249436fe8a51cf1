"""Metrics of per-event ranks (numpy), several cut-offs K at once, and the one hit rule.

A metric is registered in :data:`METRICS` with its value per event given the hits and ranks;
names look like ``recall@5``. A hit is rank <= K; with ``compat_2017`` it is rank < K, as the
2017 reference evaluation counted (its "@5" was really @4)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.errors import InputError
from engine.registry.registry import Registry

#: The cut-offs evaluations report unless told otherwise (the paper's 5, and 10 and 20).
DEFAULT_CUTOFFS: tuple[int, ...] = (5, 10, 20)

#: value(hit bool [T], ranks float64 [T], k) -> float64 [T]
MetricValue = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class MetricEntry:
    name: str
    label: str
    description: str
    value: MetricValue


METRICS: Registry[MetricEntry] = Registry("metric", [
    MetricEntry("recall", "Recall", "Share of predictions whose target is in the top K (hit rate)",
                lambda hit, ranks, k: hit.astype(np.float64)),
    MetricEntry("mrr", "MRR", "Mean reciprocal rank of the target, 0 past K",
                lambda hit, ranks, k: np.where(hit, 1.0 / ranks, 0.0)),
    MetricEntry("precision", "Precision", "Hits divided by K (one relevant item per prediction)",
                lambda hit, ranks, k: hit / k),
])


def is_hit(ranks: np.ndarray, k: int, compat_2017: bool = False) -> np.ndarray:
    """bool [T]: the target is among the top ``k`` (rank <= k; rank < k with ``compat_2017``)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return ranks < k if compat_2017 else ranks <= k


def metric_names(ks: Sequence[int]) -> list[str]:
    """Names like ``recall@5``, ``mrr@5``, ``precision@5`` for every K, K by K."""
    return [f"{entry.name}@{k}" for k in ks for entry in METRICS]


def metric_label(name: str) -> str:
    """``"mrr@5"`` -> ``"MRR@5"``."""
    kind, k = parse_metric_name(name)
    return f"{METRICS[kind].label}@{k}"


def parse_metric_name(name: str) -> tuple[str, int]:
    """``"mrr@5"`` -> ``("mrr", 5)``; raises InputError for anything else."""
    kind, _, k = str(name).partition("@")
    if kind not in METRICS or not k.isdigit() or int(k) < 1:
        raise InputError(f"unknown metric {name!r}; expected one of {', '.join(METRICS.names())} followed by @K, "
                         "e.g. mrr@5")
    return kind, int(k)


def event_metric(ranks: np.ndarray, name: str, compat_2017: bool = False) -> np.ndarray:
    """float64 [T]: the value of metric ``name`` for each event of rank ``ranks`` [T]."""
    kind, k = parse_metric_name(name)
    ranks = np.asarray(ranks, dtype=np.float64)
    return METRICS[kind].value(is_hit(ranks, k, compat_2017), ranks, k)


def event_metrics(ranks: np.ndarray, ks: Sequence[int], compat_2017: bool = False) -> dict[str, np.ndarray]:
    """Per-event values (float64 [T]) of every metric of :func:`metric_names` ``(ks)``."""
    return {name: event_metric(ranks, name, compat_2017) for name in metric_names(ks)}


def mean_metrics(
    ranks: np.ndarray, ks: Sequence[int], compat_2017: bool = False, groups: np.ndarray | None = None,
) -> dict[str, float]:
    """Average of every metric over events, or, with ``groups`` (int [T], e.g. the session or user
    of each event), the average over groups of each group's average. NaN when there are no events."""
    values = event_metrics(ranks, ks, compat_2017)
    if len(ranks) == 0:
        return {name: float("nan") for name in values}
    if groups is None:
        return {name: float(v.mean()) for name, v in values.items()}
    _, group_index = np.unique(groups, return_inverse=True)
    group_size = np.bincount(group_index)
    return {
        name: float((np.bincount(group_index, weights=v) / group_size).mean()) for name, v in values.items()
    }
