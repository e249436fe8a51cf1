"""A pyqtgraph axis for log10-seconds values, with ticks at round durations (1 s, 1 min, 1 h...)."""
from __future__ import annotations

import math

import pyqtgraph as pg

ROUND_DURATIONS_S: tuple[tuple[float, str], ...] = (
    (1, "1 s"), (10, "10 s"), (60, "1 min"), (600, "10 min"), (3600, "1 h"), (6 * 3600, "6 h"),
    (86400, "1 d"), (7 * 86400, "1 wk"), (30 * 86400, "30 d"), (365 * 86400, "1 y"),
)
_TICKS = {round(math.log10(seconds), 6): text for seconds, text in ROUND_DURATIONS_S}


def format_duration(seconds: float) -> str:
    """A short human-readable duration: 45 s, 30 min, 2.5 h, 3 d."""
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{seconds / 60:.3g} min"
    if seconds < 86400:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 86400:.3g} d"


class DurationAxis(pg.AxisItem):
    """Bottom axis whose values are log10(seconds), labelled at round durations."""

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:
        return [(1.0, [value for value in _TICKS if minVal <= value <= maxVal])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [_TICKS.get(round(value, 6), format_duration(10 ** value)) for value in values]
