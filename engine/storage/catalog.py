"""The store of imported logs and prepared datasets: storing them with their events, finding,
listing, renaming and deleting them, their evaluation setting, and reading their events back.
The use cases call the functions that take a workspace and return plain frozen records
(:class:`DatasetRecord`, :class:`LogSummary`, :class:`DatasetSummary`); those that take an ORM
session or a connection are the store's own building blocks."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import MetaData, Table, delete, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.data.preparation import TEST, TRAIN, PreparedEvents
from engine.data.raw_log import RawLog
from engine.data.session_log import PreparedDataset, SessionLog
from engine.errors import InputError, NotFoundError
from engine.progress import ProgressCallback, no_progress
from engine.storage.bulk import insert_columns, insert_row, read_columns
from engine.storage.schema import (
    Dataset,
    DatasetEvent,
    Evaluation,
    EventRank,
    ImportedLog,
    LogEvent,
    LogItem,
    LogUser,
    Run,
    RunMetric,
    table,
)
from engine.storage.workspace import Workspace


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def find_log(workspace: Workspace, digest: str, mapping_key: str) -> LogSummary | None:
    """The log stored from a file of this digest under this column mapping, or None."""
    with workspace.session() as session:
        row = session.scalar(select(ImportedLog).where(ImportedLog.digest == digest,
                                                       ImportedLog.mapping_key == mapping_key))
        return None if row is None else _log_summary(row)


class LogAlreadyStored(Exception):
    """Another import stored the same file under the same column mapping first (the unique
    digest and mapping): nothing of this one was stored; ``log_id`` is the stored log."""

    def __init__(self, log_id: int) -> None:
        super().__init__(f"the log is already stored as log {log_id}")
        self.log_id = log_id


def add_log(workspace: Workspace, log_row: dict, raw: RawLog, progress: ProgressCallback = no_progress) -> int:
    """Store a log and its raw events in one transaction; returns its id."""
    with workspace.engine.begin() as connection:
        return store_log(connection, log_row, raw, progress)


def add_dataset(workspace: Workspace, dataset_row: dict, events: PreparedEvents,
                progress: ProgressCallback = no_progress) -> tuple[int, str]:
    """Store a dataset and its prepared events in one transaction, under its ``name`` or, when a
    dataset has that name, ``name (2)``, ``(3)``...; returns (id, name)."""
    with workspace.engine.begin() as connection:
        return _add_dataset(connection, dataset_row, events, progress)


def _add_dataset(connection: Connection, dataset_row: dict, events: PreparedEvents,
                 progress: ProgressCallback) -> tuple[int, str]:
    name = unique_dataset_name(connection, dataset_row["name"])
    return store_dataset(connection, {**dataset_row, "name": name}, events, progress), name


def add_log_and_dataset(workspace: Workspace, log_row: dict, raw: RawLog, dataset_row: dict, events: PreparedEvents,
                        log_progress: ProgressCallback = no_progress,
                        dataset_progress: ProgressCallback = no_progress) -> tuple[int, int, str]:
    """Store a log and the dataset prepared from it (its ``log_id`` filled in) in one transaction;
    returns (log id, dataset id, dataset name). :class:`LogAlreadyStored` when another import of the
    same file under the same mapping committed first (nothing of this one is then stored)."""
    try:
        with workspace.engine.begin() as connection:
            log_id = store_log(connection, log_row, raw, log_progress)
            dataset_id, name = _add_dataset(connection, {**dataset_row, "log_id": log_id}, events, dataset_progress)
    except IntegrityError:
        existing = find_log(workspace, log_row["digest"], log_row["mapping_key"])
        if existing is None:
            raise
        raise LogAlreadyStored(existing.id) from None
    return log_id, dataset_id, name


def store_log(connection: Connection, log_row: dict, raw: RawLog, progress: ProgressCallback = no_progress) -> int:
    """Insert a log and its events inside the caller's transaction; returns the log id."""
    log_id = insert_row(connection, table(ImportedLog), log_row)
    insert_columns(connection, table(LogUser), {
        "log_id": log_id, "code": np.arange(len(raw.user_ids)), "original_id": raw.user_ids})
    insert_columns(connection, table(LogItem), {
        "log_id": log_id, "code": np.arange(len(raw.item_ids)), "original_id": raw.item_ids})
    session_key = raw.session_key if raw.session_key is not None else np.full(raw.n_events, None, dtype=object)
    insert_columns(connection, table(LogEvent), {
        "log_id": log_id, "position": np.arange(raw.n_events), "user": raw.user, "item": raw.item,
        "time": raw.time, "event_type": raw.event_type, "session_key": session_key,
    }, on_chunk=lambda done: progress(done, "storing raw events"))
    return int(log_id)


def original_ids(connection: Connection, ids: Table, log_id: int) -> np.ndarray:
    rows = connection.execute(select(ids.c.original_id).where(ids.c.log_id == log_id).order_by(ids.c.code))
    return np.asarray([row[0] for row in rows], dtype=object)


def _log_summary(row: ImportedLog) -> LogSummary:
    return LogSummary(row.id, row.name, row.source_path, row.n_events, row.n_users, row.n_items, row.imported_at,
                      tuple(row.event_types))


def get_log(workspace: Workspace, log_id: int) -> LogSummary:
    """The stored log ``log_id``; NotFoundError when there is none."""
    with workspace.session() as session:
        return _log_summary(log_row(session, log_id))


def log_row(session: Session, log_id: int) -> ImportedLog:
    """The stored log ``log_id``; NotFoundError when there is none."""
    row = session.get(ImportedLog, log_id)
    if row is None:
        raise NotFoundError(f"no imported log with id {log_id} in the workspace")
    return row


def load_raw_log(workspace: Workspace, log_id: int) -> RawLog:
    """The stored raw events of a log."""
    with workspace.engine.connect() as connection:
        log_row = connection.execute(select(table(ImportedLog)).where(ImportedLog.id == log_id)).one_or_none()
        if log_row is None:
            raise NotFoundError(f"no imported log with id {log_id} in the workspace")
        events_table = table(LogEvent)
        has_sessions = connection.scalar(select(events_table.c.position).where(
            events_table.c.log_id == log_id, events_table.c.session_key.is_not(None)).limit(1)) is not None
        names = ["user", "item", "time", "event_type"] + (["session_key"] if has_sessions else [])
        columns = read_columns(connection, events_table, names, events_table.c.log_id == log_id,
                               events_table.c.position, {
            "user": np.int64, "item": np.int64, "time": np.float64, "event_type": np.int16, "session_key": np.int64})
        return RawLog(columns["user"], columns["item"], columns["time"], columns["event_type"],
                      columns.get("session_key"), original_ids(connection, table(LogUser), log_id),
                      original_ids(connection, table(LogItem), log_id), list(log_row.event_types))


#: Catalogs larger than this are evaluated among their most popular items by default (ranking
#: every item of a catalog of millions takes hours on a CPU).
LARGE_CATALOG_ITEMS = 200_000
#: The candidates of a large catalog: the paper's choice for its largest dataset.
LARGE_CATALOG_CANDIDATES = 50_000


def default_candidates(n_items: int) -> int | None:
    """The evaluation setting of a new dataset of ``n_items`` items: rank among the
    :data:`LARGE_CATALOG_CANDIDATES` most popular items for a large catalog, else all (None)."""
    return LARGE_CATALOG_CANDIDATES if n_items > LARGE_CATALOG_ITEMS else None


def store_dataset(connection: Connection, dataset_row: dict, events: PreparedEvents,
                  progress: ProgressCallback = no_progress) -> int:
    """Insert a dataset and its prepared events inside the caller's transaction; returns its id.
    Its evaluation setting is decided here from its number of items (:func:`default_candidates`)."""
    dataset_row = {"evaluation_candidates": default_candidates(int(dataset_row["statistics"]["items"])),
                   **dataset_row}
    dataset_id = insert_row(connection, table(Dataset), dataset_row)
    insert_columns(connection, table(DatasetEvent), {
        "dataset_id": dataset_id, "position": np.arange(events.n_events), "user": events.user,
        "session": events.session, "item": events.item, "time": events.time, "split": events.split,
        "valid_split": events.valid_split,
    }, on_chunk=lambda done: progress(done, "storing prepared events"))
    return int(dataset_id)


def find_dataset(session: Session, reference: str | int) -> Dataset:
    """A dataset by id or by name; NotFoundError listing the available ones otherwise."""
    text = str(reference).strip()
    dataset = session.get(Dataset, int(text)) if text.isdigit() else None
    if dataset is None:
        dataset = session.scalar(select(Dataset).where(Dataset.name == text))
    if dataset is None:
        names = session.scalars(select(Dataset.name).order_by(Dataset.id)).all()
        available = ", ".join(names) if names else "none yet: import a log first"
        raise NotFoundError(f"no dataset '{text}' in the workspace (available: {available})")
    return dataset


def find_dataset_by_settings(workspace: Workspace, log_id: int, settings_key: str) -> DatasetRecord | None:
    """The dataset prepared from the log under these settings, or None."""
    with workspace.session() as session:
        row = session.scalar(select(Dataset).where(Dataset.log_id == log_id, Dataset.settings_key == settings_key))
        return None if row is None else _dataset_record(row)


@dataclass(frozen=True)
class DatasetRecord:
    """A stored dataset: its log, its preparation settings as stored (``PrepareSettings.to_json``),
    its Table 1 statistics and its evaluation setting (rank among this many most popular items;
    None: all)."""

    id: int
    name: str
    log_id: int
    settings: dict[str, Any]
    statistics: dict[str, Any]
    created_at: datetime
    evaluation_candidates: int | None
    note: str | None


def _dataset_record(row: Dataset) -> DatasetRecord:
    return DatasetRecord(row.id, row.name, row.log_id, dict(row.settings), dict(row.statistics), row.created_at,
                         row.evaluation_candidates, row.note)


def get_dataset(workspace: Workspace, reference: str | int) -> DatasetRecord:
    """A dataset by id or by name; NotFoundError listing the available ones otherwise."""
    with workspace.session() as session:
        return _dataset_record(find_dataset(session, reference))


def dataset_records(workspace: Workspace) -> list[DatasetRecord]:
    """Every dataset, oldest first."""
    with workspace.session() as session:
        return [_dataset_record(row) for row in session.scalars(select(Dataset).order_by(Dataset.id))]


def dataset_exists(workspace: Workspace, dataset_id: int) -> bool:
    with workspace.session() as session:
        return session.get(Dataset, dataset_id) is not None


def unique_dataset_name(connection: Connection, wanted: str) -> str:
    """``wanted``, or ``wanted (2)``, ``(3)``... if a dataset already has that name."""
    existing = set(connection.scalars(select(Dataset.name)).all())
    if wanted not in existing:
        return wanted
    number = 2
    while f"{wanted} ({number})" in existing:
        number += 1
    return f"{wanted} ({number})"


@dataclass(frozen=True)
class DatasetSummary:
    id: int
    name: str
    source_path: str
    created_at: datetime
    statistics: dict
    evaluation_candidates: int | None = None  # rank among this many most popular items; None: all
    log_id: int = 0
    note: str | None = None  # the user's note


def list_datasets(workspace: Workspace) -> list[DatasetSummary]:
    with workspace.session() as session:
        rows = session.execute(select(Dataset, ImportedLog.source_path).join(ImportedLog).order_by(Dataset.id)).all()
        return [DatasetSummary(d.id, d.name, path, d.created_at, d.statistics, d.evaluation_candidates, d.log_id,
                               d.note) for d, path in rows]


@dataclass(frozen=True)
class LogSummary:
    """An imported log: its source, size and event types."""

    id: int
    name: str
    source_path: str
    n_events: int
    n_users: int
    n_items: int
    imported_at: datetime
    event_types: tuple[str, ...]


def list_logs(workspace: Workspace, unprepared_only: bool = False) -> list[LogSummary]:
    """The imported logs (oldest first); ``unprepared_only``: those no dataset was prepared from
    (their preparation failed: they wait for other settings)."""
    query = select(ImportedLog).order_by(ImportedLog.id)
    if unprepared_only:
        query = query.where(~select(Dataset.id).where(Dataset.log_id == ImportedLog.id).exists())
    with workspace.session() as session:
        return [_log_summary(row) for row in session.scalars(query)]


MAX_NAME_LENGTH = 200  # of a dataset's or a run's name (the columns' width)


def checked_name(name: str) -> str:
    """``name`` stripped; InputError when empty or too long."""
    text = name.strip()
    if not text:
        raise InputError("a name cannot be empty")
    if len(text) > MAX_NAME_LENGTH:
        raise InputError(f"a name has at most {MAX_NAME_LENGTH} characters (this one has {len(text)})")
    return text


def rename_dataset(workspace: Workspace, dataset: str | int, name: str) -> str:
    """Give the dataset a new (unique) name; returns it."""
    new_name = checked_name(name)
    with workspace.session() as session:
        row = find_dataset(session, dataset)
        taken = session.scalar(select(Dataset.id).where(Dataset.name == new_name, Dataset.id != row.id))
        if taken is not None:
            raise InputError(f"dataset {taken} is already named '{new_name}'; choose another name")
        row.name = new_name
    return new_name


def set_dataset_note(workspace: Workspace, dataset: str | int, note: str | None) -> None:
    """Store the user's note on the dataset (empty or None removes it)."""
    with workspace.session() as session:
        find_dataset(session, dataset).note = (note or "").strip() or None


@dataclass(frozen=True)
class DatasetContents:
    """What deleting a dataset deletes: its runs, their evaluations and stored ranks, its events,
    and its log's raw events unless another dataset was prepared from that log."""

    dataset_id: int
    name: str
    n_events: int
    run_ids: list[int]
    n_evaluations: int
    n_ranks: int
    log_id: int
    log_name: str
    log_events: int
    log_shared: bool  # another dataset uses the log: it stays


def dataset_contents(workspace: Workspace, dataset: str | int) -> DatasetContents:
    with workspace.session() as session:
        row = find_dataset(session, dataset)
        log_row = session.get(ImportedLog, row.log_id)
        run_ids = list(session.scalars(select(Run.id).where(Run.dataset_id == row.id).order_by(Run.id)))
        n_evaluations, n_ranks = count_run_results(session, run_ids)
        shared = session.scalar(select(Dataset.id).where(Dataset.log_id == row.log_id, Dataset.id != row.id)
                                .limit(1)) is not None
        return DatasetContents(row.id, row.name, int(row.statistics.get("events", 0)), run_ids, int(n_evaluations),
                               int(n_ranks), row.log_id, log_row.name if log_row else "", log_row.n_events if log_row
                               else 0, shared)


def count_run_results(session: Session, run_ids: list[int]) -> tuple[int, int]:
    """(evaluations, stored ranks) of the runs."""
    evaluations = select(Evaluation.id).where(Evaluation.run_id.in_(run_ids))
    n_evaluations = session.scalar(select(func.count()).select_from(evaluations.subquery())) or 0
    n_ranks = session.scalar(select(func.count()).select_from(EventRank).where(
        EventRank.evaluation_id.in_(evaluations))) or 0
    return int(n_evaluations), int(n_ranks)


_IN_CHUNK = 500  # ids bound in one IN (...): below every driver's limit


@contextmanager
def deleting(workspace: Workspace) -> Iterator[Connection]:
    """A connection in a transaction for :func:`delete_cascading`. On SQLite its foreign key
    checks are off (and back on afterwards): deleting a million child rows with them on looks
    up the parent of each row and takes several times longer; the deletion itself deletes every
    dependent row first, so nothing is left dangling."""
    with workspace.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # outside a transaction: it applies
            connection.commit()
        try:
            with connection.begin():
                yield connection
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def delete_cascading(connection: Connection, table_name: str, ids: list[int], metadata: MetaData | None = None) -> None:
    """Delete the rows of ``table_name`` with these ids and, first, every row that references them
    through a foreign key (all of the schema's are ON DELETE CASCADE), inside the caller's
    transaction (see :func:`deleting`). Rows of a per-event table go by key range, one owner at a
    time."""
    if not ids:
        return
    if metadata is None:
        metadata = MetaData()
        metadata.reflect(connection)
    parent = metadata.tables[table_name]
    for child in metadata.tables.values():
        for key in child.foreign_keys:
            if key.column.table is not parent:
                continue
            referenced = any(other_key.column.table is child for other in metadata.tables.values()
                             for other_key in other.foreign_keys)
            if referenced:  # the child's rows have dependents of their own: delete those first
                child_ids = [row[0] for start in range(0, len(ids), _IN_CHUNK) for row in connection.execute(
                    select(child.c.id).where(key.parent.in_(ids[start:start + _IN_CHUNK])))]
                delete_cascading(connection, child.name, child_ids, metadata)
            else:
                for owner in ids:
                    connection.execute(delete(child).where(key.parent == owner))
    for start in range(0, len(ids), _IN_CHUNK):
        connection.execute(delete(parent).where(parent.c.id.in_(ids[start:start + _IN_CHUNK])))


def delete_run_results(connection: Connection, run_ids: list[int]) -> None:
    """Delete what runs recorded (per-epoch metrics, evaluations with their stored ranks) inside
    the caller's transaction; the runs stay."""
    for start in range(0, len(run_ids), _IN_CHUNK):
        chunk = run_ids[start:start + _IN_CHUNK]
        evaluation_ids = list(connection.scalars(select(Evaluation.id).where(Evaluation.run_id.in_(chunk))))
        delete_cascading(connection, "evaluations", evaluation_ids)
        connection.execute(delete(RunMetric).where(RunMetric.run_id.in_(chunk)))


def delete_dataset(workspace: Workspace, contents: DatasetContents) -> None:
    """Delete a dataset with everything :class:`DatasetContents` lists, in one transaction."""
    with deleting(workspace) as connection:
        delete_cascading(connection, "datasets", [contents.dataset_id])
        if not contents.log_shared:
            delete_cascading(connection, "logs", [contents.log_id])


def delete_log(workspace: Workspace, log_id: int) -> None:
    """Delete a stored log with its raw events and ids, in one transaction."""
    with deleting(workspace) as connection:
        delete_cascading(connection, "logs", [log_id])


def log_in_use(workspace: Workspace, log_id: int) -> bool:
    """Whether a dataset was prepared from the log."""
    with workspace.session() as session:
        return session.scalar(select(Dataset.id).where(Dataset.log_id == log_id).limit(1)) is not None


def evaluation_candidates(workspace: Workspace, dataset_id: int) -> int | None:
    """The dataset's evaluation default: rank among its N most popular items (None: all items)."""
    with workspace.session() as session:
        return find_dataset(session, dataset_id).evaluation_candidates


def set_evaluation_candidates(workspace: Workspace, dataset_id: int, n_candidates: int | None) -> None:
    """Change the dataset's evaluation default (None: all items). Stored evaluations stay: each
    keeps the settings it was computed with."""
    if n_candidates is not None and n_candidates < 1:
        raise InputError(f"the number of candidates must be at least 1, not {n_candidates}")
    with workspace.session() as session:
        find_dataset(session, dataset_id).evaluation_candidates = n_candidates


def load_prepared(workspace: Workspace, dataset_id: int) -> PreparedDataset:
    """The dataset's train/test and validation logs with dense user and item codes."""
    with workspace.engine.connect() as connection:
        dataset = connection.execute(select(table(Dataset)).where(Dataset.id == dataset_id)).one_or_none()
        if dataset is None:
            raise NotFoundError(f"no dataset with id {dataset_id} in the workspace")
        events_table = table(DatasetEvent)
        columns = read_columns(connection, events_table, ["user", "session", "item", "time", "split", "valid_split"],
                               events_table.c.dataset_id == dataset_id, events_table.c.position,
                               {"user": np.int64, "session": np.int64, "item": np.int64, "time": np.float64,
                                "split": np.int8, "valid_split": np.int8})
        user_ids = original_ids(connection, table(LogUser), dataset.log_id)  # a Row: typed by its columns
        item_ids = original_ids(connection, table(LogItem), dataset.log_id)
    return prepared_dataset(columns, user_ids, item_ids)


def prepared_dataset(columns: dict[str, np.ndarray], log_user_ids: np.ndarray,
                     log_item_ids: np.ndarray) -> PreparedDataset:
    """Dense codes (users: all in the dataset; items: those in training) and the four logs."""
    split, valid_split = columns["split"], columns["valid_split"]
    user_codes, user = np.unique(columns["user"], return_inverse=True)
    item_codes = np.unique(columns["item"][split == TRAIN])
    item = np.searchsorted(item_codes, columns["item"])  # test items are training items by construction
    n_users, n_items = len(user_codes), len(item_codes)

    def part(mask: np.ndarray) -> SessionLog:
        return SessionLog.from_arrays(user[mask], columns["session"][mask], item[mask], columns["time"][mask],
                                      n_users, n_items)

    return PreparedDataset(
        train=part(split == TRAIN), test=part(split == TEST),
        valid_train=part(valid_split == TRAIN), valid_test=part(valid_split == TEST),
        user_ids=log_user_ids[user_codes], item_ids=log_item_ids[item_codes],
    )
