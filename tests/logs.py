"""Building small hand-made logs for tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.column_mapping import ColumnMapping
from engine.data.raw_log import RawLog, build_raw_log
from engine.data.session_log import SessionLog

MAPPING = ColumnMapping("user", "item", "time", event_type="type")


def raw_log(rows: list[tuple]) -> RawLog:
    """A RawLog from (user, item, time_seconds[, type]) tuples."""
    frame = pd.DataFrame([r if len(r) == 4 else (*r, "view") for r in rows], columns=["user", "item", "time", "type"])
    return build_raw_log(Path("hand-made.csv"), frame, MAPPING)[0]


def session_rows(user: str, start: int, items: list[str], gap: int = 60) -> list[tuple]:
    """Rows of one session of ``user`` starting at ``start`` seconds, events ``gap`` seconds apart."""
    return [(user, item, start + index * gap) for index, item in enumerate(items)]


def write_csv(path: Path, rows: list[tuple], header: str = "user_id,item_id,timestamp") -> Path:
    lines = [header] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path



def nested_session_log(sessions_per_user: list[list[list[int]]], n_items: int) -> SessionLog:
    """A SessionLog from item codes nested as users -> sessions -> events (user u = list index u)."""
    user, session, item = [], [], []
    for u, sessions in enumerate(sessions_per_user):
        for events in sessions:
            sid = session[-1] + 1 if session else 0
            user += [u] * len(events)
            session += [sid] * len(events)
            item += events
    return SessionLog.from_arrays(np.array(user), np.array(session), np.array(item),
                                  np.arange(len(item), dtype=float), len(sessions_per_user), n_items)
