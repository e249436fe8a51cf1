"""Preparing a raw log for the models: sessionize, filter in the paper's order, split
last-session-out (test and validation), and compute the paper's Table 1 statistics.

Everything is vectorised over numpy arrays (no Python loop per event).
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.data.raw_log import RawLog
from engine.errors import EmptyResultError, InputError
from engine.registry.settings import setting, setting_info, settings_of, validate_settings

log = logging.getLogger(__name__)

TRAIN, TEST, NOT_IN_SPLIT = 0, 1, -1


@dataclass(frozen=True)
class PrepareSettings:
    """How sessions are cut and filtered (defaults: the paper's filters, one pass). The declared
    labels are the names the shells show (the desktop forms' fields, the refusals' wording)."""

    session_threshold_s: float = setting(
        1800.0, "Idle threshold", "A gap between two events of a user strictly greater than this (seconds) starts "
        "a new session", low=0, low_open=True)
    use_given_sessions: bool = setting(
        False, "Use the log's session column", "Cut sessions where the log's own session column changes, instead "
        "of by the idle threshold")
    drop_event_types: tuple[str, ...] = setting(
        (), "Drop event types", "Events of these types (their names in the log, e.g. XING's deletes: 4) are removed "
        "before sessions are filtered", kind=tuple)
    drop_repeats: bool = setting(
        True, "Drop repeats", "Drop repeats of the same item and event type inside a session")
    min_item_support: int = setting(10, "Min item support", "Keep items with at least this many events", low=1)
    min_session_length: int = setting(
        3, "Min session length", "Keep sessions with at least this many events (a session needs an input and a "
        "target)", low=2)
    min_user_sessions: int = setting(
        5, "Min sessions per user", "Keep users with at least this many sessions (a user's last session is the "
        "test session, the others their history)", low=2)
    max_user_sessions: int | None = setting(
        None, "Max sessions per user", "Keep users with at most this many sessions (none: no limit; the HRNN "
        "reference code keeps at most 199)", low=2, kind=int, optional=True)
    repeat_until_stable: bool = setting(
        False, "Repeat the filters until stable", "Repeat the item support, session length and user filters until "
        "nothing changes (the paper filters once)")

    def __post_init__(self) -> None:
        # a maximum below a valid minimum is named as such, before its own range ("at least 2")
        if (isinstance(self.max_user_sessions, int) and setting_info(PrepareSettings, "min_user_sessions").problem(
                self.min_user_sessions) is None and self.max_user_sessions < self.min_user_sessions):
            raise InputError(f"{PREPARE_LABELS['max_user_sessions']} ({self.max_user_sessions}) is below "
                             f"{PREPARE_LABELS['min_user_sessions']} ({self.min_user_sessions})",
                             setting="max_user_sessions", label=PREPARE_LABELS["max_user_sessions"])
        validate_settings(self)

    def describe(self) -> str:
        """One line: how sessions are cut and what the filters keep."""
        if self.use_given_sessions:
            sessions = "sessions: the log's own session column"
        else:
            sessions = f"sessions: idle gap > {_duration(self.session_threshold_s)}"
        steps = []
        if self.drop_event_types:
            steps.append(f"event types {', '.join(self.drop_event_types)} dropped")
        steps.append("repeats in a session dropped" if self.drop_repeats else "repeats kept")
        steps += [f"item support >= {self.min_item_support}", f"session length >= {self.min_session_length}",
                  f"user sessions >= {self.min_user_sessions}"]
        if self.max_user_sessions is not None:
            steps.append(f"user sessions <= {self.max_user_sessions}")
        repeat = ", repeated until stable" if self.repeat_until_stable else ""
        return f"{sessions}; filters: {', '.join(steps)}{repeat}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["drop_event_types"] = list(self.drop_event_types)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PrepareSettings:
        return cls(**{**data, "drop_event_types": tuple(data.get("drop_event_types", ()))})

    def key(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)


#: The readable name of every preparation setting (its declared label).
PREPARE_LABELS: dict[str, str] = {info.name: info.label for info in settings_of(PrepareSettings)}


def _empty(message: str, setting_name: str | None = None) -> EmptyResultError:
    """An EmptyResultError naming the setting to relax."""
    return EmptyResultError(message, setting=setting_name,
                            label=PREPARE_LABELS.get(setting_name) if setting_name else None)


@dataclass(frozen=True, eq=False)
class PreparedEvents:
    """The filtered events, sorted by (user, session, time): log codes for users and items,
    dense session numbers, and split labels (``split``: 0 train / 1 test / -1 removed from the
    test session by the unseen-item cleaning or in a test session left too short; ``valid_split``:
    0 validation train / 1 validation test / -1 outside the validation split)."""

    user: np.ndarray  # int64 [E], log user codes
    session: np.ndarray  # int64 [E], 0..S-1 in (user, time) order
    item: np.ndarray  # int64 [E], log item codes
    time: np.ndarray  # float64 [E], unix seconds
    split: np.ndarray  # int8 [E]
    valid_split: np.ndarray  # int8 [E]
    filter_counts: dict[str, int] = field(default_factory=dict)  # events left after each step

    @property
    def n_events(self) -> int:
        return int(len(self.item))


def _duration(seconds: float) -> str:
    """'30 min', '2 h', '1 d' for whole units, else seconds ('90 s')."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} s"


def sessionize(raw: RawLog, threshold_s: float, use_given_sessions: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(order, session): the event order (user, session, time) and a dense session number per
    ordered event. A session starts at a user change or where the idle gap is strictly greater
    than ``threshold_s`` seconds, or, with ``use_given_sessions``, where the session label changes
    (sessions of a user ordered by their first event's time)."""
    n = raw.n_events
    if use_given_sessions:
        if raw.session_key is None:
            raise InputError("this log has no session column; cut sessions by an idle threshold instead",
                             setting="use_given_sessions", label=PREPARE_LABELS["use_given_sessions"])
        keys = raw.session_key
        starts = pd.Series(raw.time).groupby(keys).transform("min").to_numpy()
        order = np.lexsort((np.arange(n), raw.time, keys, starts, raw.user))
        boundary = np.r_[True, (raw.user[order][1:] != raw.user[order][:-1]) | (keys[order][1:] != keys[order][:-1])]
    else:
        order = np.arange(n)
        boundary = np.r_[True, (raw.user[1:] != raw.user[:-1]) | (np.diff(raw.time) > threshold_s)]
    return order, np.cumsum(boundary[:n], dtype=np.int64) - 1


def _renumber(values: np.ndarray) -> np.ndarray:
    """Dense 0..k-1 numbers of a non-decreasing array, keeping order."""
    if len(values) == 0:
        return values.astype(np.int64)
    return np.cumsum(np.r_[True, values[1:] != values[:-1]], dtype=np.int64) - 1


def _first_event_of_sessions(session: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Indices of the first kept event of every session with a kept event (sessions contiguous)."""
    kept = np.flatnonzero(mask)
    if len(kept) == 0:
        return kept
    return kept[np.r_[True, session[kept][1:] != session[kept][:-1]]]


def _filter_sequence(user: np.ndarray, session: np.ndarray, item: np.ndarray, settings: PrepareSettings,
                     counts: dict[str, int], n_items: int, n_users: int) -> np.ndarray:
    """Boolean mask after the item support, session length and user session filters, in that
    order, once or until stable. Raises EmptyResultError naming the filter that left nothing."""
    keep = np.ones(len(item), dtype=bool)
    while True:
        after_support = keep & (np.bincount(item[keep], minlength=n_items)[item] >= settings.min_item_support)
        lengths = np.bincount(session[after_support], minlength=int(session.max(initial=-1)) + 1)
        after_length = after_support & (lengths[session] >= settings.min_session_length)
        per_user = np.bincount(user[_first_event_of_sessions(session, after_length)], minlength=n_users)
        user_ok = per_user >= settings.min_user_sessions
        if settings.max_user_sessions is not None:
            user_ok &= per_user <= settings.max_user_sessions
        after_users = after_length & user_ok[user]
        for step, before, after in (("item support", keep, after_support),
                                    ("session length", after_support, after_length),
                                    ("user sessions", after_length, after_users)):
            counts[step] = int(after.sum())
            if counts[step] == 0:
                raise _empty_error(step, settings, user, session, item, before, n_items, n_users)
        stable = counts["user sessions"] == int(keep.sum())
        keep = after_users
        if not settings.repeat_until_stable or stable:
            return keep


def _empty_error(step: str, settings: PrepareSettings, user: np.ndarray, session: np.ndarray, item: np.ndarray,
                 mask_before: np.ndarray, n_items: int, n_users: int) -> EmptyResultError:
    """Which filter left nothing, with the value that would keep something (the remedy in words:
    each shell names its own way of changing the setting)."""
    if step == "item support":
        best = int(np.bincount(item[mask_before], minlength=n_items).max(initial=0))
        return _empty(f"the item support filter (>= {settings.min_item_support} events) removed every event: the "
                      f"most frequent item has {best}; lower the min item support to {max(1, best)} or less",
                      "min_item_support")
    if step == "session length":
        lengths = np.bincount(session[mask_before], minlength=1)
        best = int(lengths.max(initial=0))
        return _empty(f"the session length filter (>= {settings.min_session_length} events) removed every session: "
                      f"the longest has {best} events; lower the min session length to {max(2, best)}, or cut "
                      "sessions with a longer idle threshold", "min_session_length")
    if step == "user sessions":
        firsts = _first_event_of_sessions(session, mask_before)
        best = int(np.bincount(user[firsts], minlength=n_users).max(initial=0))
        return _empty(f"the user filter (>= {settings.min_user_sessions} sessions) removed every user: the most "
                      f"active user has {best} sessions; lower the min sessions per user to {max(2, best)}, or cut "
                      "sessions with a shorter idle threshold", "min_user_sessions")
    if step == "event types":
        return _empty(f"dropping event types {', '.join(settings.drop_event_types)} removed every event; drop fewer "
                      "types", "drop_event_types")
    return _empty(f"the {step} step removed every event")


def _no_test_session(settings: PrepareSettings) -> EmptyResultError:
    """Every user's last session kept fewer than 2 events whose item occurs in training: the remedy
    that can still help (a lower item support keeps more items; at 1 it cannot, but longer sessions
    hold more events, and a longer idle threshold cuts longer sessions)."""
    lost = "no test session is left: every user's last session lost all but one event to the unseen-item cleaning"
    if settings.min_item_support > 1:
        return _empty(f"{lost}; lower the min item support or use more data", "min_item_support")
    if not settings.use_given_sessions:
        return _empty(f"{lost} (its items never occur in the training sessions, and the min item support is "
                      f"already 1); cut longer sessions with a longer idle threshold (now "
                      f"{_duration(settings.session_threshold_s)}), or use more data", "session_threshold_s")
    return _empty(f"{lost} (its items never occur in the training sessions, and the min item support is "
                  "already 1); use more data")


def prepare_events(raw: RawLog, settings: PrepareSettings) -> PreparedEvents:
    """Sessionize, filter and split ``raw``; raises EmptyResultError naming the filter that left nothing."""
    if raw.n_events == 0:
        raise EmptyResultError("the log holds no events")
    order, session = sessionize(raw, settings.session_threshold_s, settings.use_given_sessions)
    user, item, time = raw.user[order], raw.item[order], raw.time[order]
    event_type = raw.event_type[order]
    n_items, n_users = len(raw.item_ids), len(raw.user_ids)
    counts: dict[str, int] = {"read": raw.n_events}

    keep = np.ones(raw.n_events, dtype=bool)
    unknown = [name for name in settings.drop_event_types if name not in raw.event_types]
    if unknown:
        raise InputError(f"event type(s) {', '.join(unknown)} do not occur in this log "
                         f"(its types: {', '.join(raw.event_types)})", setting="drop_event_types",
                         label=PREPARE_LABELS["drop_event_types"])
    for name in settings.drop_event_types:
        keep &= event_type != raw.event_types.index(name)
    counts["event types"] = int(keep.sum())
    if settings.drop_repeats:
        kept = np.flatnonzero(keep)
        frame = pd.DataFrame({"session": session[kept], "item": item[kept], "type": event_type[kept]})
        keep[kept[frame.duplicated().to_numpy()]] = False
    counts["repeats"] = int(keep.sum())
    for step in ("event types", "repeats"):
        if counts[step] == 0:
            raise _empty_error(step, settings, user, session, item, np.ones_like(keep), n_items, n_users)

    kept = np.flatnonzero(keep)
    user, session, item, time = user[kept], session[kept], item[kept], time[kept]
    filter_mask = _filter_sequence(user, session, item, settings, counts, n_items, n_users)
    user, session, item, time = (a[filter_mask] for a in (user, session, item, time))
    session = _renumber(session)

    split = _last_session_split(user, session, item, np.ones(len(item), dtype=bool))
    counts["test cleaning"] = int((split >= 0).sum())
    if not (split == TEST).any():
        raise _no_test_session(settings)
    valid_split = _last_session_split(user, session, item, split == TRAIN)
    return PreparedEvents(user, session, item, time, split.astype(np.int8), valid_split.astype(np.int8), counts)


def _last_session_split(user: np.ndarray, session: np.ndarray, item: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Last-session-out split among the ``eligible`` events (sorted by user, session, time):
    each user's last eligible session is TEST, the rest TRAIN; test events whose item is not in
    the training events are removed (-1) and test sessions left with fewer than 2 events are
    removed entirely (-1). Ineligible events get -1."""
    labels = np.full(len(item), NOT_IN_SPLIT, dtype=np.int64)
    index = np.flatnonzero(eligible)
    if len(index) == 0:
        return labels
    e_user, e_session = user[index], session[index]
    last_session_of_user = pd.Series(e_session).groupby(e_user).transform("max").to_numpy()
    is_test = e_session == last_session_of_user
    labels[index] = np.where(is_test, TEST, TRAIN)
    train_items = np.zeros(int(item.max()) + 1, dtype=bool)
    train_items[item[index[~is_test]]] = True
    test_index = index[is_test]
    unseen = ~train_items[item[test_index]]
    labels[test_index[unseen]] = NOT_IN_SPLIT
    test_index = test_index[~unseen]
    if len(test_index):
        sessions, lengths = np.unique(session[test_index], return_counts=True)
        too_short = sessions[lengths < 2]
        labels[test_index[np.isin(session[test_index], too_short)]] = NOT_IN_SPLIT
    # a user with only one eligible session has no training part: the session cannot be tested
    only_one = np.flatnonzero(pd.Series(e_session).groupby(e_user).transform("min").to_numpy() == last_session_of_user)
    labels[index[only_one]] = NOT_IN_SPLIT
    return labels
