"""How much memory an import may take: the budget (a share of the machine's physical memory, or
``HRNN_MEMORY_BUDGET``) and the measured cost of an import per event."""
from __future__ import annotations

import logging
import os
import re

from engine.errors import InputError

log = logging.getLogger(__name__)

BUDGET_VARIABLE = "HRNN_MEMORY_BUDGET"
DEFAULT_BUDGET_FRACTION = 0.6  # of physical memory
GIB = 2**30

# Peak resident memory of a whole import (read, encode, prepare, store in SQLite) = base + events x
# bytes per event, measured with ``python bench/bench_read_memory.py --events 50000 200000 1000000
# 2000000 5000000`` on synthetic logs imported by ``python main.py import`` (2-core CPU): peaks of
# 429, 482, 622, 773 and 1,339 MiB. The base is the command line's libraries (388 MiB before
# reading: torch and scipy included) and SQLite's caches; the line through the two largest is 397
# MiB + 197 bytes per event, which underestimates small logs, so the constants bound every peak
# from above (by 3-9%). The desktop app's import process, without torch, peaks about 240 MiB lower.
IMPORT_BYTES_PER_EVENT = 200
IMPORT_BASE_BYTES = 460 * 2**20

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_FACTORS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text: str) -> int:
    """Bytes from ``"2G"``, ``"500M"``, ``"1.5GiB"`` or ``"123456"`` (K, M, G, T: powers of 1024)."""
    match = _SIZE.match(text)
    if match is None:
        raise InputError(f"{BUDGET_VARIABLE}={text!r} is not a size; use bytes or a number with K, M, G "
                         "or T (e.g. 2G or 500M)")
    return int(float(match.group(1)) * _FACTORS[match.group(2).lower()])


def physical_memory() -> int | None:
    """Bytes of physical memory of this machine, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows) or no such name
        return None


def memory_budget() -> int | None:
    """Bytes an import may take: ``HRNN_MEMORY_BUDGET`` if set, else 60% of physical memory; None
    (no limit) where neither is known."""
    configured = os.environ.get(BUDGET_VARIABLE)
    if configured:
        return parse_size(configured)
    total = physical_memory()
    if total is None:
        log.info("physical memory unknown: imports are not limited (set %s to limit them)", BUDGET_VARIABLE)
        return None
    return int(total * DEFAULT_BUDGET_FRACTION)


def import_bytes(n_events: int) -> int:
    """Peak bytes an import of ``n_events`` events takes (measured constants)."""
    return IMPORT_BASE_BYTES + n_events * IMPORT_BYTES_PER_EVENT


def affordable_events(budget: int | None) -> int | None:
    """The most events an import may hold within ``budget`` bytes (None: no limit)."""
    if budget is None:
        return None
    return max(0, (budget - IMPORT_BASE_BYTES) // IMPORT_BYTES_PER_EVENT)


def format_bytes(n_bytes: float) -> str:
    """``n_bytes`` in GB (2^30 bytes, one decimal, two below 1 GB): "0.29 GB", "6.1 GB"."""
    return f"{n_bytes / GIB:,.1f} GB" if n_bytes >= GIB else f"{n_bytes / GIB:.2f} GB"


def budget_advice(budget: int) -> str:
    """The end of a refusal: the budget and what to do."""
    return (f"this machine's budget is {format_bytes(budget)} (set {BUDGET_VARIABLE} to change it); split the "
            "log or import it on a larger machine")
