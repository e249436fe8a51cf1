"""Wilcoxon signed-rank test between two models on paired per-event, per-session or per-user metric
values."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.stats

from engine.errors import InputError
from engine.evaluation.metrics import event_metric

#: Significance level of the marks in the comparison tables (the paper's).
DEFAULT_ALPHA = 0.01
DIFFERENCE_DECIMALS = 10
EVENT_KEY: tuple[str, ...] = ("user", "session", "position")
SESSION_KEY: tuple[str, ...] = ("user", "session")
USER_KEY: tuple[str, ...] = ("user",)
Level = Literal["event", "session", "user"]
#: Grouping of the per-event values at each level (the event level keeps every event).
LEVEL_KEYS: dict[str, tuple[str, ...]] = {"event": EVENT_KEY, "session": SESSION_KEY, "user": USER_KEY}


@dataclass(frozen=True)
class WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of paired values a and b (zero differences dropped)."""

    statistic: float  # smaller of the positive and negative rank sums
    p_value: float
    n_pairs: int
    n_nonzero: int  # pairs with a non-zero difference (the only ones the test uses)
    mean_a: float
    mean_b: float
    alpha: float = DEFAULT_ALPHA

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha


def wilcoxon_signed_rank(a: np.ndarray, b: np.ndarray, alpha: float = DEFAULT_ALPHA) -> WilcoxonResult:
    """Test a [n] against b [n] (paired). With no non-zero difference p = 1 and statistic = 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise InputError(f"paired values must be two 1-d arrays of one length, got {a.shape} and {b.shape}")
    # Rounded, so that differences equal in exact arithmetic tie (and zero ones drop) although
    # averaging over seeds and dividing by K left them a few ulps apart: otherwise Precision@K
    # (= hit / K) and Recall@K would get different p-values for the same hits.
    difference = np.round(a - b, DIFFERENCE_DECIMALS)
    n_nonzero = int(np.count_nonzero(difference))
    means = (float(a.mean()), float(b.mean())) if len(a) else (float("nan"), float("nan"))
    if n_nonzero == 0:
        return WilcoxonResult(0.0, 1.0, len(a), 0, *means, alpha)
    test = scipy.stats.wilcoxon(difference, zero_method="wilcox", alternative="two-sided")
    return WilcoxonResult(float(test.statistic), float(test.pvalue), len(a), n_nonzero, *means, alpha)


def significance_mark(p_value: float, alpha: float = DEFAULT_ALPHA) -> str:
    """``"*"`` when ``p_value < alpha``, else an empty string."""
    return "*" if p_value < alpha else ""


def paired_metric_values(
    events: Sequence[pd.DataFrame], metric: str, level: Level = "event", compat_2017: bool = False,
) -> pd.Series:
    """Per-event values of ``metric`` (e.g. ``"mrr@5"``), or their means per session or per user,
    averaged over the runs ``events`` (per-event frames with user, session, position, rank: e.g.
    one per seed), indexed by (user, session, position), (user, session) or user. Every run must
    hold the same events. A frame whose ``attrs["compat_2017"]`` is set counts hits by that rule."""
    if not events:
        raise InputError("no evaluation results to compare")
    per_run = []
    for frame in events:
        compat = bool(frame.attrs.get("compat_2017", compat_2017))  # a run evaluated with its own hit rule
        values = pd.Series(event_metric(frame["rank"].to_numpy(), metric, compat),
                           index=pd.MultiIndex.from_frame(frame[list(EVENT_KEY)]))
        if level != "event":
            values = values.groupby(level=list(LEVEL_KEYS[level])).mean()
        per_run.append(values.sort_index())
    first = per_run[0]
    if any(not run.index.equals(first.index) for run in per_run[1:]):
        raise InputError("the runs were evaluated on different test events and cannot be paired")
    return pd.concat(per_run, axis=1).mean(axis=1)


def compare_models(
    events_a: Sequence[pd.DataFrame], events_b: Sequence[pd.DataFrame], metric: str,
    level: Level = "event", compat_2017: bool = False, alpha: float = DEFAULT_ALPHA,
) -> WilcoxonResult:
    """Wilcoxon test of model a against model b on ``metric`` paired by event (or session, or
    user), each model's value being its mean over its runs (seeds)."""
    a = paired_metric_values(events_a, metric, level, compat_2017)
    b = paired_metric_values(events_b, metric, level, compat_2017)
    if not a.index.equals(b.index):
        raise InputError("the two models were evaluated on different test events and cannot be paired")
    return wilcoxon_signed_rank(a.to_numpy(), b.to_numpy(), alpha)
