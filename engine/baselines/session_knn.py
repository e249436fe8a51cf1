"""The neighbourhood core shared by the session-based kNN models (SKNN, V-SKNN, STAN) and their
session-aware variants, vectorised over a batch of slots with sparse matrices.

For every slot that needs scores, the *query* is its current session (extended with the user's
latest training items for the Extend option). Its candidate neighbours are the ``sample_size`` most
recent training sessions that share an item with it (the reference implementation's "recent"
sampling); the ``k`` most similar candidates are its neighbours, and the items of the neighbours
are scored. One batch step costs a few sparse products and sorts over all slots at once; no Python
loop runs per slot or per event.

Exactness of the sample: each item keeps only its ``sample_size`` most recent sessions. A session
among the ``sample_size`` most recent sessions sharing an item with the query is, for every query
item it contains, among that item's ``sample_size`` most recent sessions (all sessions of that item
that are more recent share an item with the query too). So the product of the query with the
truncated item x session matrix gives the exact overlap of every sampled candidate.

Ties: among candidates of equal recency the later session in log order is the more recent; among
neighbours of equal similarity at the k-th place the more recent are kept. Both rules make a
slot's scores independent of the other slots of its batch."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from engine.baselines.current_sessions import CurrentSessions, DenseScoreRows
from engine.baselines.session_aware import Reminders, UserHistory, ragged_indices
from engine.data.session_log import SessionLog
from engine.progress import CancelToken, ProgressCallback, no_progress

#: Weights below this count as this, so that every query item brings its sessions into the sample.
_SMALLEST_WEIGHT = np.finfo(np.float64).tiny

#: ``weights(last_position, length)``: a query item's weight from the 1-based position of its last
#: occurrence in the query sequence and the sequence's length (float64 arrays of one shape).
PositionWeights = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class SessionIndex:
    """The training sessions, coded by recency: session code 0 has the latest last event (equal
    times: the later session in log order first). Session ``s`` holds the distinct items
    ``item[offsets[s]:offsets[s+1]]`` (ascending), each with the 1-based position of its last
    occurrence in the session."""

    n_items: int
    sample_size: int
    offsets: np.ndarray  # int64 [S + 1]
    item: np.ndarray  # int32 [N] distinct items of each session
    position: np.ndarray  # int32 [N] 1-based position of the item's last occurrence in its session
    n_distinct: np.ndarray  # float64 [S] distinct items per session
    time: np.ndarray  # float64 [S] unix seconds of the session's last event, non-increasing
    user: np.ndarray  # int64 [S]
    code_of_training_session: np.ndarray  # int64 [S]: the code of each session of the training log
    recent_sessions: sp.csr_matrix  # float64 [n_items, S] binary: each item's sample_size most recent sessions

    @property
    def n_sessions(self) -> int:
        return int(len(self.time))

    @classmethod
    def build(cls, train: SessionLog, sample_size: int, progress: ProgressCallback = no_progress,
              cancel: CancelToken | None = None) -> SessionIndex:
        """Index ``train``; memory: about 40 bytes per distinct (session, item) pair, plus
        transient sort arrays of 8 bytes per training event."""
        n_sessions, n_items = train.n_sessions, train.n_items
        offsets = train.session_offsets
        last_time = train.time[offsets[1:] - 1] if n_sessions else np.zeros(0)
        by_recency = np.lexsort((-np.arange(n_sessions), -last_time))  # code -> training session
        code = np.empty(n_sessions, dtype=np.int64)
        code[by_recency] = np.arange(n_sessions)
        if cancel is not None:
            cancel.raise_if_cancelled()
        keys = code[train.session] * n_items + train.item  # [E]; equal for repeats of an item in a session
        order = np.argsort(keys, kind="stable")  # ties keep log order: a group's last event is the item's last
        keys = keys[order]
        last = np.r_[keys[1:] != keys[:-1], True] if len(keys) else np.zeros(0, dtype=bool)
        position = (order - offsets[train.session[order]] + 1)[last].astype(np.int32)
        keys = keys[last]
        del order, last
        session_code = keys // n_items
        item = (keys - session_code * n_items).astype(np.int32)
        del keys
        counts = np.bincount(session_code, minlength=n_sessions)
        session_offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
        progress(0.5, f"sessions indexed: {n_sessions:,} sessions, {len(item):,} distinct session items")
        if cancel is not None:
            cancel.raise_if_cancelled()
        occurs = sp.csr_matrix((np.ones(len(item)), item, session_offsets), shape=(n_sessions, n_items))
        by_item = occurs.tocsc()  # each item's sessions in ascending code: most recent first
        del occurs
        per_item = np.diff(by_item.indptr)
        kept = np.minimum(per_item, sample_size)
        rank = np.arange(by_item.nnz) - np.repeat(by_item.indptr[:-1], per_item)
        recent = sp.csr_matrix((np.ones(int(kept.sum())), by_item.indices[rank < sample_size],
                                np.r_[0, np.cumsum(kept)]), shape=(n_items, n_sessions))
        return cls(n_items=n_items, sample_size=sample_size, offsets=session_offsets, item=item, position=position,
                   n_distinct=counts.astype(np.float64), time=last_time[by_recency],
                   user=train.session_user[by_recency], code_of_training_session=code, recent_sessions=recent)

    def sessions_with_item(self) -> np.ndarray:
        """int64 [n_items]: training sessions containing each item."""
        return np.bincount(self.item, minlength=self.n_items)


@dataclass(frozen=True, eq=False)
class Query:
    """The query sequence of each row of a batch, one entry per distinct (row, item), sorted by
    row then item."""

    n_rows: int
    n_items: int
    length: np.ndarray  # int64 [b]: events in each row's query sequence (repeats counted)
    row: np.ndarray  # int64 [Q]
    item: np.ndarray  # int64 [Q]
    last_position: np.ndarray  # int64 [Q]: 1-based position of the item's last occurrence in the row's sequence
    weight: np.ndarray  # float64 [Q]: the model's weight of the item (positive)

    @classmethod
    def of(cls, rows: np.ndarray, items: np.ndarray, n_rows: int, n_items: int,
           weights: PositionWeights) -> Query:
        """The query of sequences given event by event (``rows`` non-decreasing, each row's events
        in order); every distinct item weighs ``weights(last position, length)``."""
        length = np.bincount(rows, minlength=n_rows).astype(np.int64)
        position = np.arange(len(rows)) - (np.cumsum(length) - length)[rows] + 1
        keys = rows * n_items + items
        order = np.argsort(keys, kind="stable")
        keys, position = keys[order], position[order]
        last = np.r_[keys[1:] != keys[:-1], True] if len(keys) else np.zeros(0, dtype=bool)
        keys, position = keys[last], position[last]
        row = keys // n_items
        weight = np.maximum(weights(position.astype(np.float64), length[row].astype(np.float64)), _SMALLEST_WEIGHT)
        return cls(n_rows, n_items, length, row, keys - row * n_items, position, weight)

    @property
    def key(self) -> np.ndarray:
        """int64 [Q] ascending: row * n_items + item."""
        return self.row * self.n_items + self.item

    def n_distinct(self) -> np.ndarray:
        """float64 [b]: distinct items of each row's query."""
        return np.bincount(self.row, minlength=self.n_rows).astype(np.float64)

    def sum_of_squared_weights(self) -> np.ndarray:
        """float64 [b]."""
        return np.bincount(self.row, weights=self.weight ** 2, minlength=self.n_rows)


def sample_candidates(index: SessionIndex, query: Query) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``sample_size`` most recent sessions sharing an item with each row's query: (int64 [C]
    row, non-decreasing; int64 [C] session code, ascending within a row; float64 [C] the sum of
    the query weights of the shared items)."""
    row_starts = np.r_[0, np.cumsum(np.bincount(query.row, minlength=query.n_rows))]
    matrix = sp.csr_matrix((query.weight, query.item, row_starts), shape=(query.n_rows, index.n_items))
    overlap = matrix @ index.recent_sessions  # [b, S]
    overlap.sort_indices()
    per_row = np.diff(overlap.indptr)
    rank = np.arange(overlap.nnz) - np.repeat(overlap.indptr[:-1], per_row)
    sampled = rank < index.sample_size
    rows = np.repeat(np.arange(query.n_rows), per_row)[sampled]
    return rows, overlap.indices[sampled].astype(np.int64), overlap.data[sampled]


def group_max(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """float64 [m]: for each entry, the largest of ``values`` [m] among the entries of its row
    (``rows`` [m] non-decreasing)."""
    if len(rows) == 0:
        return np.zeros(0)
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    return np.repeat(np.maximum.reduceat(values, starts), np.diff(np.r_[starts, len(rows)]))


def top_per_row(row: np.ndarray, value: np.ndarray, n_rows: int, k: int) -> np.ndarray:
    """bool [m]: the entries (``row`` non-decreasing) among the ``k`` largest ``value`` of their
    row; among equal values at the k-th place the earlier entries. Rows are selected with one
    partition of a padded [crowded rows, widest row] array, not a sort."""
    counts = np.bincount(row, minlength=n_rows)
    keep = counts[row] <= k
    crowded = np.flatnonzero(counts > k)
    if len(crowded) == 0:
        return keep
    entries = np.flatnonzero(~keep)  # entries of crowded rows, row by row
    widths = counts[crowded]
    starts = np.cumsum(widths) - widths  # [r] first entry of each crowded row in ``entries``
    slot = np.repeat(np.arange(len(crowded)), widths)  # [m'] crowded row of each entry
    column = np.arange(len(entries)) - starts[slot]
    values = value[entries]
    padded = np.full((len(crowded), int(widths.max())), -np.inf)  # [r, widest]
    padded[slot, column] = values
    kth = -np.partition(-padded, k - 1, axis=1)[:, k - 1]  # [r] k-th largest value of each row
    above = values > kth[slot]
    tie = values == kth[slot]
    tied_so_far = np.cumsum(tie)
    tie_rank = tied_so_far - (tied_so_far[starts] - tie[starts])[slot]  # 1-based among the row's ties
    room = k - np.bincount(slot[above], minlength=len(crowded))  # [r] places left for ties
    keep[entries] = above | (tie & (tie_rank <= room[slot]))
    return keep


@dataclass(frozen=True, eq=False)
class PairItems:
    """The distinct items of chosen (row, session) pairs, pair by pair: pair ``p`` owns entries
    ``offsets[p]:offsets[p+1]`` (never empty: a session has an item)."""

    pair: np.ndarray  # int64 [N]
    offsets: np.ndarray  # int64 [P + 1]
    item: np.ndarray  # int64 [N]
    session_position: np.ndarray  # float64 [N]: 1-based position of the item's last occurrence in the session
    query_weight: np.ndarray  # float64 [N]: the item's weight in the pair's query, 0 when not in it
    query_position: np.ndarray  # float64 [N]: 1-based last position in the pair's query, 0 when not in it

    @classmethod
    def of(cls, index: SessionIndex, query: Query, rows: np.ndarray, sessions: np.ndarray) -> PairItems:
        pair, at = ragged_indices(index.offsets[sessions], index.offsets[sessions + 1])
        item = index.item[at].astype(np.int64)
        keys = rows[pair] * index.n_items + item
        query_keys = query.key
        found = np.minimum(np.searchsorted(query_keys, keys), max(len(query_keys) - 1, 0))
        in_query = query_keys[found] == keys if len(query_keys) else np.zeros(len(keys), dtype=bool)
        return cls(pair, np.r_[0, np.cumsum(index.n_distinct[sessions])].astype(np.int64), item,
                   index.position[at].astype(np.float64), np.where(in_query, query.weight[found], 0.0),
                   np.where(in_query, query.last_position[found], 0).astype(np.float64))

    def per_pair_sum(self, values: np.ndarray) -> np.ndarray:
        """float64 [P]: ``values`` [N] summed over each pair's entries."""
        return np.add.reduceat(values, self.offsets[:-1]) if len(values) else np.zeros(len(self.offsets) - 1)

    def per_pair_max(self, values: np.ndarray) -> np.ndarray:
        """float64 [P]: the largest of ``values`` [N] over each pair's entries."""
        return np.maximum.reduceat(values, self.offsets[:-1]) if len(values) else np.zeros(len(self.offsets) - 1)


class SessionKnnScorer:
    """StreamScorer of a session-based kNN model; subclasses say how query items are weighted
    (:meth:`_position_weights`), how similar a session is (:meth:`_similarities`) and what a
    neighbour gives each of its items (:meth:`_item_scores`). The session-aware options (Extend,
    Boost, Reminders; see :mod:`engine.baselines.session_aware`) are off unless ``history`` is given
    with a positive ``extend_length``, ``boost`` or ``reminders``."""

    history_feed = "none"

    def __init__(self, index: SessionIndex, k: int, device: torch.device | str = "cpu",
                 history: UserHistory | None = None, extend_length: int = 0, boost: float = 0.0,
                 reminders: Reminders | None = None) -> None:
        self.n_items = index.n_items
        self._index = index
        self._k = k
        self._history = history
        self._extend_length = extend_length if history is not None else 0
        self._boost = boost if history is not None else 0.0
        self._reminders = reminders if history is not None and reminders is not None and reminders.active else None
        self._sessions = CurrentSessions(history.end_time if history is not None else 0.0)
        self._output = DenseScoreRows(self.n_items, device)

    # The StreamScorer contract.

    def reset(self, n_slots: int) -> None:
        self._sessions.reset(n_slots)

    def assign(self, slots: np.ndarray, users: np.ndarray) -> None:
        self._sessions.assign(slots, users)

    def observe_times(self, times: np.ndarray, active: np.ndarray) -> None:
        """The times (unix seconds [B]) of the events about to be consumed: "now" of the reminders."""
        self._sessions.observe_times(times, active)

    def consume(self, items: np.ndarray, session_start: np.ndarray, active: np.ndarray) -> None:
        self._sessions.consume(items, session_start, active)

    def scores(self, slots: np.ndarray) -> torch.Tensor:
        """float32 [b, n_items]; items without a score score 0 (a reused buffer: read it at once)."""
        return self._output.dense(self.score_matrix(slots))

    def scores_of(self, slots: np.ndarray, items: np.ndarray) -> torch.Tensor:
        """float32 [b, m]: the scores of ``items`` [m] only (repeats allowed)."""
        return self._output.columns(self.score_matrix(slots), items)

    # The computation.

    def score_matrix(self, slots: np.ndarray) -> sp.csr_matrix:
        """CSR float64 [b, n_items]: the scores of slots ``slots`` [b]."""
        query = self._query(slots)
        users = self._sessions.user[slots]
        rows, sessions, overlap = sample_candidates(self._index, query)
        similarity = self._similarities(query, rows, sessions, overlap)
        if self._boost > 0:
            similarity = similarity * np.where(self._index.user[sessions] == users[rows], 1.0 + self._boost, 1.0)
        chosen = top_per_row(rows, similarity, len(slots), self._k)
        rows, sessions, similarity = rows[chosen], sessions[chosen], similarity[chosen]
        neighbour_items = PairItems.of(self._index, query, rows, sessions)
        values = self._item_scores(query, rows, similarity, neighbour_items)
        scores = sp.csr_matrix((values, (rows[neighbour_items.pair], neighbour_items.item)),
                               shape=(len(slots), self.n_items))
        if self._reminders is None:
            return scores
        assert self._history is not None
        recency = self._reminders.recency_scores(self._history, users, self._sessions.time[slots], self.n_items)
        similar = self._past_session_scores(query, users) if self._reminders.similarity > 0 else None
        return self._reminders.combine(scores, recency, similar)

    def _query(self, slots: np.ndarray) -> Query:
        rows, items = self._sessions.sequences(slots)
        if self._extend_length > 0:
            assert self._history is not None
            missing = np.maximum(self._extend_length - self._sessions.length[slots], 0)
            past_rows, past_items = self._history.last_items(self._sessions.user[slots], missing)
            rows = np.r_[past_rows, rows]
            order = np.argsort(rows, kind="stable")  # each row: the past items, then the session
            rows, items = rows[order], np.r_[past_items, items][order]
        return Query.of(rows, items, len(slots), self.n_items, self._position_weights)

    def _past_session_scores(self, query: Query, users: np.ndarray) -> sp.csr_matrix:
        """SSim [b, n_items]: each item's summed similarity of the user's latest training sessions
        that contain it (the sessions' shared boost would scale them all alike: left out)."""
        assert self._history is not None and self._reminders is not None
        rows, training_sessions = self._history.latest_sessions(users, self._reminders.sessions)
        sessions = self._index.code_of_training_session[training_sessions]
        items = PairItems.of(self._index, query, rows, sessions)
        similarity = self._similarities(query, rows, sessions, items.per_pair_sum(items.query_weight))
        return sp.csr_matrix((similarity[items.pair], (rows[items.pair], items.item)),
                             shape=(query.n_rows, self.n_items))

    # What the models differ in.

    def _position_weights(self, last_position: np.ndarray, length: np.ndarray) -> np.ndarray:
        """float64: every query item weighs 1 (a binary session vector)."""
        return np.ones_like(last_position)

    def _similarities(self, query: Query, rows: np.ndarray, sessions: np.ndarray, overlap: np.ndarray) -> np.ndarray:
        """float64 [C]: similarity of session ``sessions[c]`` to the query of row ``rows[c]``,
        given ``overlap[c]``, the summed query weights of their shared items."""
        raise NotImplementedError

    def _item_scores(self, query: Query, rows: np.ndarray, similarity: np.ndarray, items: PairItems) -> np.ndarray:
        """float64 [N]: what neighbour ``items.pair[n]`` (of row ``rows[pair]``, with
        ``similarity[pair]``) adds to the score of its item ``items.item[n]``."""
        raise NotImplementedError
