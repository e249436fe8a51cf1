"""The event types of a whole log, before it is imported: the import dialog offers every type for
dropping, not only those its first rows show (Taobao's first rows are all "pv"; its log also has
buy, cart and fav). Only the event-type column is read, chunk by chunk."""
from __future__ import annotations

from pathlib import Path

from engine.data.reading import FileFormat, iter_columns
from engine.errors import InputError
from engine.progress import CancelToken, ProgressCallback

__all__ = ["MAX_EVENT_TYPES", "log_event_types"]

#: At most this many types are listed (a column of ids mapped as the event type would list them all).
MAX_EVENT_TYPES = 200
CHUNK_ROWS = 500_000


def log_event_types(path: Path, file_format: FileFormat, column: str, progress: ProgressCallback,
                    cancel: CancelToken) -> list[str]:
    """The distinct values of ``column`` in the whole log at ``path`` (sorted; empty values left
    out); InputError when there are more than :data:`MAX_EVENT_TYPES` (not an event type)."""
    found: set[str] = set()
    rows = 0
    for chunk in iter_columns(Path(path), file_format, [column], CHUNK_ROWS):
        cancel.raise_if_cancelled()
        values = chunk[column].dropna()
        found.update(str(value) for value in values.unique())
        found.discard("")
        rows += len(chunk)
        progress(0.0, f"{rows:,} rows read, {len(found)} event types")
        if len(found) > MAX_EVENT_TYPES:
            raise InputError(f"the column {column!r} holds more than {MAX_EVENT_TYPES} values: not event types")
    return sorted(found)
