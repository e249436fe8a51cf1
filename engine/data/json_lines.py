"""Reading JSON lines logs: one JSON object per line, its fields the columns. A field holding a
list of objects in every record (OTTO: a session and its events) gives one row per object. A line
that is not an object, or nested too deeply to parse, is refused with its number."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd

from engine.data.column_mapping import missing_columns_error
from engine.errors import InputError

_JSON_TYPES = {list: "a JSON array", str: "a JSON string", bool: "a JSON boolean", int: "a JSON number",
               float: "a JSON number", type(None): "JSON null"}


def json_record(label: Path, line_number: int, raw: bytes) -> dict[str, Any]:
    """The object on one line."""
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"{label}, line {line_number}: invalid JSON ({exc.msg}); "
                         "each line must be one JSON object") from exc
    except RecursionError as exc:
        raise InputError(f"{label}, line {line_number}: JSON nested too deeply to read (brackets inside brackets, "
                         "thousands deep); each line must be one JSON object of fields") from exc
    if not isinstance(record, dict):
        raise InputError(f"{label}, line {line_number}: {_JSON_TYPES.get(type(record), 'a JSON value')}, not an "
                         "object; each line must be one JSON object of fields")
    return record


def _lines(label: Path, handle: IO[bytes]) -> Iterator[dict[str, Any]]:
    for line_number, raw in enumerate(handle, start=1):
        if raw.strip():
            yield json_record(label, line_number, raw)


def read_jsonl(label: Path, handle: IO[bytes], nrows: int | None) -> pd.DataFrame:
    """The first ``nrows`` records (all with None) as a DataFrame; refuses a file without any."""
    records = []
    for record in _lines(label, handle):
        records.append(record)
        if nrows is not None and len(records) >= nrows:
            break
    if not records:
        raise InputError(f"{label} holds no JSON records")
    return records_frame(records)


def jsonl_chunks(label: Path, handle: IO[bytes], columns: list[str], chunk_lines: int) -> Iterator[pd.DataFrame]:
    """The ``columns`` of the records, ``chunk_lines`` lines at a time (a field absent from a later
    chunk reads as empty); refuses a field the first chunk lacks, or a file without records."""
    records: list[dict[str, Any]] = []
    first = True
    for record in _lines(label, handle):
        records.append(record)
        if len(records) >= chunk_lines:
            yield _columns(label, records_frame(records), columns, first)
            records, first = [], False
    if records:
        yield _columns(label, records_frame(records), columns, first)
    elif first:
        raise InputError(f"{label} holds no JSON records")


def _columns(label: Path, frame: pd.DataFrame, columns: list[str], first: bool) -> pd.DataFrame:
    missing = [name for name in columns if name not in frame.columns]
    if missing and first:
        raise missing_columns_error(label, missing, list(frame.columns))
    return frame.reindex(columns=columns)


def _holds_objects(values: pd.Series) -> bool:
    """Every value a list, and every item of those lists an object."""
    return bool(values.map(lambda value: isinstance(value, list)).all()) and all(
        isinstance(item, dict) for value in values for item in value)


def records_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The records as rows; the objects of a field that holds lists of objects in every record
    become rows of their own (e.g. OTTO: {"session": 1, "events": [{"aid": .., "ts": ..}, ...]})."""
    frame = pd.DataFrame.from_records(records)
    nested = [name for name in frame.columns if frame[name].dtype == object and _holds_objects(frame[name])]
    if len(nested) == 1:
        name = nested[0]
        frame = frame.explode(name, ignore_index=True).dropna(subset=[name])
        events = pd.json_normalize(frame[name].tolist())
        frame = pd.concat([frame.drop(columns=[name]).reset_index(drop=True), events], axis=1)
    return frame
