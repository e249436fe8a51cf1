"""Personal Pop: the user's own most-interacted items, ties broken by global popularity; the other
items follow in popularity order (the popularity fill, on by default: DESIGN §4's full list)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from engine.baselines.popularity_fill import FILL_SPACE, fill_setting, with_popularity_fill
from engine.data.session_log import SessionLog
from engine.evaluation.popularity import item_popularity
from engine.evaluation.stream_scorer import StreamScorer
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.registry.models import ModelEntry
from engine.registry.settings import ModelSettings, setting

logger = logging.getLogger(__name__)

_FLOAT32_EXACT = 2**24  # integers up to this are exact in float32


@dataclass(frozen=True)
class PersonalPopConfig(ModelSettings):
    """Personal Pop's one setting: whether the items the user never interacted with follow by
    popularity (runs stored before the setting had such a list, with equal counts tied)."""

    model: str = setting("personal-pop", "Model", "Personal Pop", hidden=True)
    popularity_fill: bool = fill_setting("the user's own items", legacy=True)


class PersonalPopScorer:
    """StreamScorer: score(i) = (user's training events on i) + (events on i consumed so far in the
    current session) + a global-popularity tie-breaker in [0, 1) for the items with events; 0 for
    the others (which the popularity fill orders, see :func:`fit`).

    The tie-breaker is the dense rank of the item's training count divided by the number of
    distinct counts, so the user's items with equal counts are ordered by popularity. It needs no
    history feed: the user's counts come from fitting, ``assign`` names the user.
    """

    history_feed = "none"

    def __init__(
        self, user_counts: sp.csr_matrix, popularity: np.ndarray, device: torch.device | str = "cpu",
    ) -> None:
        """``user_counts``: CSR [n_users, n_items] training events per (user, item);
        ``popularity``: int [n_items] training events per item."""
        self.n_items = int(len(popularity))
        self._user_counts = user_counts.tocsr()
        levels, level_of_item = np.unique(popularity, return_inverse=True)
        self._tie_break = (level_of_item / (len(levels) + 1)).astype(np.float32)  # [n_items], in [0, 1)
        max_count = int(self._user_counts.max()) if self._user_counts.nnz else 0
        if (max_count + 1) * (len(levels) + 1) > _FLOAT32_EXACT:
            logger.warning(
                "Personal Pop: %d popularity levels and user counts up to %d exceed float32 "
                "precision; some popularity tie-breaks may be lost", len(levels), max_count,
            )
        self._device = torch.device(device)
        self._slot_user = np.zeros(0, dtype=np.int64)  # [B]
        self._session_items = np.zeros((0, 0), dtype=np.int64)  # [B, capacity]
        self._session_len = np.zeros(0, dtype=np.int64)  # [B]

    @classmethod
    def fit(cls, train: SessionLog, device: torch.device | str = "cpu") -> PersonalPopScorer:
        counts = sp.csr_matrix(
            (np.ones(train.n_events, dtype=np.float32), (train.user, train.item)),
            shape=(train.n_users, train.n_items),
        )
        counts.sum_duplicates()
        return cls(counts, item_popularity(train), device)

    def reset(self, n_slots: int) -> None:
        self._slot_user = np.full(n_slots, -1, dtype=np.int64)
        self._session_items = np.zeros((n_slots, 8), dtype=np.int64)
        self._session_len = np.zeros(n_slots, dtype=np.int64)

    def assign(self, slots: np.ndarray, users: np.ndarray) -> None:
        self._slot_user[slots] = users
        self._session_len[slots] = 0

    def consume(self, items: np.ndarray, session_start: np.ndarray, active: np.ndarray) -> None:
        self._session_len[active & session_start] = 0
        slots = np.flatnonzero(active)
        if self._session_len[slots].max(initial=0) >= self._session_items.shape[1]:
            grown = np.zeros((len(self._session_len), 2 * self._session_items.shape[1]), dtype=np.int64)
            grown[:, : self._session_items.shape[1]] = self._session_items
            self._session_items = grown
        self._session_items[slots, self._session_len[slots]] = items[slots]
        self._session_len[slots] += 1

    def scores(self, slots: np.ndarray) -> torch.Tensor:
        """float32 [b, n_items]: own counts + current-session counts, + the popularity tie-breaker
        where those are positive (0 elsewhere)."""
        out = np.zeros((len(slots), self.n_items), dtype=np.float32)  # [b, n_items]
        own = self._user_counts[self._slot_user[slots]]  # CSR [b, n_items]
        out[np.repeat(np.arange(len(slots)), np.diff(own.indptr)), own.indices] += own.data
        lengths = self._session_len[slots]  # [b]
        in_session = np.arange(self._session_items.shape[1]) < lengths[:, None]  # [b, capacity]
        rows = np.repeat(np.arange(len(slots)), lengths)
        np.add.at(out, (rows, self._session_items[slots][in_session]), 1.0)
        out += np.where(out > 0, self._tie_break, np.float32(0.0))
        return torch.from_numpy(out).to(self._device)


def fit(config: PersonalPopConfig, train: SessionLog, device: torch.device | str = "cpu",
        progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> StreamScorer:
    return with_popularity_fill(PersonalPopScorer.fit(train, device), train, config.popularity_fill)


MODEL = ModelEntry(name="personal-pop", label="Personal Pop", kind="baseline", history="none", personalized=True,
                   description="The user's own most-interacted items, ties broken by global popularity",
                   config_type=PersonalPopConfig, presets={"default": PersonalPopConfig()}, fit=fit,
                   search_space=dict(FILL_SPACE))
