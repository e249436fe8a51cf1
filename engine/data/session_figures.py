"""What the session threshold explorer computes: the histogram of users' inter-event
gaps and the figures of a log prepared under given settings."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.data.preparation import PrepareSettings, prepare_events, sessionize
from engine.data.raw_log import RawLog
from engine.data.statistics import table1_statistics

MIN_GAP_S = 1.0  # gaps shorter than a second are counted in the first bar of the log-scale histogram
BINS_PER_DECADE = 12


@dataclass(frozen=True)
class GapHistogram:
    """Counts of the gaps between consecutive events of the same user, in log10-second bins."""

    edges_log10: np.ndarray  # float64 [B + 1], log10 seconds
    counts: np.ndarray  # int64 [B]
    n_gaps: int
    n_short: int  # gaps under MIN_GAP_S (counted in the first bin)


@dataclass(frozen=True)
class SessionFigures:
    """Live figures of one setting: sessions cut before filtering, then what the filters keep."""

    sessions_cut: int
    sessions: int
    events_per_session: float  # mean, after the filters
    users: int
    items: int
    events: int
    total_users: int
    total_items: int
    total_events: int


def gap_histogram(raw: RawLog) -> GapHistogram:
    """Histogram of the idle gaps (seconds) between a user's consecutive events."""
    same_user = raw.user[1:] == raw.user[:-1]
    gaps = np.diff(raw.time)[same_user]
    n_short = int((gaps < MIN_GAP_S).sum())
    log_gaps = np.log10(np.maximum(gaps, MIN_GAP_S))
    top = max(1.0, float(np.ceil(log_gaps.max(initial=0.0) * BINS_PER_DECADE) / BINS_PER_DECADE))
    edges = np.linspace(0.0, top, int(round(top * BINS_PER_DECADE)) + 1)
    counts, _ = np.histogram(log_gaps, bins=edges)
    return GapHistogram(edges, counts.astype(np.int64), int(len(gaps)), n_short)


def session_figures(raw: RawLog, settings: PrepareSettings) -> SessionFigures:
    """Sessions cut by ``settings`` and what survives its filters; raises EmptyResultError
    (naming the filter) when nothing does."""
    _, session = sessionize(raw, settings.session_threshold_s, settings.use_given_sessions)
    statistics: dict[str, Any] = table1_statistics(prepare_events(raw, settings))
    return SessionFigures(
        sessions_cut=int(session[-1] + 1) if len(session) else 0,
        sessions=int(statistics["sessions"]),
        events_per_session=float(statistics["events_per_session"]["mean"]),
        users=int(statistics["users"]), items=int(statistics["items"]), events=int(statistics["events"]),
        total_users=len(raw.user_ids), total_items=len(raw.item_ids), total_events=raw.n_events,
    )
