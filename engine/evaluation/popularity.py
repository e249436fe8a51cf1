"""Training popularity of items, shared by the Pop baselines, the candidate restriction and the
popularity breakdown."""
from __future__ import annotations

import numpy as np

from engine.data.session_log import SessionLog


def item_popularity(log: SessionLog) -> np.ndarray:
    """int64 [n_items]: number of events of each item in ``log``."""
    return np.bincount(log.item, minlength=log.n_items).astype(np.int64)


def most_popular_mask(popularity: np.ndarray, n: int) -> np.ndarray:
    """bool [n_items]: the ``n`` most popular items (equal counts ordered by item code, lower
    first, so the choice is deterministic)."""
    order = np.argsort(-popularity, kind="stable")
    mask = np.zeros(len(popularity), dtype=bool)
    mask[order[:n]] = True
    return mask


def candidates_label(n_candidates: int | None) -> str:
    """Short: "all items" or "top 50,000"."""
    return "all items" if n_candidates is None else f"top {n_candidates:,}"


def candidates_phrase(n_candidates: int | None) -> str:
    """What a target is ranked among: "all items" or "the 50,000 most popular items and the target"."""
    return "all items" if n_candidates is None else f"the {n_candidates:,} most popular items and the target"
