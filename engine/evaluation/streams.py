"""The per-user event streams the evaluator feeds to a StreamScorer, built with index arithmetic.

A user's stream is their training history as ``history_feed`` says, then every test session's
events except its last. After consuming a test event the scorer is asked for the next item,
which is the target; the first event of a test session is therefore never a target.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.data.session_log import SessionLog
from engine.errors import InputError

HISTORY_FEEDS: tuple[str, ...] = ("none", "session_inputs", "all_events")


@dataclass(frozen=True, eq=False)
class EvaluationStreams:
    """Streams of the evaluated users, concatenated user after user."""

    users: np.ndarray  # int64 [U]: evaluated users (those with at least one target), ascending
    offsets: np.ndarray  # int64 [U+1]: the stream of users[u] is offsets[u]:offsets[u+1]
    item: np.ndarray  # int64 [L]: item consumed
    session_start: np.ndarray  # bool [L]: first event of a session (see build_streams)
    time: np.ndarray  # float64 [L]: unix seconds of the event consumed
    target_event: np.ndarray  # int64 [L]: test-log index of the event predicted after this one; -1 if none

    @property
    def n_events(self) -> int:
        return int(len(self.item))


def _session_edges(log: SessionLog) -> tuple[np.ndarray, np.ndarray]:
    """(bool [E] first event of its session, bool [E] last event of its session)."""
    first = np.zeros(log.n_events, dtype=bool)
    last = np.zeros(log.n_events, dtype=bool)
    first[log.session_offsets[:-1]] = True
    last[log.session_offsets[1:] - 1] = True
    return first, last


def build_streams(train: SessionLog, test: SessionLog, history_feed: str) -> EvaluationStreams:
    """The streams of every user with a test session of at least 2 events.

    History per ``history_feed``: "none" feeds nothing; "session_inputs" feeds each training
    session without its last event, session_start at each session's first event; "all_events"
    feeds every training event, session_start only at the user's first training event. Each test
    session then follows, without its last event, with session_start at its first event.
    """
    if history_feed not in HISTORY_FEEDS:
        raise InputError(f"history feed {history_feed!r} is not one of {HISTORY_FEEDS}")
    if test.n_users != train.n_users or test.n_items != train.n_items:
        raise InputError("the training and test logs do not share user and item codes")
    test_first, test_last = _session_edges(test)
    consumed = ~test_last  # [E_test]
    users = np.unique(test.user[consumed])
    evaluated = np.zeros(train.n_users, dtype=bool)
    evaluated[users] = True

    if history_feed == "none":
        history = np.zeros(train.n_events, dtype=bool)
        history_start = history
    elif history_feed == "session_inputs":
        train_first, train_last = _session_edges(train)
        history = ~train_last & evaluated[train.user]
        history_start = train_first
    else:
        history = evaluated[train.user]
        history_start = np.r_[True, train.user[1:] != train.user[:-1]][: train.n_events]

    test_index = np.flatnonzero(consumed)
    stream_user = np.r_[train.user[history], test.user[test_index]]
    part = np.r_[np.zeros(int(history.sum()), dtype=np.int64), np.ones(len(test_index), dtype=np.int64)]
    order = np.argsort(2 * stream_user + part, kind="stable")  # user by user, history first, in log order
    counts = np.bincount(stream_user, minlength=train.n_users)[users]
    return EvaluationStreams(
        users=users.astype(np.int64),
        offsets=np.r_[0, np.cumsum(counts)].astype(np.int64),
        item=np.r_[train.item[history], test.item[test_index]][order],
        session_start=np.r_[history_start[history], test_first[test_index]][order],
        time=np.r_[train.time[history], test.time[test_index]][order],
        target_event=np.r_[np.full(int(history.sum()), -1, dtype=np.int64), test_index + 1][order],
    )
