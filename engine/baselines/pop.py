"""Pop: every prediction is the list of the most popular training items."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.data.session_log import SessionLog
from engine.evaluation.popularity import item_popularity
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.registry.models import ModelEntry
from engine.registry.settings import ModelSettings, setting


@dataclass(frozen=True)
class PopConfig(ModelSettings):
    """Pop has no settings of its own."""

    model: str = setting("pop", "Model", "Pop", hidden=True)


class PopScorer:
    """StreamScorer whose scores are the training event counts of the items, whatever was consumed."""

    history_feed = "none"

    def __init__(self, popularity: np.ndarray, device: torch.device | str = "cpu") -> None:
        """``popularity``: int [n_items] training event counts."""
        self.n_items = int(len(popularity))
        self._scores = torch.as_tensor(popularity, dtype=torch.float32, device=device)  # [n_items]

    @classmethod
    def fit(cls, train: SessionLog, device: torch.device | str = "cpu") -> PopScorer:
        return cls(item_popularity(train), device)

    def reset(self, n_slots: int) -> None:
        """Pop keeps no per-slot state."""

    def assign(self, slots: np.ndarray, users: np.ndarray) -> None:
        """Pop ignores who the user is."""

    def consume(self, items: np.ndarray, session_start: np.ndarray, active: np.ndarray) -> None:
        """Pop ignores what was consumed."""

    def scores(self, slots: np.ndarray) -> torch.Tensor:
        """float32 [b, n_items]: the training counts, the same row for every slot (a read-only view)."""
        return self._scores.expand(len(slots), self.n_items)  # [b, n_items]

    def scores_of(self, slots: np.ndarray, items: np.ndarray) -> torch.Tensor:
        """float32 [b, m]: the training counts of items ``items`` [m]."""
        columns = torch.as_tensor(np.asarray(items, dtype=np.int64), device=self._scores.device)
        return self._scores[columns].expand(len(slots), len(columns))


def fit(config: PopConfig, train: SessionLog, device: torch.device | str = "cpu",
        progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> PopScorer:
    return PopScorer.fit(train, device)


MODEL = ModelEntry(name="pop", label="Pop", kind="baseline", history="none", personalized=False,
                   description="The most popular training items, whatever the session", config_type=PopConfig,
                   presets={"default": PopConfig()}, fit=fit)
