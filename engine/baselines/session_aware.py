"""The session-aware extensions of Latifi, Mauro & Jannach (2021, "Session-aware recommendation: a
surprising quest for the state of the art", Information Sciences; arXiv 2011.03424) that turn a
session-based model into one that uses the user's past sessions:

- **Extend** (kNN models): while the current session is shorter than a length, the neighbourhood
  query is the user's latest training items followed by the session, so short sessions find
  neighbours through what the user did just before.
- **Boost**: the neighbour sessions (kNN) or sequential rules (SR) that come from the user's own
  training sessions count ``1 + boost`` times.
- **Reminders**: the model's scores are re-ranked with the user's past items, as a weighted sum of
  three row-normalised parts (session-rec's "hybrid" reminders): the model's scores; item recency
  (IRec: ``t_now / (t_now - t_last)``, ``t_last`` the user's last training event on the item); and
  frequency in similar past sessions (SSim: for each item, the sum of the similarities between the
  query and those of the user's latest training sessions that contain it; kNN models only).

The user's training history comes from fitting (like Personal Pop); the evaluator names the user
of each slot (``assign``) and feeds only the test session. Reference implementation: rn5l/session-rec
(``algorithms/knn/uvsknn.py``, ``ustan.py``, ``baselines/usr.py``, ``extensions/reminder.py``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from engine.data.session_log import SessionLog
from engine.registry.search_space import Choice, IntRange, SearchSpace
from engine.registry.settings import setting

#: Longest query an extension may build (items).
MAX_EXTEND_LENGTH = 100
#: Shortest time between a past interaction and "now" in the recency score (seconds): keeps it finite.
MIN_AGE_S = 1.0


#: The extension settings of the kNN models that tuning explores (0 turns an extension off).
EXTENSION_SPACE: SearchSpace = {
    "extend_length": IntRange(0, 10), "boost": Choice((0.0, 0.1, 0.5, 1.0, 2.0, 4.0)),
    "reminder_sessions": IntRange(1, 10), "weight_base": Choice((1.0, 2.0, 5.0, 10.0)),
    "weight_recency": Choice((0.0, 1.0, 2.0, 5.0)), "weight_similarity": Choice((0.0, 1.0, 2.0, 5.0))}


def extend_setting(default: int, source: str) -> Any:
    """The "Extend to" setting with ``default`` (``source`` says where the default comes from)."""
    return setting(default, "Extend to (items)",
                   "Extend: while the current session has fewer items than this, the neighbourhood query is the "
                   "user's latest training items followed by the session, this many items in all; 0 turns it off. "
                   f"Default: {source}.", low=0, high=MAX_EXTEND_LENGTH)


def boost_setting(default: float, source: str, what: str = "neighbour sessions") -> Any:
    """The "Boost own sessions" setting: ``what`` from the user's own training sessions count
    1 + boost times."""
    return setting(default, "Boost own sessions",
                   f"Boost: {what} from the user's own training sessions count 1 + boost times; 0 turns it off. "
                   f"Default: {source}.", low=0.0)


def reminder_weight_setting(default: float, part: str, source: str) -> Any:
    """The weight of one part of the reminders' weighted sum (each part is first divided by its
    largest value in the list)."""
    labels = {"base": "Reminders: model weight", "recency": "Reminders: recency weight",
              "similarity": "Reminders: session similarity weight"}
    meaning = {"base": "the model's own scores",
               "recency": "item recency t_now / (t_now - t_last) over all the user's past items",
               "similarity": "each item's summed similarity of the user's latest sessions that contain it"}
    return setting(default, labels[part],
                   f"Reminders: weight of {meaning[part]} in the re-ranked list (each part divided by its largest "
                   f"value first); recency and similarity 0 turn reminders off. Default: {source}.", low=0.0)


def reminder_sessions_setting(default: int, source: str) -> Any:
    return setting(default, "Reminders: sessions",
                   f"Reminders: how many of the user's latest training sessions the session similarity part looks "
                   f"at. Default: {source}.", low=1, high=1000)


def ragged_indices(starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ``range(starts[r], stops[r])`` end to end: (int64 [N] row r of each index, int64 [N]
    index), rows in order (empty ranges where stop <= start)."""
    lengths = np.maximum(np.asarray(stops) - np.asarray(starts), 0)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    first = np.cumsum(lengths) - lengths  # [b] where each row's run starts in the output
    return rows, np.asarray(starts)[rows] + (np.arange(len(rows)) - first[rows])


@dataclass(frozen=True, eq=False)
class UserHistory:
    """Each user's training events in log order (by user, session, time), read from the training
    log without a copy. ``end_time``: the log's latest event (unix seconds)."""

    train: SessionLog
    event_offsets: np.ndarray  # int64 [n_users + 1]: events of user u are offsets[u]:offsets[u+1]
    end_time: float

    @classmethod
    def of(cls, train: SessionLog) -> UserHistory:
        offsets = np.searchsorted(train.user, np.arange(train.n_users + 1)).astype(np.int64)
        return cls(train, offsets, float(train.time.max()) if train.n_events else 0.0)

    def last_items(self, users: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The last ``counts[r]`` training items of user ``users[r]`` (fewer where the user has
        fewer), oldest first: (int64 [N] row, int64 [N] item)."""
        stops = self.event_offsets[users + 1]
        rows, events = ragged_indices(np.maximum(stops - counts, self.event_offsets[users]), stops)
        return rows, self.train.item[events]

    def latest_interactions(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every item user ``users[r]`` had in training, once, with the time of the last such
        event: (int64 [N] row, int64 [N] item, float64 [N] unix seconds), sorted by row then item."""
        rows, events = ragged_indices(self.event_offsets[users], self.event_offsets[users + 1])
        items, times = self.train.item[events], self.train.time[events]
        order = np.lexsort((times, items, rows))  # by row, item, then time: a group's last entry is its latest
        rows, items, times = rows[order], items[order], times[order]
        last = np.r_[(rows[1:] != rows[:-1]) | (items[1:] != items[:-1]), True] if len(rows) else np.zeros(0, bool)
        return rows[last], items[last], times[last]

    def latest_sessions(self, users: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``count`` latest training sessions of each user (fewer where the user has fewer):
        (int64 [N] row, int64 [N] session code in the training log)."""
        offsets = self.train.user_session_offsets
        stops = offsets[users + 1]
        return ragged_indices(np.maximum(stops - count, offsets[users]), stops)

    def following_items(self, users: np.ndarray, items: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Distinct pairs (row r, item j) where j follows item ``items[r]`` at most ``steps``
        positions later in one of user ``users[r]``'s training sessions: (int64 [N] row, int64 [N]
        item), sorted."""
        rows, events = ragged_indices(self.event_offsets[users], self.event_offsets[users + 1])
        hit = self.train.item[events] == items[rows]
        rows, events = rows[hit], events[hit]
        later = events[:, None] + np.arange(1, steps + 1)  # [m, steps]
        inside = later < self.train.n_events
        inside[inside] = self.train.session[later[inside]] == np.repeat(self.train.session[events], inside.sum(1))
        pair_rows = np.broadcast_to(rows[:, None], later.shape)[inside]
        keys = np.unique(pair_rows * self.train.n_items + self.train.item[later[inside]])
        return keys // self.train.n_items, keys % self.train.n_items


def normalized_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """``matrix`` with each row divided by its largest entry (rows whose largest entry is not
    positive unchanged)."""
    result = matrix.tocsr(copy=True)
    largest = np.asarray(result.max(axis=1).todense()).ravel() if result.shape[1] else np.zeros(result.shape[0])
    scale = np.where(largest > 0, 1.0 / np.where(largest > 0, largest, 1.0), 1.0)
    result.data = result.data * np.repeat(scale, np.diff(result.indptr))
    return result


@dataclass(frozen=True)
class Reminders:
    """The weights of session-rec's hybrid reminders: final score = ``base`` x model/max(model) +
    ``recency`` x IRec/max(IRec) + ``similarity`` x SSim/max(SSim), per list."""

    base: float
    recency: float
    similarity: float = 0.0
    sessions: int = 1  # the user's latest training sessions SSim looks at

    @property
    def active(self) -> bool:
        return self.recency > 0 or self.similarity > 0

    def recency_scores(self, history: UserHistory, users: np.ndarray, now: np.ndarray, n_items: int) -> sp.csr_matrix:
        """IRec [b, n_items]: ``now / (now - t_last)`` for every item of user ``users[r]``, where
        ``now`` [b] is the time of the slot's latest event (unix seconds) and the age is at least
        one second."""
        rows, items, last_time = history.latest_interactions(users)
        age = np.maximum(now[rows] - last_time, MIN_AGE_S)
        return sp.csr_matrix((now[rows] / age, (rows, items)), shape=(len(users), n_items))

    def combine(self, base: sp.csr_matrix, recency: sp.csr_matrix | None,
                similarity: sp.csr_matrix | None = None) -> sp.csr_matrix:
        """The re-ranked scores [b, n_items] (parts with weight 0 or None are left out)."""
        combined = normalized_rows(base) * self.base
        if recency is not None and self.recency > 0:
            combined = combined + normalized_rows(recency) * self.recency
        if similarity is not None and self.similarity > 0:
            combined = combined + normalized_rows(similarity) * self.similarity
        return combined.tocsr()
