"""Non-neural baselines of the paper (Pop, Personal Pop, Item-KNN), each a StreamScorer fitted on a
training SessionLog."""
from __future__ import annotations

import torch

from engine.baselines.item_knn import ItemKnnScorer
from engine.baselines.personal_pop import PersonalPopScorer
from engine.baselines.pop import PopScorer
from engine.data.session_log import SessionLog
from engine.errors import InputError
from engine.progress import CancelToken, ProgressCallback, no_progress

BASELINE_NAMES: tuple[str, ...] = ("pop", "personal_pop", "item_knn")


def fit_baseline(
    name: str, train: SessionLog, device: torch.device | str = "cpu", n_neighbors: int = 300,
    progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
) -> PopScorer | PersonalPopScorer | ItemKnnScorer:
    """Fit the baseline called ``name`` (one of :data:`BASELINE_NAMES`) on ``train``; its scores
    are returned on ``device``. ``n_neighbors``, ``progress`` and ``cancel`` are used by Item-KNN
    only (the others fit in a moment)."""
    if name == "pop":
        return PopScorer.fit(train, device)
    if name == "personal_pop":
        return PersonalPopScorer.fit(train, device)
    if name == "item_knn":
        return ItemKnnScorer.fit(train, n_neighbors=n_neighbors, device=device, progress=progress, cancel=cancel)
    raise InputError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINE_NAMES)}")


__all__ = ["BASELINE_NAMES", "ItemKnnScorer", "PersonalPopScorer", "PopScorer", "fit_baseline"]
