"""From the mapped columns of a log to a :class:`RawLog`: integer codes for users, items and
event types, times in unix seconds, events sorted by (user, time, file order).

The columns are checked and encoded chunk by chunk, so an import holds the compact arrays plus
one chunk of rows: :func:`read_raw_log` streams a file (and stops at the memory budget),
:func:`build_raw_log` encodes a DataFrame already in memory.

Times are unix seconds, milliseconds, microseconds or nanoseconds (the mapping's unit, or with
"auto" the unit in which the median absolute value of the column is a plausible time), ISO-8601
text, or timestamps (Parquet). A plausible time lies from 1970-01-01T00:00:00Z, included (0:
hand-made and synthetic logs may count from there), to 2100-01-01, excluded; negative, later and
non-finite times are refused with their line, or skipped with ``skip_invalid_rows`` like rows
with an empty mapped field.
"""
from __future__ import annotations

import bisect
import datetime
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.column_mapping import ColumnMapping
from engine.data.reading import CHUNK_ROWS, FileFormat, describe_delimiter, iter_columns, missing_columns_error
from engine.errors import InputError
from engine.memory import affordable_events, budget_advice, format_bytes, import_bytes, memory_budget
from engine.progress import CancelToken
from engine.text import elide, shorten

log = logging.getLogger(__name__)

EARLIEST_S = 0.0  # 1970-01-01T00:00:00Z, unix seconds
LATEST_S = 4_102_444_800.0  # 2100-01-01T00:00:00Z (excluded)
_UNITS = (("seconds", 1.0), ("milliseconds", 1e-3), ("microseconds", 1e-6), ("nanoseconds", 1e-9))
_MEDIAN_SAMPLE = 1_000_000  # times the unit is detected from (evenly spaced over the log)
_OTHER_DELIMITERS = ",\t;|"
_FLAT_KINDS = {"string", "integer", "floating", "mixed-integer-float", "decimal", "empty", "bytes", "datetime",
               "datetime64", "date", "time", "timedelta", "timedelta64", "period", "boolean", "categorical"}
#: The import setting that skips invalid rows instead of refusing the file, and its readable name.
SKIP_SETTING, SKIP_LABEL = "skip_invalid_rows", "Skip invalid rows"
PROGRESS_CHUNK_ROWS = 50_000  # rows read at once when the caller follows the progress (a bar that moves)

Where = Callable[[int], str]  # "FILE, line N" of a row position (0-based, in file order)


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


def _text(values: pd.Series) -> pd.Series:
    """Values as text; floats that are all whole numbers (a column with gaps) as integers ("4", not "4.0")."""
    if pd.api.types.is_float_dtype(values):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isfinite(numbers).all() and (numbers == np.floor(numbers)).all():
            return pd.Series(numbers.astype(np.int64), index=values.index).astype(str)
    return values.astype(str)


def _concatenate(chunks: list[np.ndarray], dtype: type) -> np.ndarray:
    """The chunks in one array, emptying the list as it goes (memory: the result plus one chunk)."""
    result: np.ndarray = np.empty(sum(len(chunk) for chunk in chunks), dtype=dtype)
    start = 0
    chunks.reverse()
    while chunks:
        chunk = chunks.pop()
        result[start:start + len(chunk)] = chunk
        start += len(chunk)
    return result


def _drop_unused(codes: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and ids without the ids no code refers to (order kept)."""
    used = np.zeros(len(ids), dtype=bool)
    used[codes] = True
    return (np.cumsum(used) - 1)[codes], ids[used]


class _IdColumn:
    """One id column encoded chunk by chunk: int32 codes into each chunk's distinct values; at the
    end int64 codes into one sorted list of ids as text (numeric ids sort as numbers). Refuses,
    at the end, fractional numbers (unless the column is text) and a few text values among
    numeric ids. ``text_only``: always text, sorted as text, never refused (event types)."""

    def __init__(self, name: str, text_only: bool = False) -> None:
        self.name = name
        self.text_only = text_only
        self.codes: list[np.ndarray] = []
        self.distinct: list[pd.Index] = []
        self.rows = 0
        self.numeric_rows = 0
        self.has_text = text_only
        self.first_text: tuple[int, object] | None = None  # (row position, value) of the first non-number
        self.first_fraction: tuple[int, float] | None = None

    def add(self, values: pd.Series, positions: np.ndarray) -> None:
        """Encode one chunk (no missing values); ``positions``: the rows' positions in the file."""
        if self.text_only:
            codes, distinct = pd.factorize(_text(values))
        elif pd.api.types.is_integer_dtype(values):
            codes, distinct = pd.factorize(values.to_numpy(dtype=np.int64))
            self.numeric_rows += len(values)
        elif pd.api.types.is_float_dtype(values):
            numbers = values.to_numpy(dtype=np.float64)
            fractional = ~np.isfinite(numbers) | (numbers != np.floor(numbers))
            if fractional.any():
                first = int(np.argmax(fractional))
                self.first_fraction = self.first_fraction or (int(positions[first]), float(numbers[first]))
                codes, distinct = pd.factorize(numbers)
            else:
                codes, distinct = pd.factorize(numbers.astype(np.int64))
            self.numeric_rows += len(values)
        else:
            text = values.astype(str)
            codes, distinct = pd.factorize(text)
            is_number = pd.to_numeric(pd.Series(distinct), errors="coerce").notna().to_numpy()[codes]
            self.numeric_rows += int(is_number.sum())
            if self.first_text is None and not is_number.all():
                first = int(np.argmin(is_number))
                self.first_text = (int(positions[first]), text.iloc[first])
            self.has_text = True
        self.rows += len(values)
        self.codes.append(codes.astype(np.int32))
        self.distinct.append(pd.Index(distinct))

    def finish(self, where: Where, keep: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(codes int64 [rows], ids object [n]); ``keep``: a mask of the rows to keep, if not all."""
        if not self.has_text and self.first_fraction is not None:
            position, number = self.first_fraction
            raise InputError(f"{where(position)}: column '{self.name}' holds {elide(number)}, not an id; check the "
                             "column mapping")
        if not self.text_only and self.has_text and self.rows / 2 < self.numeric_rows < self.rows:
            assert self.first_text is not None
            position, value = self.first_text
            raise InputError(f"{where(position)}: column '{self.name}' mixes numbers and text ({elide(value)} among "
                             "numeric ids); fix that row or map another column")
        distinct = [values.astype(str) for values in self.distinct] if self.has_text else self.distinct
        remap, ids = pd.factorize(distinct[0].append(distinct[1:]), sort=True)
        offsets = np.cumsum([0] + [len(values) for values in distinct[:-1]])
        self.distinct = []
        for chunk_codes, offset in zip(self.codes, offsets, strict=True):
            chunk_codes += offset  # in place: int32 stays int32 (offsets < rows)
        codes = remap[_concatenate(self.codes, np.int32)]
        id_texts = np.asarray(ids.astype(str), dtype=object)
        return _drop_unused(codes[keep], id_texts) if keep is not None else (codes, id_texts)


class _TimeColumn:
    """The time column chunk by chunk, as float64: numbers as written (their unit is decided at
    the end, from all of them) or unix seconds (ISO-8601 text, timestamps). The first chunk
    decides whether the column holds numbers or ISO-8601 text."""

    def __init__(self, name: str, unit: str) -> None:
        self.name = name
        self.unit = unit  # "auto", "s", "ms" or "iso"
        self.kind: str | None = None  # "number", "iso" or "timestamp"
        self.chunks: list[np.ndarray] = []
        self.scale = 1.0  # seconds per unit of the numbers, known at the end
        self.how = ""  # how the numbers were read, known at the end

    def _decide(self, values: pd.Series, ignore: np.ndarray) -> str:
        if pd.api.types.is_datetime64_any_dtype(values):
            return "timestamp"
        if self.unit == "iso":
            return "iso"
        if self.unit in ("s", "ms") or pd.api.types.is_numeric_dtype(values):
            return "number"
        numeric = pd.to_numeric(values[~ignore], errors="coerce").notna()
        return "number" if numeric.mean() > 0.5 or numeric.empty else "iso"

    def parse(self, values: pd.Series, ignore: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(float64 per row, mask of the rows that cannot be read); rows in ``ignore`` (already
        invalid) are not reported."""
        if self.kind is None:
            self.kind = self._decide(values, ignore)
        if self.kind == "number":
            numbers = values if pd.api.types.is_numeric_dtype(values) else pd.to_numeric(values, errors="coerce")
            parsed = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
            return parsed, ~np.isfinite(parsed) & ~ignore
        if self.kind == "timestamp":
            parsed = _unix_seconds(values)
        else:
            parsed = _unix_seconds(pd.to_datetime(values.astype(str), utc=True, format="ISO8601", errors="coerce"))
        return parsed, np.isnan(parsed) & ~ignore

    def problem(self, value: object) -> str:
        """Why ``value`` (of a row :meth:`parse` could not read) is no time."""
        if self.kind == "number" and pd.notna(pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]):
            return f"column '{self.name}' holds {elide(value)}, not a finite time; fix that row or skip invalid rows"
        if self.kind == "number" and self.unit in ("s", "ms"):
            return (f"column '{self.name}' holds {elide(value)}, not a unix timestamp in "
                    f"{'seconds' if self.unit == 's' else 'milliseconds'}")
        expected = "like the other rows" if self.kind == "number" else "(e.g. 2017-11-25T10:00:00Z)"
        return (f"cannot read {elide(value)} in column '{self.name}' as a time; expected unix seconds, milliseconds "
                f"or ISO-8601 {expected}")

    def add(self, parsed: np.ndarray) -> None:
        self.chunks.append(parsed)

    def finish(self) -> np.ndarray:
        """Unix seconds of every row added."""
        time = _concatenate(self.chunks, np.float64)
        if self.kind != "number":
            return time
        if self.unit in ("s", "ms"):
            unit, self.scale = _UNITS[0 if self.unit == "s" else 1]
            self.how = f"read as {unit} (as the column mapping says)"
        else:
            median = float(np.median(np.abs(time[:: max(1, len(time) // _MEDIAN_SAMPLE)])))
            unit, self.scale = next(((name, factor) for name, factor in _UNITS
                                     if EARLIEST_S <= median * factor < LATEST_S), _UNITS[0])
            self.how = f"read as {unit} (the unit of the column's median, {median:.3g})"
        if self.scale != 1.0:
            time *= self.scale
        return time

    def implausible(self, seconds: float) -> str:
        """What is wrong with a time of ``seconds`` outside the plausible range."""
        if self.kind != "number":
            return f"column '{self.name}' holds {_date(seconds)}"
        return f"column '{self.name}' holds {seconds / self.scale:.15g}, which {self.how} is {_date(seconds)}"


def _unix_seconds(times: pd.Series) -> np.ndarray:
    """float64 unix seconds of timestamps (naive ones taken as UTC); NaT gives NaN."""
    if times.dt.tz is None:
        times = times.dt.tz_localize("UTC")
    return (times - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)


def _date(seconds: float) -> str:
    """A unix time in seconds as an ISO date, or where it lies when no calendar date is."""
    try:
        moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=seconds)
    except OverflowError:
        return "after the year 9999" if seconds > 0 else "before the year 1"
    return moment.isoformat().replace("+00:00", "Z")


class _Encoder:
    """Checks and encodes the mapped columns of a log chunk by chunk (rows in file order)."""

    def __init__(self, path: Path, mapping: ColumnMapping, first_line: int | None, skip_invalid_rows: bool,
                 delimiter: str | None = None) -> None:
        self.path = path
        self.mapping = mapping
        self.first_line = first_line
        self.skip_invalid_rows = skip_invalid_rows
        self.delimiter = delimiter
        self.user_column = mapping.user if mapping.user is not None else mapping.session
        assert self.user_column is not None  # ColumnMapping needs a user or a session column
        self.users = _IdColumn(self.user_column)
        self.items = _IdColumn(" + ".join(mapping.item_columns()))
        self.sessions = _IdColumn(mapping.session) if mapping.session is not None else None
        self.types = _IdColumn(mapping.event_type, text_only=True) if mapping.event_type is not None else None
        self.times = _TimeColumn(mapping.time, mapping.time_unit)
        self.rows_read = 0
        self.n_events = 0
        self.skipped = 0  # rows skipped (with skip_invalid_rows)
        self.sources: list[tuple[int, str]] = []  # (first row, file) of each file of an archive read

    def where(self, position: int) -> str:
        """Where the row at ``position`` (0-based, in file order) is: "FILE, line N" ("row N" in
        Parquet), the file of an archive where it holds several."""
        label, first_row = self._source(position)
        if self.first_line is None:
            return f"{label}, row {position - first_row + 1}"
        return f"{label}, line {position - first_row + self.first_line}"

    def _source(self, position: int) -> tuple[str, int]:
        """The file the row at ``position`` comes from, and the position of that file's first row."""
        if not self.sources:
            return str(self.path), 0
        first_row, label = self.sources[max(0, bisect.bisect_right(self.sources, (position, "\uffff")) - 1)]
        return label, first_row

    def add(self, chunk: pd.DataFrame) -> None:
        """Check and encode the next rows of the file (a DataFrame holding the mapped columns)."""
        start = self.rows_read
        self.rows_read += len(chunk)
        source = chunk.attrs.get("source")
        if source is not None and (not self.sources or self.sources[-1][1] != source):
            self.sources.append((start, source))
        self._check_kinds(chunk, start)
        invalid = np.zeros(len(chunk), dtype=bool)
        for column in self.mapping.used_columns():
            missing = chunk[column].isna().to_numpy()
            if missing.any() and not self.skip_invalid_rows:
                raise self._missing_error(chunk, column, int(np.argmax(missing)), start)
            invalid |= missing
        times, unreadable = self.times.parse(chunk[self.mapping.time], invalid)
        if unreadable.any() and not self.skip_invalid_rows:
            first = int(np.argmax(unreadable))
            raise InputError(f"{self.where(start + first)}: {self.times.problem(chunk[self.mapping.time].iloc[first])}",
                             setting=SKIP_SETTING, label=SKIP_LABEL)
        invalid |= unreadable
        if invalid.any():
            self.skipped += int(invalid.sum())
            chunk, times = chunk[~invalid], times[~invalid]
        if chunk.empty:
            return
        positions = start + np.flatnonzero(~invalid)
        self.users.add(chunk[self.user_column], positions)
        item_columns = self.mapping.item_columns()
        items = chunk[item_columns[0]]
        for column in item_columns[1:]:
            items = _text(items) + " – " + _text(chunk[column])
        self.items.add(items, positions)
        if self.sessions is not None:
            self.sessions.add(chunk[self.sessions.name], positions)
        if self.types is not None:
            self.types.add(chunk[self.types.name], positions)
        self.times.add(times)
        self.n_events += len(chunk)

    def _check_kinds(self, chunk: pd.DataFrame, start: int) -> None:
        """Refuse booleans as times, and objects or arrays (nested JSON) in any mapped column."""
        time = chunk[self.mapping.time]
        if pd.api.types.is_bool_dtype(time) or (time.dtype == object and
                                                pd.api.types.infer_dtype(time, skipna=True) == "boolean"):
            raise InputError(f"{self._source(start)[0]}: column '{self.mapping.time}' holds booleans (type bool), "
                             "not times; map a column of unix times or ISO-8601 dates")
        for column in self.mapping.used_columns():
            values = chunk[column]
            if values.dtype != object or pd.api.types.infer_dtype(values, skipna=True) in _FLAT_KINDS:
                continue
            nested = values.map(lambda value: isinstance(value, (dict, list, tuple, np.ndarray))).to_numpy(dtype=bool)
            if nested.any():
                first = int(np.argmax(nested))
                value = values.iloc[first]
                kind = "a JSON object" if isinstance(value, dict) else "a JSON array"
                shown = shorten(json.dumps(value, default=str), 60)
                role = "a time" if column == self.mapping.time else "an id"
                raise InputError(f"{self.where(start + first)}: field '{column}' holds {kind} ({shown}), not {role}; "
                                 "map a field of numbers or text")

    def _missing_error(self, chunk: pd.DataFrame, column: str, index: int, start: int) -> InputError:
        where = self.where(start + index)
        if self.delimiter is not None and len(self.delimiter) == 1:
            for value in chunk.iloc[index]:
                others = [d for d in _OTHER_DELIMITERS if d != self.delimiter and d in value] \
                    if isinstance(value, str) else []
                if others:
                    return InputError(
                        f"{where}: column '{column}' is empty because the row does not split into the header's "
                        f"columns with {describe_delimiter(self.delimiter)}: {elide(value)} holds "
                        f"{describe_delimiter(others[0])}; the file mixes delimiters: save it with one delimiter")
        if column == self.mapping.time:
            return InputError(f"{where}: column '{column}' has no timestamp (empty, or a missing-value marker such as "
                              "NA or nan; a truncated last line?); fix that row or skip invalid rows",
                              setting=SKIP_SETTING, label=SKIP_LABEL)
        return InputError(f"{where}: column '{column}' is empty; every event needs a value in each mapped column "
                          "(user, item, time...), or skip invalid rows", setting=SKIP_SETTING, label=SKIP_LABEL)

    def finish(self) -> tuple[RawLog, int]:
        """The sorted RawLog and the number of rows skipped."""
        if self.n_events == 0:
            if self.skipped:
                raise InputError(f"{self.path}: no valid row (every row lacks a mapped field or has an unreadable "
                                 "time)")
            raise InputError(f"{self.path} holds no rows")
        time = self.times.finish()
        implausible = (time < EARLIEST_S) | (time >= LATEST_S)
        n_implausible = int(implausible.sum())
        keep = None
        if n_implausible:
            first = int(np.argmax(implausible))
            if not self.skip_invalid_rows:  # then no row was skipped: the index is the row's position
                raise InputError(
                    f"{self.where(first)}: {self.times.implausible(float(time[first]))}, outside "
                    f"1970-01-01..2100-01-01 ({n_implausible:,} such row{'s' if n_implausible > 1 else ''}); fix "
                    "those rows or skip invalid rows", setting=SKIP_SETTING, label=SKIP_LABEL)
            keep = ~implausible
            time = time[keep]
        skipped = self.skipped + n_implausible
        if skipped:
            log.warning("%s: skipped %d invalid rows", self.path, skipped)
        if len(time) == 0:
            raise InputError(f"{self.path}: no valid row (every row lacks a mapped field or has an implausible time)")
        user, user_ids = self.users.finish(self.where, keep)
        item, item_ids = self.items.finish(self.where, keep)
        session_key = self.sessions.finish(self.where, keep)[0] if self.sessions is not None else None
        if self.types is not None:
            type_codes, type_names = self.types.finish(self.where, keep)
            event_type, event_types = type_codes.astype(np.int16), [str(name) for name in type_names]
        else:
            event_type, event_types = np.zeros(len(time), dtype=np.int16), ["event"]
        order = np.lexsort((time, user))  # stable: file order among equal (user, time)
        user = user[order]  # one array at a time: one copy alive at once
        item = item[order]
        time = time[order]
        event_type = event_type[order]
        if session_key is not None:
            session_key = session_key[order]
        return RawLog(user, item, time, event_type, session_key, user_ids, item_ids, event_types), skipped


def build_raw_log(path: Path, frame: pd.DataFrame, mapping: ColumnMapping, header: bool = True,
                  skip_invalid_rows: bool = False) -> tuple[RawLog, int]:
    """Check the mapped columns of ``frame`` and encode them; returns the log and the number of
    rows skipped. ``header`` says whether the file's first line was a header (for line numbers in
    messages). With ``skip_invalid_rows``, rows with an empty mapped field or an unreadable or
    implausible time are dropped instead of refused (e.g. a truncated last line)."""
    missing = [name for name in mapping.used_columns() if name not in frame.columns]
    if missing:
        raise missing_columns_error(path, missing, list(frame.columns))
    encoder = _Encoder(path, mapping, 2 if header else 1, skip_invalid_rows)
    encoder.add(frame)
    return encoder.finish()


def read_raw_log(path: Path, file_format: FileFormat, mapping: ColumnMapping, skip_invalid_rows: bool = False,
                 cancel: CancelToken | None = None, on_rows: Callable[[int], None] | None = None) -> tuple[RawLog, int]:
    """Read the mapped columns of ``path`` chunk by chunk and encode them (see :func:`build_raw_log`);
    refuses as soon as the events read would not fit the memory budget (:mod:`engine.memory`), which
    catches what the estimate before reading cannot see (a concatenated gzip, or one over 4 GiB).
    ``on_rows`` is told the number of rows read after each chunk (then chunks are smaller)."""
    budget = memory_budget()
    limit = affordable_events(budget)
    delimiter = file_format.delimiter if file_format.kind == "delimited" else None
    encoder = _Encoder(path, mapping, file_format.first_line, skip_invalid_rows, delimiter)
    chunk_rows = CHUNK_ROWS if on_rows is None else PROGRESS_CHUNK_ROWS
    if limit is not None:
        chunk_rows = max(1, min(chunk_rows, limit + 1))  # stop near the limit
    for chunk in iter_columns(path, file_format, mapping.used_columns(), chunk_rows):
        encoder.add(chunk)
        if on_rows is not None:
            on_rows(encoder.rows_read)
        if limit is not None and budget is not None and encoder.n_events > limit:
            raise InputError(
                f"{encoder.where(encoder.rows_read - 1)}: the log holds more than {limit:,} events, which would need "
                f"more than {format_bytes(import_bytes(limit))} of memory to import; {budget_advice(budget)}")
        if cancel is not None:
            cancel.raise_if_cancelled()
    return encoder.finish()
