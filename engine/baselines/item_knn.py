"""Item-KNN: items similar to the session's last item by co-occurrence in training sessions."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from engine.baselines.popularity_fill import FILL_SPACE, fill_setting, with_popularity_fill
from engine.data.session_log import SessionLog
from engine.evaluation.stream_scorer import StreamScorer
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.registry.models import ModelEntry
from engine.registry.search_space import IntRange
from engine.registry.settings import ModelSettings, setting

logger = logging.getLogger(__name__)

#: Default memory for one block of the item x item co-occurrence product and its top-n selection.
DEFAULT_MEMORY_BUDGET_BYTES = 1 << 30
#: Peak bytes of a block's arrays per entry of its co-occurrence product (the product's column and
#: count, the entry's row, similarity, masks and sort keys; measured at most 62): turns a memory
#: budget into product entries per block.
BYTES_PER_ENTRY = 64


@dataclass(frozen=True)
class ItemKnnConfig(ModelSettings):
    """Item-KNN's one setting: how many neighbours each item keeps."""

    model: str = setting("item-knn", "Model", "Item-KNN", hidden=True)
    n_neighbors: int = setting(300, "Neighbours", "Most similar items kept per item (the paper: 300)", low=1)
    popularity_fill: bool = fill_setting("the neighbours of the session's last item")


def session_cosine_similarity(
    train: SessionLog, n_neighbors: int = 300, *, memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES,
    progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
) -> sp.csr_matrix:
    """CSR float32 [n_items, n_items]: sim(i, j) = (#sessions with both i and j) /
    sqrt(#sessions with i * #sessions with j), for i != j, keeping each row's ``n_neighbors`` largest
    entries (equal similarities ordered by item code, lower first); columns sorted within each row.

    The item x item co-occurrence product is computed for blocks of consecutive item rows, each
    bounded to about ``memory_budget_bytes`` (at least one row a block), and only every row's kept
    entries outlive the block; the result does not depend on the block sizes. Outside the blocks the
    fit holds the binary session x item matrix twice (8 bytes per distinct (session, item) each) and
    the result (8 bytes per kept entry). ``progress`` is told after every block; ``cancel`` is
    checked before every block."""
    n_items = train.n_items
    occurs = sp.csr_matrix(
        (np.ones(train.n_events, dtype=np.float32), (train.session, train.item)),
        shape=(train.n_sessions, n_items),
    )
    occurs.sum_duplicates()
    occurs.data[:] = 1.0  # [S, n_items] binary: item occurs in session
    item_sessions = occurs.T.tocsr()  # [n_items, S] binary: session contains item
    sessions_with = np.asarray(occurs.sum(axis=0), dtype=np.float64).ravel()  # [n_items]
    # [n_items] upper bound of each row's co-occurrence entries: sizes of the item's sessions summed
    row_entries = np.minimum(item_sessions @ np.diff(occurs.indptr).astype(np.float64), n_items)
    entries_done = np.r_[0.0, np.cumsum(row_entries)]  # [n_items + 1]
    counts: list[np.ndarray] = [np.zeros(1, dtype=np.int64)]  # kept entries per row, 0 first (becomes indptr)
    columns: list[np.ndarray] = [np.zeros(0, dtype=np.int32)]
    values: list[np.ndarray] = [np.zeros(0, dtype=np.float32)]
    for start, stop in _row_blocks(entries_done, max(1, memory_budget_bytes // BYTES_PER_ENTRY)):
        if cancel is not None:
            cancel.raise_if_cancelled()
        block = _block_neighbours(item_sessions[start:stop] @ occurs, start, sessions_with, n_neighbors)
        counts.append(block[0])
        columns.append(block[1])
        values.append(block[2])
        progress(entries_done[stop] / max(entries_done[-1], 1.0), f"Item-KNN: {stop:,} of {n_items:,} items")
    return sp.csr_matrix(
        (_join(values), _join(columns), np.cumsum(_join(counts))), shape=(n_items, n_items),
    )


def _join(parts: list[np.ndarray]) -> np.ndarray:
    """The arrays ``parts`` end to end, freeing each once copied (``parts`` is emptied), so the
    peak is the result plus one part rather than twice the result."""
    joined = np.empty(sum(len(part) for part in parts), dtype=np.result_type(*parts))
    at = len(joined)
    while parts:
        part = parts.pop()
        joined[at - len(part):at] = part
        at -= len(part)
    return joined


def _row_blocks(entries_done: np.ndarray, max_entries: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of consecutive rows covering all rows, each block's entries (``entries_done``:
    [n_rows + 1] cumulative entries, 0 first) at most ``max_entries``, or one row where that row alone
    holds more."""
    start, n_rows = 0, len(entries_done) - 1
    while start < n_rows:
        last_fitting = int(np.searchsorted(entries_done, entries_done[start] + max_entries, side="right")) - 1
        stop = max(start + 1, last_fitting)
        yield start, stop
        start = stop


def _block_neighbours(
    co: sp.csr_matrix, first_row: int, sessions_with: np.ndarray, n_neighbors: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kept similarities of a block of rows from its co-occurrence counts ``co`` (CSR float32
    [b, n_items], row r is item ``first_row + r``): (int64 [b] kept entries per row, column [k] and
    float32 similarity [k] of the kept entries in row, column order)."""
    co.sort_indices()
    row = np.repeat(np.arange(co.shape[0], dtype=np.int32), np.diff(co.indptr))  # [nnz] row in the block
    off_diagonal = co.indices != row + first_row
    row, col, both = row[off_diagonal], co.indices[off_diagonal], co.data[off_diagonal]
    sim = both / np.sqrt(sessions_with[row + first_row] * sessions_with[col])  # float64
    keep = _top_per_row(row, col, sim, co.shape[0], n_neighbors)
    return np.bincount(row[keep], minlength=co.shape[0]), col[keep], sim[keep].astype(np.float32)


def _top_per_row(row: np.ndarray, col: np.ndarray, sim: np.ndarray, n_rows: int, n: int) -> np.ndarray:
    """bool [m]: the entries (``row`` non-decreasing) among their row's ``n`` largest ``sim``, equal
    similarities ordered by ``col``, lower first. Only the rows with more than ``n`` entries are sorted."""
    per_row = np.bincount(row, minlength=n_rows)  # [n_rows]
    crowded = per_row > n  # [n_rows] rows that lose entries
    keep = ~crowded[row]
    contested = np.flatnonzero(~keep)
    order = contested[np.lexsort((col[contested], -sim[contested], row[contested]))]  # row, sim desc, col
    crowded_sizes = per_row[crowded]
    row_first = np.repeat(np.cumsum(crowded_sizes) - crowded_sizes, crowded_sizes)  # [len(order)]
    keep[order[np.arange(len(order)) - row_first < n]] = True
    return keep


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
        progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
    ) -> ItemKnnScorer:
        """Fit on ``train``: the similarities of :func:`session_cosine_similarity`."""
        similarity = session_cosine_similarity(train, n_neighbors, progress=progress, cancel=cancel)
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


def fit(config: ItemKnnConfig, train: SessionLog, device: torch.device | str = "cpu",
        progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> StreamScorer:
    scorer = ItemKnnScorer.fit(train, config.n_neighbors, device, progress, cancel)
    return with_popularity_fill(scorer, train, config.popularity_fill)


MODEL = ModelEntry(name="item-knn", label="Item-KNN", kind="baseline", history="none", personalized=False,
                   description="Items that co-occur with the session's last item in training sessions (cosine)",
                   config_type=ItemKnnConfig, presets={"default": ItemKnnConfig()}, fit=fit,
                   search_space={"n_neighbors": IntRange(20, 1000, log=True), **FILL_SPACE})
