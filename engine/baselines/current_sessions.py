"""The per-slot state the session-based baselines keep while the evaluator walks its slots (each
slot's user, the items of its current session in order, the time of its latest event), and the
dense score rows they hand back."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

_INITIAL_CAPACITY = 8  # items per slot before the buffer doubles


class CurrentSessions:
    """Slot ``s`` holds user ``user[s]``, whose current session so far is
    ``items[s, :length[s]]`` (oldest first); ``time[s]`` is the unix time in seconds of the slot's
    latest event, or ``fallback_time`` when the caller gave no times."""

    def __init__(self, fallback_time: float = 0.0) -> None:
        self.fallback_time = float(fallback_time)
        self.user = np.zeros(0, dtype=np.int64)  # [B], -1: empty slot
        self.items = np.zeros((0, _INITIAL_CAPACITY), dtype=np.int64)  # [B, capacity]
        self.length = np.zeros(0, dtype=np.int64)  # [B]
        self.time = np.zeros(0, dtype=np.float64)  # [B] unix seconds

    def reset(self, n_slots: int) -> None:
        self.user = np.full(n_slots, -1, dtype=np.int64)
        self.items = np.zeros((n_slots, _INITIAL_CAPACITY), dtype=np.int64)
        self.length = np.zeros(n_slots, dtype=np.int64)
        self.time = np.full(n_slots, self.fallback_time)

    def assign(self, slots: np.ndarray, users: np.ndarray) -> None:
        self.user[slots] = users
        self.length[slots] = 0
        self.time[slots] = self.fallback_time

    def observe_times(self, times: np.ndarray, active: np.ndarray) -> None:
        """``times`` [B]: unix seconds of the events the active slots are about to consume."""
        self.time[active] = times[active]

    def consume(self, items: np.ndarray, session_start: np.ndarray, active: np.ndarray) -> None:
        self.length[active & session_start] = 0
        slots = np.flatnonzero(active)
        if self.length[slots].max(initial=0) >= self.items.shape[1]:
            grown = np.zeros((len(self.length), 2 * self.items.shape[1]), dtype=np.int64)
            grown[:, : self.items.shape[1]] = self.items
            self.items = grown
        self.items[slots, self.length[slots]] = items[slots]
        self.length[slots] += 1

    def last_item(self, slots: np.ndarray) -> np.ndarray:
        """int64 [b]: each slot's latest item, -1 where its session is empty."""
        lengths = self.length[slots]
        return np.where(lengths > 0, self.items[slots, np.maximum(lengths - 1, 0)], -1)

    def sequences(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The current sessions of ``slots`` [b] flattened: (int64 [T] row in ``slots`` of each
        event, int64 [T] item), rows in order and each session oldest first."""
        lengths = self.length[slots]
        in_session = np.arange(self.items.shape[1]) < lengths[:, None]  # [b, capacity]
        return np.repeat(np.arange(len(slots)), lengths), self.items[slots][in_session]


class DenseScoreRows:
    """Sparse scores [b, n_items] as dense float32 rows, written into one buffer that is reused:
    only the entries written by the previous call are cleared, so a call costs its nonzeros, not
    b x n_items. The evaluator reads the returned tensor at once and keeps no reference (the
    StreamScorer contract), so the next call may overwrite it."""

    def __init__(self, n_items: int, device: torch.device | str = "cpu") -> None:
        self.n_items = n_items
        self._device = torch.device(device)
        self._buffer = np.zeros((0, n_items), dtype=np.float32)  # [B, n_items]
        self._written_rows = np.zeros(0, dtype=np.int64)
        self._written_columns = np.zeros(0, dtype=np.int64)

    def dense(self, scores: sp.csr_matrix) -> torch.Tensor:
        """float32 [b, n_items] of the CSR ``scores`` [b, n_items] (a view of the buffer)."""
        n_rows = scores.shape[0]
        if n_rows > self._buffer.shape[0]:
            self._buffer = np.zeros((n_rows, self.n_items), dtype=np.float32)
        else:
            self._buffer[self._written_rows, self._written_columns] = 0.0
        self._written_rows = np.repeat(np.arange(n_rows), np.diff(scores.indptr))
        self._written_columns = scores.indices.astype(np.int64)
        self._buffer[self._written_rows, self._written_columns] = scores.data
        return torch.from_numpy(self._buffer[:n_rows]).to(self._device)

    def columns(self, scores: sp.csr_matrix, items: np.ndarray) -> torch.Tensor:
        """float32 [b, m]: the columns ``items`` [m] of ``scores`` (repeats allowed), found by a
        binary search of each nonzero among the sorted ``items``: the cost is the nonzeros and m,
        not n_items."""
        items = np.asarray(items, dtype=np.int64)
        order = np.argsort(items, kind="stable")
        ordered = items[order]  # [m]
        first = np.searchsorted(ordered, scores.indices, side="left")  # [nnz]
        copies = np.searchsorted(ordered, scores.indices, side="right") - first  # [nnz] columns holding the item
        rows = np.repeat(np.repeat(np.arange(scores.shape[0]), np.diff(scores.indptr)), copies)
        starts = np.repeat(first, copies)
        within = np.arange(len(rows)) - np.repeat(np.cumsum(copies) - copies, copies)
        out = np.zeros((scores.shape[0], len(items)), dtype=np.float32)  # [b, m]
        out[rows, order[starts + within]] = np.repeat(scores.data, copies)
        return torch.from_numpy(out).to(self._device)
