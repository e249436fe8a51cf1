"""How the Results panel names tie handling and shows the tie statistics of each model: the
modes as the "Ties" control offers them, the protocol in a caption or a footnote, and the three
tie columns of the comparison table (shares as "41.2%", the mean with thousands separators,
"n/a" where an evaluation stored no tie counts)."""
from __future__ import annotations

import html
import math

from engine.workbench.results import (
    DEFAULT_TIE_MODE,
    TIE_COLUMNS,
    TIE_MODE_NAMES,
    TIE_MODE_PHRASES,
    TIE_MODES,
    candidates_label,
    candidates_phrase,
)

#: The modes in the order the "Ties" control offers them, the default (conservative) first.
MODE_ORDER: tuple[str, ...] = (DEFAULT_TIE_MODE, *(mode for mode in TIE_MODES if mode != DEFAULT_TIE_MODE))
#: The tie columns of the comparison table (the engine's TIE_COLUMNS, in its order) and their headers.
TIE_TITLES = dict(zip(TIE_COLUMNS, ("Tied", "Items tied", "Given nothing"), strict=True))
TIE_TIPS = {
    "tied_share": "Share of the targets scored exactly like at least one competing item (mean over seeds): "
                  "their rank depends on how ties are counted.",
    "mean_tied": "Number of competing items scored exactly like the target, on average over the targets "
                 "(mean over seeds).",
    "floor_share": "Share of the targets the model gave nothing: no competing item scored below them, so "
                   "they share the bottom rank with every item the model did not score (mean over seeds).",
}
NOT_STORED = ("n/a: evaluated by an earlier version, before tie counts were stored. Choose conservative or "
              "median ties and evaluate the run again to see them.")


def mode_title(tie_mode: str) -> str:
    """"Conservative", "Median", "Optimistic"."""
    return TIE_MODE_NAMES[tie_mode].capitalize()


def ties_words(tie_mode: str) -> str:
    """"conservative ties", "optimistic ties"."""
    return f"{TIE_MODE_NAMES[tie_mode]} ties"


def protocol_caption(tie_mode: str, n_candidates: int | None) -> str:
    """Short, for plot titles: "conservative ties, ranked among all items" (or "… among the top 1,000")."""
    among = candidates_label(n_candidates) if n_candidates is None else f"the {candidates_label(n_candidates)}"
    return f"{ties_words(tie_mode)}, ranked among {among}"


def protocol_html(tie_mode: str, n_candidates: int | None) -> str:
    """A sentence for the table's footnote naming the candidates and the tie handling in bold,
    and the controls that choose them."""
    phrase = html.escape(TIE_MODE_PHRASES[tie_mode])
    name = ties_words(tie_mode)
    ties = f"<b>{name}</b>{phrase[len(name):]}" if phrase.startswith(name) else f"<b>{phrase}</b>"
    return (f"Targets ranked among <b>{html.escape(candidates_phrase(n_candidates))}</b> with {ties}, as set in "
            f"“Rank among” and “Ties”.")


def format_tie(column: str, value: float) -> str:
    """A tie statistic as shown: "41.2%" for the shares, "1,234.5" for the mean, "n/a" when unknown."""
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.1%}" if column.endswith("_share") else f"{value:,.1f}"
