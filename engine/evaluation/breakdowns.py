"""Breakdowns of per-event results: metric per group and group sizes.

Every function takes the per-event frame of :meth:`EvaluationResult.to_frame` (columns user,
session, position, history_length, item, rank; session_length is used when present) and returns
one row per group with a column per metric and the columns n_events, n_sessions, n_users.
The breakdowns that reports and the Results panel offer are registered in :data:`BREAKDOWNS`:
a new breakdown is its function here and its entry there.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.evaluation.metrics import event_metrics
from engine.registry.registry import Registry

#: Users with at most this many training sessions have a "short" history (the paper's split).
SHORT_HISTORY_MAX_SESSIONS = 6
#: Only test sessions with at least this many events enter the position breakdown.
POSITION_MIN_SESSION_LENGTH = 5


def _metrics_by(
    events: pd.DataFrame, group: pd.Series | np.ndarray, ks: Sequence[int], compat_2017: bool,
) -> pd.DataFrame:
    """Mean of every metric, and the number of events, sessions and users, per value of ``group``."""
    values = pd.DataFrame(event_metrics(events["rank"].to_numpy(), ks, compat_2017), index=events.index)
    values["group"] = np.asarray(group)
    grouped = values.groupby("group", sort=True, observed=True)
    table = grouped.mean()
    table["n_events"] = grouped.size()
    keys = events[["user", "session"]].assign(group=np.asarray(group))
    table["n_sessions"] = keys.drop_duplicates().groupby("group", sort=True).size()
    table["n_users"] = keys.groupby("group", sort=True)["user"].nunique()
    table.index.name = "group"
    return table


def by_history_length(
    events: pd.DataFrame, ks: Sequence[int] = (5,), compat_2017: bool = False,
    short_max_sessions: int = SHORT_HISTORY_MAX_SESSIONS,
) -> pd.DataFrame:
    """Groups "short" (history of at most ``short_max_sessions`` training sessions) and "long"."""
    group = np.where(events["history_length"].to_numpy() <= short_max_sessions, "short", "long")
    table = _metrics_by(events, group, ks, compat_2017)
    return table.reindex([g for g in ("short", "long") if g in table.index])


def by_position(
    events: pd.DataFrame, ks: Sequence[int] = (5,), compat_2017: bool = False,
    min_session_length: int = POSITION_MIN_SESSION_LENGTH,
) -> pd.DataFrame:
    """Groups "beginning" (positions 1-2: the first two predictions of a session), "middle" (3-4)
    and "end" (5 and later), over test sessions of at least ``min_session_length`` events.

    Without a session_length column, a session's length is taken as its largest position + 1
    (right when, as the evaluator does, every event but the first is a target)."""
    if "session_length" in events.columns:
        length = events["session_length"]
    else:
        length = events.groupby(["user", "session"])["position"].transform("max") + 1
    kept = events[length.to_numpy() >= min_session_length]
    position = kept["position"].to_numpy()
    group = np.select([position <= 2, position <= 4], ["beginning", "middle"], "end")
    table = _metrics_by(kept, group, ks, compat_2017)
    return table.reindex([g for g in ("beginning", "middle", "end") if g in table.index])


def by_user(events: pd.DataFrame, ks: Sequence[int] = (5,), compat_2017: bool = False) -> pd.DataFrame:
    """One group per user (index: user code)."""
    return _metrics_by(events, events["user"], ks, compat_2017)


def by_item_popularity(
    events: pd.DataFrame, popularity: np.ndarray, n_buckets: int = 5, ks: Sequence[int] = (5,),
    compat_2017: bool = False,
) -> pd.DataFrame:
    """Groups of target items by training popularity (events per item, ``popularity`` [n_items]).

    Bucket edges are the quantiles 0, 1/n, ..., 1 of the popularity of the training items (each
    item with at least one event counted once); equal edges merge, so there may be fewer buckets.
    Bucket b holds counts in [edge_b, edge_b+1), the last one closed. Extra columns min_popularity
    and max_popularity give each bucket's edges; the index is the bucket number, 1 = least popular.
    """
    popularity = np.asarray(popularity)
    edges = np.unique(np.quantile(popularity[popularity > 0], np.linspace(0.0, 1.0, n_buckets + 1)))
    if len(edges) == 1:
        edges = np.r_[edges, edges]
    target_popularity = popularity[events["item"].to_numpy()]
    bucket = np.searchsorted(edges[1:-1], target_popularity, side="right") + 1
    table = _metrics_by(events, bucket, ks, compat_2017)
    table["min_popularity"] = edges[table.index.to_numpy() - 1]
    table["max_popularity"] = edges[table.index.to_numpy()]
    return table


#: table(events, ks, compat_2017, popularity) -> one row per group (see the module docstring).
BreakdownTable = Callable[[pd.DataFrame, Sequence[int], bool, np.ndarray], pd.DataFrame]


@dataclass(frozen=True)
class BreakdownEntry:
    """A registered breakdown: its ``table``, a short ``title``, a ``description`` of its groups,
    and ``group_label(row, last_group)``, a group's readable name from its table row."""

    name: str
    title: str
    description: str
    table: BreakdownTable
    group_label: Callable[[pd.Series, object], str]


_POSITION_LABELS = {"beginning": "beginning (predictions 1–2)", "middle": "middle (3–4)", "end": "end (5 and later)"}


def _history_label(row: pd.Series, last_group: object) -> str:
    if row["group"] == "short":
        return f"short history (≤ {SHORT_HISTORY_MAX_SESSIONS} sessions)"
    return f"long history (> {SHORT_HISTORY_MAX_SESSIONS} sessions)"


def _popularity_label(row: pd.Series, last_group: object) -> str:
    """The whole event counts of a popularity bucket [low, high) (the last one [low, high])."""
    high = row["max_popularity"]
    first = math.ceil(row["min_popularity"])
    final = math.floor(high) if row["group"] == last_group else math.ceil(high) - 1
    counts = f"{first:,}" if first == final else f"{first:,}–{final:,}"
    return f"{counts} training events"


BREAKDOWNS: Registry[BreakdownEntry] = Registry("breakdown", [
    BreakdownEntry(
        "history", "By user history length",
        f"By user history length (short <= {SHORT_HISTORY_MAX_SESSIONS} training sessions, long > "
        f"{SHORT_HISTORY_MAX_SESSIONS})",
        lambda events, ks, compat, popularity: by_history_length(events, ks, compat), _history_label),
    BreakdownEntry(
        "position", "By position in the session",
        f"By position in the session (sessions of >= {POSITION_MIN_SESSION_LENGTH} events: beginning = "
        "predictions 1-2, middle = 3-4, end = 5+)",
        lambda events, ks, compat, popularity: by_position(events, ks, compat),
        lambda row, last: _POSITION_LABELS.get(str(row["group"]), str(row["group"]))),
    BreakdownEntry(
        "popularity", "By item popularity",
        "By target item popularity (training events, quintile buckets, 1 = rarest)",
        lambda events, ks, compat, popularity: by_item_popularity(events, popularity, ks=ks, compat_2017=compat),
        _popularity_label),
])
