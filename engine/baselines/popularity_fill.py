"""Popularity fill: the items a sparse model did not score, ordered by training popularity below
every item it did score, so that its list is full and nothing is tied (as a deployed recommender
would show it).

The kNN, rule and Markov models score a few hundred items and give every other item exactly 0;
Personal Pop scores the user's own items. Under conservative ties a target they never scored ranks
below all those zeros; under optimistic ties it would rank just after the scored items, a "hit"
the model never predicted (DESIGN §5). With the fill, such a target ranks where plain popularity
puts it among the unscored items: a prediction the model really makes.

Every wrapped model scores items it recommends with a positive number (sums of positive weights,
counts), so "scored" means a score above 0. The unscored items get distinct values in (-1, 0),
the most popular highest (equal counts: lower item code first, as the candidate set orders them).
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from engine.data.session_log import SessionLog
from engine.evaluation.popularity import item_popularity
from engine.evaluation.stream_scorer import StreamScorer
from engine.registry.search_space import Choice
from engine.registry.settings import setting

logger = logging.getLogger(__name__)

#: Above this many items, float32 cannot keep every fill value distinct (they lie in (-1, 0)).
_DISTINCT_FILL_ITEMS = 2**23
#: The setting's name, as the search spaces and labels know it.
FILL_SETTING = "popularity_fill"
#: What tuning tries.
FILL_SPACE = {FILL_SETTING: Choice((True, False))}


def fill_setting(what_is_scored: str = "the items it scores", legacy: bool = False) -> Any:
    """The declared switch (default on: measured in RESULTS.md, "Popularity fill"). ``legacy``: what
    runs stored before the setting existed did."""
    return setting(True, "Fill with popular items",
                   f"Order the items the model gives no score by training popularity, below {what_is_scored}: a "
                   "full list with no ties, as a deployed recommender shows it. Off: those items all score 0 and tie "
                   "with each other. Default: on.", legacy=legacy, tag="popularity fill")


def fill_values(popularity: np.ndarray) -> np.ndarray:
    """float32 [n_items] in (-1, 0): distinct, the more popular the higher (equal counts: lower code first)."""
    n_items = len(popularity)
    if n_items > _DISTINCT_FILL_ITEMS:
        logger.warning("popularity fill: %d items exceed float32's distinct fill values; some unscored items tie",
                       n_items)
    order = np.lexsort((np.arange(n_items), -np.asarray(popularity)))  # most popular first
    values = np.empty(n_items, dtype=np.float64)
    values[order] = -(np.arange(n_items) + 1.0) / (n_items + 1.0)
    return values.astype(np.float32)


class PopularityFilledScorer:
    """A StreamScorer whose scores are those of ``scorer``, with every score not above 0 replaced by
    the item's fill value (:func:`fill_values`). Everything else is the wrapped scorer's."""

    def __init__(self, scorer: StreamScorer, fill: np.ndarray) -> None:
        self.scorer = scorer
        self.n_items = scorer.n_items
        self.history_feed = scorer.history_feed
        self._fill = torch.from_numpy(fill)  # [n_items]

    def __getattr__(self, name: str) -> Any:
        """The wrapped scorer's optional parts (e.g. ``observe_times``) where it has them."""
        if name == "scorer":  # not yet set (copying, unpickling)
            raise AttributeError(name)
        return getattr(self.scorer, name)

    def reset(self, n_slots: int) -> None:
        self.scorer.reset(n_slots)

    def assign(self, slots: np.ndarray, users: np.ndarray) -> None:
        self.scorer.assign(slots, users)

    def consume(self, items: np.ndarray, session_start: np.ndarray, active: np.ndarray) -> None:
        self.scorer.consume(items, session_start, active)

    def scores(self, slots: np.ndarray) -> torch.Tensor:
        """float32 [b, n_items]: the wrapped scores, unscored items filled (in place: the wrapped
        scorer's buffer, read at once by the StreamScorer contract, keeps valid fill values)."""
        return self._filled(self.scorer.scores(slots), self._fill)

    def scores_of(self, slots: np.ndarray, items: np.ndarray) -> torch.Tensor:
        """float32 [b, m]: :meth:`scores` of ``items`` [m] only."""
        inner = getattr(self.scorer, "scores_of", None)
        fill = self._fill[torch.from_numpy(np.asarray(items, dtype=np.int64))]  # [m]
        if inner is not None:
            return self._filled(inner(slots, items), fill)
        full = self.scorer.scores(slots)
        return self._filled(full[:, torch.from_numpy(np.asarray(items, dtype=np.int64)).to(full.device)], fill)

    @staticmethod
    def _filled(scores: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
        fill = fill.to(scores.device)
        return torch.where(scores > 0, scores, fill, out=scores)  # [b, columns]


def with_popularity_fill(scorer: StreamScorer, train: SessionLog, enabled: bool) -> StreamScorer:
    """``scorer`` with its unscored items filled by ``train``'s popularity when ``enabled``."""
    if not enabled:
        return scorer
    return PopularityFilledScorer(scorer, fill_values(item_popularity(train)))
