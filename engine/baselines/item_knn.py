"""Item-KNN: items similar to the session's last item by co-occurrence in training sessions."""
from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
import torch

from engine.data.session_log import SessionLog

logger = logging.getLogger(__name__)


def session_cosine_similarity(train: SessionLog, n_neighbors: int = 300) -> sp.csr_matrix:
    """CSR float32 [n_items, n_items]: sim(i, j) = (#sessions with both i and j) /
    sqrt(#sessions with i * #sessions with j), for i != j, keeping each row's ``n_neighbors`` largest
    entries (equal similarities ordered by item code, lower first)."""
    n_items = train.n_items
    occurs = sp.csr_matrix(
        (np.ones(train.n_events, dtype=np.float32), (train.session, train.item)),
        shape=(train.n_sessions, n_items),
    )
    occurs.sum_duplicates()
    occurs.data[:] = 1.0  # [S, n_items] binary: item occurs in session
    co = (occurs.T @ occurs).tocoo()  # [n_items, n_items] sessions containing both
    sessions_with = np.asarray(occurs.sum(axis=0), dtype=np.float64).ravel()  # [n_items]
    off_diagonal = co.row != co.col
    row, col, both = co.row[off_diagonal], co.col[off_diagonal], co.data[off_diagonal]
    sim = both / np.sqrt(sessions_with[row] * sessions_with[col])
    order = np.lexsort((col, -sim, row))  # by row, then similarity descending, then column
    row, col, sim = row[order], col[order], sim[order]
    row_start = np.searchsorted(row, np.arange(n_items))  # [n_items]
    keep = np.arange(len(row)) - row_start[row] < n_neighbors
    return sp.csr_matrix(
        (sim[keep].astype(np.float32), (row[keep], col[keep])), shape=(n_items, n_items),
    )


class ItemKnnScorer:
    """StreamScorer: the scores of the next item are the similarity row of the last consumed item;
    items that are not among its neighbours score 0 (and so does everything before any item)."""

    history_feed = "none"

    def __init__(self, similarity: sp.csr_matrix, device: torch.device | str = "cpu") -> None:
        """``similarity``: CSR [n_items, n_items]."""
        self.n_items = int(similarity.shape[0])
        self._similarity = similarity.tocsr()
        self._device = torch.device(device)
        self._last_item = np.zeros(0, dtype=np.int64)  # [B], -1 before any item

    @classmethod
    def fit(
        cls, train: SessionLog, n_neighbors: int = 300, device: torch.device | str = "cpu",
    ) -> "ItemKnnScorer":
        similarity = session_cosine_similarity(train, n_neighbors)
        logger.info("Item-KNN: %d items, %d similarities kept", train.n_items, similarity.nnz)
        return cls(similarity, device)

    def reset(self, n_slots: int) -> None:
        self._last_item = np.full(n_slots, -1, dtype=np.int64)

    def assign(self, slots: np.ndarray, users: np.ndarray) -> None:
        self._last_item[slots] = -1

    def consume(self, items: np.ndarray, session_start: np.ndarray, active: np.ndarray) -> None:
        self._last_item[active] = items[active]

    def scores(self, slots: np.ndarray) -> torch.Tensor:
        """float32 [b, n_items]: similarity of every item to each slot's last consumed item."""
        last = self._last_item[slots]  # [b]
        has_item = last >= 0
        rows = self._similarity[last[has_item]]  # CSR [b', n_items]
        out = np.zeros((len(slots), self.n_items), dtype=np.float32)  # [b, n_items]
        row_of_entry = np.flatnonzero(has_item)[np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))]
        out[row_of_entry, rows.indices] = rows.data
        return torch.from_numpy(out).to(self._device)
