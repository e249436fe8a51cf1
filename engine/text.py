"""Values and name lists for messages, cut to a bounded size: a message about a 10 MB field or a
header of 20,000 columns stays one readable line."""
from __future__ import annotations

import numbers
from collections.abc import Iterable

ELLIPSIS = "…"


def shorten(text: str, limit: int) -> str:
    """``text`` cut in the middle to at most ``limit`` characters, "…" marking the cut."""
    if len(text) <= limit:
        return text
    tail = limit // 3
    return text[: limit - tail - 1] + ELLIPSIS + (text[-tail:] if tail else "")


def elide(value: object, limit: int = 80) -> str:
    """``value`` as it should appear in a message: numbers plain (``12.5``, numpy scalars too),
    anything else quoted (``'yesterday'``, invisible characters escaped: ``'u1\\tb'``). Longer than
    ``limit`` characters: cut in the middle, with the original length:
    ``'aaaa…aaa' (10,000,000 characters)``."""
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return shorten(str(value), limit)
    text = str(value)
    shown = repr(shorten(text, limit))
    return shown if len(text) <= limit else f"{shown} ({len(text):,} characters)"


def name_list(names: Iterable[object], limit: int = 20, width: int = 32) -> str:
    """Names joined by ", ": the first ``limit`` (each cut to ``width`` characters), then
    "… and 19,980 more"."""
    texts = [str(name) for name in names]
    shown = ", ".join(shorten(text, width) for text in texts[:limit])
    rest = len(texts) - limit
    return f"{shown}, {ELLIPSIS} and {rest:,} more" if rest > 0 else shown
