"""Plain-text rendering of tables and statistics for the command line."""
from __future__ import annotations

import argparse
import re
from collections.abc import Sequence

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {None: 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds from '30m', '1800', '1.5h', '2d', '90s'."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"cannot read '{text}' as a duration; write e.g. 30m, 1800s, 1h or 2d")
    unit = match.group(2).lower() if match.group(2) else None
    return float(match.group(1)) * _UNIT_SECONDS[unit]


def parse_candidates(text: str) -> int:
    """``all`` -> 0 (every item), else a positive number of candidates."""
    if text.strip().lower() == "all":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of items or 'all', not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"the number of candidates must be at least 1 (or 'all'), not {value}")
    return value


def format_duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} s"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]], align_right: set[int] | None = None) -> str:
    """A fixed-width text table; numeric columns (or those in ``align_right``) right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    right = align_right if align_right is not None else {
        i for i in range(len(headers)) if rows and all(isinstance(row[i], (int, float)) for row in rows)}
    lines = []
    for index, row in enumerate(cells):
        padded = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        lines.append("  ".join(padded).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_statistics(name: str, statistics: dict) -> str:
    """The paper's Table 1 for one dataset."""
    def spread(key: str) -> str:
        s = statistics[key]
        return f"median {s['median']:g}, mean {s['mean']:.2f}, std {s['std']:.2f}"

    rows = [
        ("Users", f"{statistics['users']:,}"), ("Items", f"{statistics['items']:,}"),
        ("Sessions", f"{statistics['sessions']:,}"), ("Events", f"{statistics['events']:,}"),
        ("Events per item", spread("events_per_item")), ("Events per session", spread("events_per_session")),
        ("Sessions per user", spread("sessions_per_user")),
        ("Train events / sessions", f"{statistics['train_events']:,} / {statistics['train_sessions']:,}"),
        ("Test events / sessions", f"{statistics['test_events']:,} / {statistics['test_sessions']:,}"),
    ]
    for step, count in (statistics.get("filter_counts") or {}).items():
        rows.append((f"  events after {step}", f"{count:,}"))
    return f"{name}\n" + render_table(("statistic", "value"), rows, align_right=set())
