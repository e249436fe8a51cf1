"""Recall@K, MRR@K and Precision@K from per-event ranks (numpy); several K at once."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.errors import InputError

METRIC_KINDS: tuple[str, ...] = ("recall", "mrr", "precision")


def metric_names(ks: Sequence[int]) -> list[str]:
    """Names like ``recall@5``, ``mrr@5``, ``precision@5`` for every K, K by K."""
    return [f"{kind}@{k}" for k in ks for kind in METRIC_KINDS]


def parse_metric_name(name: str) -> tuple[str, int]:
    """``"mrr@5"`` -> ``("mrr", 5)``; raises InputError for anything else."""
    kind, _, k = name.partition("@")
    if kind not in METRIC_KINDS or not k.isdigit() or int(k) < 1:
        raise InputError(f"unknown metric {name!r}; expected one of {METRIC_KINDS} followed by @K, e.g. mrr@5")
    return kind, int(k)


def event_metric(ranks: np.ndarray, name: str, compat_2017: bool = False) -> np.ndarray:
    """float64 [T]: the value of metric ``name`` for each event of rank ``ranks`` [T].

    A hit is rank <= K; with ``compat_2017`` it is rank < K, as the 2017 reference evaluation
    counted (its "@5" was really @4). Recall = hit, MRR = hit / rank, Precision = hit / K.
    """
    kind, k = parse_metric_name(name)
    ranks = np.asarray(ranks, dtype=np.float64)
    hit = ranks < k if compat_2017 else ranks <= k
    if kind == "recall":
        return hit.astype(np.float64)
    if kind == "mrr":
        return np.where(hit, 1.0 / ranks, 0.0)
    return hit / k


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
