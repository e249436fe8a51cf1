"""From a read table and a column mapping to a :class:`RawLog`: integer codes for users, items
and event types, times in unix seconds, events sorted by (user, time, file order)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.column_mapping import ColumnMapping
from engine.errors import InputError

log = logging.getLogger(__name__)

_MS_THRESHOLD = 1e11  # unix seconds reach 1e11 in the year 5138; milliseconds passed it in 1973
_US_THRESHOLD = 1e14


@dataclass(frozen=True, eq=False)
class RawLog:
    """Raw events of one log (before sessionizing), sorted by (user, time, file order)."""

    user: np.ndarray  # int64 [E], index into user_ids
    item: np.ndarray  # int64 [E], index into item_ids
    time: np.ndarray  # float64 [E], unix seconds
    event_type: np.ndarray  # int16 [E], index into event_types
    session_key: np.ndarray | None  # int64 [E] given session labels, or None (sessionize by time)
    user_ids: np.ndarray  # object [U], original ids as text
    item_ids: np.ndarray  # object [I]
    event_types: list[str]

    @property
    def n_events(self) -> int:
        return int(len(self.item))


def _line(position: int, header: bool) -> int:
    return position + (2 if header else 1)


def _id_codes(path: Path, frame: pd.DataFrame, column: str, header: bool) -> tuple[np.ndarray, np.ndarray]:
    """Dense codes (by sorted id) and the ids as text; refuses missing values and mixed types."""
    values = frame[column]
    missing = values.isna().to_numpy()
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise InputError(f"{path}, line {_line(first, header)}: column '{column}' is empty; every event needs "
                         "a user, an item and a time (or skip such rows: --skip-invalid-rows)")
    if pd.api.types.is_float_dtype(values):
        fractional = (values != np.floor(values)).to_numpy()
        if fractional.any():
            first = int(np.flatnonzero(fractional)[0])
            raise InputError(f"{path}, line {_line(first, header)}: column '{column}' holds {values.iloc[first]!r}, "
                             "not an id; check the column mapping")
        values = values.astype(np.int64)
    elif not pd.api.types.is_integer_dtype(values):
        text = values.astype(str)
        numeric = pd.to_numeric(text, errors="coerce").notna().to_numpy()
        if numeric.any() and not numeric.all() and numeric.mean() > 0.5:
            first = int(np.flatnonzero(~numeric)[0])
            raise InputError(f"{path}, line {_line(first, header)}: column '{column}' mixes numbers and text "
                             f"({text.iloc[first]!r} among numeric ids); fix that row or map another column")
        values = text
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), np.asarray(uniques.astype(str), dtype=object)


def parse_times(path: Path, values: pd.Series, unit: str, header: bool) -> np.ndarray:
    """float64 unix seconds from unix seconds, milliseconds or ISO-8601 text."""
    column = values.name
    if values.isna().any():
        first = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise InputError(f"{path}, line {_line(first, header)}: column '{column}' has no timestamp "
                         "(a truncated last line? skip such rows with --skip-invalid-rows)")
    numbers = values if pd.api.types.is_numeric_dtype(values) else pd.to_numeric(values, errors="coerce")
    if unit != "iso" and numbers.notna().all():
        seconds = numbers.to_numpy(dtype=np.float64)
        scale = {"s": 1.0, "ms": 1e-3}.get(unit)
        if scale is None:  # auto: by magnitude
            largest = float(np.abs(seconds).max())
            scale = 1e-6 if largest >= _US_THRESHOLD else 1e-3 if largest >= _MS_THRESHOLD else 1.0
        return seconds * scale
    if unit in ("s", "ms") or (unit == "auto" and numbers.notna().mean() > 0.5):
        first = int(np.flatnonzero(numbers.isna().to_numpy())[0])
        if unit == "auto":
            raise InputError(f"{path}, line {_line(first, header)}: cannot read {values.iloc[first]!r} in column "
                             f"'{column}' as a time; expected unix seconds, milliseconds or ISO-8601 like the "
                             "other rows")
        raise InputError(f"{path}, line {_line(first, header)}: column '{column}' holds {values.iloc[first]!r}, "
                         f"not a unix timestamp in {'seconds' if unit == 's' else 'milliseconds'}")
    parsed = pd.to_datetime(values.astype(str), utc=True, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(f"{path}, line {_line(first, header)}: cannot read {values.iloc[first]!r} in column "
                         f"'{column}' as a time; expected unix seconds, milliseconds or ISO-8601 "
                         "(e.g. 2017-11-25T10:00:00Z)")
    return (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=np.float64)


def build_raw_log(path: Path, frame: pd.DataFrame, mapping: ColumnMapping, header: bool = True,
                  skip_invalid_rows: bool = False) -> tuple[RawLog, int]:
    """Validate the mapped columns of ``frame`` and encode them; returns the log and the number of
    rows skipped. ``header`` says whether the file's first line was a header (for line numbers in
    messages). With ``skip_invalid_rows``, rows with an empty mapped field or an unreadable time
    are dropped instead of refused (e.g. a truncated last line)."""
    missing = [name for name in mapping.used_columns() if name not in frame.columns]
    if missing:
        raise InputError(f"{path}: no column named {', '.join(repr(m) for m in missing)} (the file has "
                         f"{', '.join(map(str, frame.columns))}); choose a preset or map the columns")
    frame = frame.reset_index(drop=True)
    skipped = 0
    if skip_invalid_rows:
        valid = frame[mapping.used_columns()].notna().all(axis=1).to_numpy()
        times = frame[mapping.time]
        if not pd.api.types.is_numeric_dtype(times):
            numeric = pd.to_numeric(times, errors="coerce")
            if mapping.time_unit != "iso" and numeric.notna().mean() > 0.5:
                valid &= numeric.notna().to_numpy()
            else:
                valid &= pd.to_datetime(times.astype(str), utc=True, format="ISO8601", errors="coerce").notna().to_numpy()
        skipped = int((~valid).sum())
        if skipped:
            log.warning("%s: skipped %d invalid rows", path, skipped)
            frame = frame[valid].reset_index(drop=True)
        if frame.empty:
            raise InputError(f"{path}: no valid row (every row lacks a mapped field or has an unreadable time)")
    item_columns = mapping.item_columns()
    if len(item_columns) > 1:
        combined = frame[list(item_columns)].astype(str).agg(" – ".join, axis=1)
        frame = frame.assign(**{"__item__": combined.where(frame[list(item_columns)].notna().all(axis=1))})
        item_column = "__item__"
    else:
        item_column = item_columns[0]
    user_column = mapping.user if mapping.user is not None else mapping.session
    assert user_column is not None  # ColumnMapping needs a user or a session column
    user, user_ids = _id_codes(path, frame, user_column, header)
    item, item_ids = _id_codes(path, frame, item_column, header)
    time = parse_times(path, frame[mapping.time], mapping.time_unit, header)
    session_key = _id_codes(path, frame, mapping.session, header)[0] if mapping.session else None
    if mapping.event_type is not None:
        type_codes, type_names = pd.factorize(frame[mapping.event_type].astype(str), sort=True)
        event_type = type_codes.astype(np.int16)
        event_types = [str(name) for name in type_names]
    else:
        event_type = np.zeros(len(frame), dtype=np.int16)
        event_types = ["event"]
    order = np.lexsort((np.arange(len(frame)), time, user))
    return RawLog(
        user=user[order], item=item[order], time=time[order], event_type=event_type[order],
        session_key=None if session_key is None else session_key[order],
        user_ids=user_ids, item_ids=item_ids, event_types=event_types,
    ), skipped
