"""The evaluator's :class:`~engine.evaluation.stream_scorer.StreamScorer` for SASRec and its twin.

Each slot keeps the last L events it consumed (item and time-gap bucket, oldest first). SASRec's
stream is the user's training events in time order across sessions, then the test session's
prefix (``history_feed="all_events"``): nothing is reset at a session start, so a prediction
reads the last L events of history and session together. The twin's stream is the test session
alone (``"none"``) and the slot is also emptied at every session start. A prediction runs the
network once over the slot's window (eval mode: no dropout) and scores every item against the
output after its last event, as in training.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from engine.models.sasrec import SASRecNetwork, gap_buckets

#: Registered SASRec models that read the current session alone.
SESSION_ONLY_MODELS = frozenset({"sasrec-session"})


class SASRecStreamScorer:
    """Batched next-item scores of a trained SASRec network for the evaluator's B slots."""

    def __init__(self, network: SASRecNetwork, model: str) -> None:
        self.network = network.eval()
        self.model = model
        self.sessions_only = model in SESSION_ONLY_MODELS
        self.history_feed = "none" if self.sessions_only else "all_events"
        self.n_items = network.spec.n_items
        self.device = network.device
        self.reset(0)

    def reset(self, n_slots: int) -> None:
        length = self.network.spec.max_length
        self.items = np.full((n_slots, length), self.network.spec.pad_item, dtype=np.int64)  # [B, L] oldest first
        self.gaps = np.zeros((n_slots, length), dtype=np.int64)  # [B, L]
        self.count = np.zeros(n_slots, dtype=np.int64)  # [B] events consumed since the slot's last reset
        self.last_time = np.full(n_slots, np.nan)  # [B] unix seconds of the last event consumed
        self.next_time = np.full(n_slots, np.nan)  # [B] of the event about to be consumed (observe_times)

    def _clear(self, slots: np.ndarray) -> None:
        self.items[slots] = self.network.spec.pad_item
        self.gaps[slots] = 0
        self.count[slots] = 0
        self.last_time[slots] = np.nan

    def assign(self, slots: np.ndarray, users: np.ndarray) -> None:
        self._clear(np.asarray(slots, dtype=np.int64))

    def observe_times(self, times: np.ndarray, active: np.ndarray) -> None:
        """The unix seconds of the events the ``active`` slots consume next (for the time gaps)."""
        active = np.asarray(active, dtype=bool)
        self.next_time[active] = np.asarray(times, dtype=np.float64)[active]

    def consume(self, items: np.ndarray, session_start: np.ndarray, active: np.ndarray) -> None:
        rows = np.flatnonzero(np.asarray(active, dtype=bool))
        if len(rows) == 0:
            return
        if self.sessions_only:
            self._clear(rows[np.asarray(session_start, dtype=bool)[rows]])
        now = self.next_time[rows]
        gap = gap_buckets(np.nan_to_num(now - self.last_time[rows]),
                          (self.count[rows] > 0) & np.isfinite(now) & np.isfinite(self.last_time[rows]))
        self.items[rows, :-1] = self.items[rows, 1:]
        self.items[rows, -1] = np.asarray(items, dtype=np.int64)[rows]
        self.gaps[rows, :-1] = self.gaps[rows, 1:]
        self.gaps[rows, -1] = gap
        self.count[rows] += 1
        self.last_time[rows] = now
        self.next_time[rows] = np.nan

    def _windows(self, slots: np.ndarray) -> tuple[Tensor, Tensor | None]:
        """The slots' windows [b, T] (and gap buckets), T the most events any of them holds (at most L)."""
        slots = np.asarray(slots, dtype=np.int64)
        width = int(min(max(int(self.count[slots].max(initial=1)), 1), self.network.spec.max_length))
        items = torch.from_numpy(self.items[slots, -width:]).to(self.device)
        gaps = torch.from_numpy(self.gaps[slots, -width:]).to(self.device)
        return items, gaps if self.network.gap_embedding is not None else None

    @torch.inference_mode()
    def _last_outputs(self, slots: np.ndarray) -> Tensor:
        items, gaps = self._windows(slots)
        return self.network.encode(items, gaps)[:, -1]  # [b, d]

    @torch.inference_mode()
    def scores(self, slots: np.ndarray) -> Tensor:
        return self.network.score_items(self._last_outputs(slots))

    @torch.inference_mode()
    def scores_of(self, slots: np.ndarray, items: np.ndarray) -> Tensor:
        """float32 [b, m]: scores of items ``items`` [m] only (ranking among candidates)."""
        columns = torch.as_tensor(np.asarray(items, dtype=np.int64), device=self.device)
        return self.network.score_items_of(self._last_outputs(slots), columns)

    @torch.inference_mode()
    def attention(self, slot: int) -> np.ndarray:
        """float64 [n]: the last block's attention, averaged over heads, of the slot's next
        prediction over the n = min(events consumed, L) events it reads, oldest first (sums to 1)."""
        items, gaps = self._windows(np.array([slot]))
        _, weights = self.network.encode_last(items, gaps)  # [1, T]
        shown = int(min(self.count[slot], self.network.spec.max_length))
        return weights[0, weights.shape[1] - shown:].double().cpu().numpy()
