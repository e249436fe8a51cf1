"""Tie handling in words and in numbers: what each tie mode means, the tie statistics of an
evaluation (how often the target was tied, with how many items, and how often the model gave it
nothing), and ranks moved from one tie mode to another.

Ranks stored with their tie counts hold every tie mode at once: with ``tied`` items scored like
the target, rank = 1 + higher + t * tied (t = 1, 1/2, 0 for conservative, median, standard), so
a rank under one mode gives the rank under any other without scoring again."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.evaluation.ranking import DEFAULT_TIE_MODE, TIE_MODES, TIED_ABOVE, TieMode

#: Each tie mode in a few words, for tables, captions and verdicts.
TIE_MODE_PHRASES: dict[str, str] = {
    "conservative": "conservative ties (items scored like the target rank above it)",
    "median": "median ties (half of the items scored like the target rank above it)",
    "standard": "optimistic ties (items scored like the target never count against it)",
}
#: A one-word name of each mode for column headers and short labels.
TIE_MODE_NAMES: dict[str, str] = {"conservative": "conservative", "median": "median", "standard": "optimistic"}


def tie_mode_phrase(tie_mode: str) -> str:
    return TIE_MODE_PHRASES[tie_mode]


def convert_ranks(rank: np.ndarray, tied: np.ndarray, from_mode: str, to_mode: str) -> np.ndarray:
    """float64 [T]: ``rank`` [T] computed under ``from_mode`` with ``tied`` [T] items scored like
    the target, as ``to_mode`` ranks it."""
    for mode in (from_mode, to_mode):
        if mode not in TIE_MODES:
            raise ValueError(f"tie mode {mode!r} is not one of {TIE_MODES}")
    if from_mode == to_mode:
        return np.asarray(rank, dtype=np.float64)
    shift = TIED_ABOVE[to_mode] - TIED_ABOVE[from_mode]
    return np.asarray(rank, dtype=np.float64) + shift * np.asarray(tied, dtype=np.float64)


@dataclass(frozen=True)
class TieSummary:
    """Ties of one evaluation: ``tied_share`` of the targets tied with at least one competing item,
    ``mean_tied`` items tied with the target on average, ``floor_share`` of the targets the model
    put at the very bottom (scored like the lowest-scored items: it gave them nothing)."""

    tied_share: float
    mean_tied: float
    floor_share: float

    @staticmethod
    def of(tied: np.ndarray, floor: np.ndarray) -> TieSummary:
        """From per-event tie counts [T] and floor flags [T] (NaN entries: unknown, left out)."""
        tied = np.asarray(tied, dtype=np.float64)
        floor = np.asarray(floor, dtype=np.float64)
        known = ~np.isnan(tied)
        if not known.any():
            return UNKNOWN_TIES
        return TieSummary(float((tied[known] > 0).mean()), float(tied[known].mean()), float(floor[known].mean()))

    @property
    def known(self) -> bool:
        return not np.isnan(self.tied_share)

    def as_dict(self) -> dict[str, float]:
        return {"tied_share": self.tied_share, "mean_tied": self.mean_tied, "floor_share": self.floor_share}


#: The tie statistics of an evaluation stored before they were recorded.
UNKNOWN_TIES = TieSummary(float("nan"), float("nan"), float("nan"))

__all__ = ["DEFAULT_TIE_MODE", "TIE_MODES", "TIE_MODE_NAMES", "TIE_MODE_PHRASES", "TieMode", "TieSummary",
           "UNKNOWN_TIES", "convert_ranks", "tie_mode_phrase"]
