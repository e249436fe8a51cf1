"""The paper's Table 1 statistics of a prepared dataset."""
from __future__ import annotations

import numpy as np

from engine.data.preparation import TEST, TRAIN, PreparedEvents


def _spread(counts: np.ndarray) -> dict[str, float]:
    counts = counts.astype(np.float64)
    if len(counts) == 0:
        return {"median": 0.0, "mean": 0.0, "std": 0.0}
    return {"median": float(np.median(counts)), "mean": float(counts.mean()), "std": float(counts.std())}


def table1_statistics(events: PreparedEvents) -> dict[str, object]:
    """Of the filtered events (before the test split's cleaning): users, items, sessions, events;
    median/mean/std of events per item, events per session and sessions per user. Then train and
    test events and sessions after the split's cleaning (JSON-ready)."""
    session_length = np.bincount(events.session)
    session_length = session_length[session_length > 0]
    firsts = np.r_[True, events.session[1:] != events.session[:-1]] if events.n_events else np.zeros(0, bool)
    _, sessions_per_user = np.unique(events.user[firsts], return_counts=True)
    _, events_per_item = np.unique(events.item, return_counts=True)
    train, test = events.split == TRAIN, events.split == TEST
    valid_train, valid_test = events.valid_split == TRAIN, events.valid_split == TEST
    return {
        "users": int(len(np.unique(events.user))),
        "items": int(len(events_per_item)),
        "sessions": int(len(session_length)),
        "events": int(events.n_events),
        "events_per_item": _spread(events_per_item),
        "events_per_session": _spread(session_length),
        "sessions_per_user": _spread(sessions_per_user),
        "train_events": int(train.sum()),
        "train_sessions": int(len(np.unique(events.session[train]))),
        "test_events": int(test.sum()),
        "test_sessions": int(len(np.unique(events.session[test]))),
        "valid_train_events": int(valid_train.sum()),
        "valid_test_events": int(valid_test.sum()),
        "valid_test_sessions": int(len(np.unique(events.session[valid_test]))),
        "first_time": float(events.time.min()) if events.n_events else None,
        "last_time": float(events.time.max()) if events.n_events else None,
        "filter_counts": dict(events.filter_counts),
    }
