"""In-memory event logs as the models, baselines and evaluation consume them.

A :class:`SessionLog` holds events sorted by (user, session, time) with dense integer codes.
Training, evaluation and the baselines take ``SessionLog`` objects; nothing below this layer sees
pandas or the workspace.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True, eq=False)
class SessionLog:
    """Events sorted by (user, session, time).

    Invariants: ``user`` and ``session`` are non-decreasing; sessions are numbered
    ``0..n_sessions-1`` in array order and each belongs to exactly one user; user codes are
    shared by every log of one dataset (train, test, validation) so personalized models can
    match a user's test session to their training history.
    """

    user: np.ndarray  # int64 [E], dense 0..n_users-1
    session: np.ndarray  # int64 [E], dense 0..n_sessions-1, non-decreasing
    item: np.ndarray  # int64 [E], dense 0..n_items-1
    time: np.ndarray  # float64 [E], unix seconds
    n_users: int
    n_items: int

    @classmethod
    def from_arrays(
        cls, user: np.ndarray, session_key: np.ndarray, item: np.ndarray, time: np.ndarray,
        n_users: int, n_items: int,
    ) -> SessionLog:
        """Build a log from events already sorted by (user, session, time); ``session_key`` is any
        per-event session label that changes exactly where a new session starts."""
        session_key = np.asarray(session_key)
        starts = np.empty(len(session_key), dtype=bool)
        if len(session_key):
            starts[0] = True
            starts[1:] = session_key[1:] != session_key[:-1]
        session = np.cumsum(starts, dtype=np.int64) - 1
        return cls(
            user=np.ascontiguousarray(user, dtype=np.int64),
            session=session,
            item=np.ascontiguousarray(item, dtype=np.int64),
            time=np.ascontiguousarray(time, dtype=np.float64),
            n_users=int(n_users),
            n_items=int(n_items),
        )

    @property
    def n_events(self) -> int:
        return int(len(self.item))

    @cached_property
    def session_offsets(self) -> np.ndarray:
        """int64 [S+1]: events of session s are ``offsets[s]:offsets[s+1]``."""
        if self.n_events == 0:
            return np.zeros(1, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, self.session[1:] != self.session[:-1]])
        return np.r_[starts, self.n_events].astype(np.int64)

    @property
    def n_sessions(self) -> int:
        return int(len(self.session_offsets) - 1)

    @cached_property
    def session_user(self) -> np.ndarray:
        """int64 [S]: the user of each session."""
        return self.user[self.session_offsets[:-1]]

    @cached_property
    def session_length(self) -> np.ndarray:
        """int64 [S]: events per session."""
        return np.diff(self.session_offsets)

    @cached_property
    def user_session_offsets(self) -> np.ndarray:
        """int64 [n_users+1]: sessions of user u are ``offsets[u]:offsets[u+1]`` (empty if none)."""
        counts = np.bincount(self.session_user, minlength=self.n_users)
        return np.r_[0, np.cumsum(counts)].astype(np.int64)

    @cached_property
    def sessions_per_user(self) -> np.ndarray:
        """int64 [n_users]: number of sessions of each user in this log."""
        return np.diff(self.user_session_offsets)

    def select_sessions(self, keep: np.ndarray) -> SessionLog:
        """A new log with only the sessions where the boolean ``keep`` [S] is true."""
        event_mask = np.repeat(np.asarray(keep, dtype=bool), self.session_length)
        return SessionLog.from_arrays(
            self.user[event_mask], self.session[event_mask], self.item[event_mask],
            self.time[event_mask], self.n_users, self.n_items,
        )


@dataclass(frozen=True, eq=False)
class PreparedDataset:
    """A prepared dataset: the last-session-out test split and the validation split built the same
    way from the training part. Item and user codes index ``item_ids`` / ``user_ids`` (the ids of
    the original log, as strings)."""

    train: SessionLog
    test: SessionLog
    valid_train: SessionLog
    valid_test: SessionLog
    user_ids: np.ndarray  # object [n_users], original user ids
    item_ids: np.ndarray  # object [n_items], original item ids

    @property
    def n_users(self) -> int:
        return int(len(self.user_ids))

    @property
    def n_items(self) -> int:
        return int(len(self.item_ids))

    def split(self, validation: bool) -> tuple[SessionLog, SessionLog]:
        """(train, test) of the final split, or of the validation split used for tuning."""
        return (self.valid_train, self.valid_test) if validation else (self.train, self.test)
