"""ORM tables of the workspace (SQLAlchemy 2 typed declarative mapping).

Big per-event tables are ``WITHOUT ROWID`` tables keyed by (owner id, position) so that one
dataset's events are stored contiguously and read back in order. Event-level tables are written
and read through the DBAPI in bulk (see ``engine.storage.bulk``), not through ORM objects.
The alembic migrations in ``engine/storage/migrations`` create exactly these tables; a test checks
that they agree.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def table(model: type[Base]) -> Table:
    """The table of an ORM class, for bulk reads and writes (SQLAlchemy types ``__table__`` as a
    plain FromClause)."""
    return cast(Table, model.__table__)


#: The table option of every table whose ids other records, studies or the user refer to: on
#: SQLite an id is never given again once deleted (AUTOINCREMENT keeps the highest id ever used,
#: through deletion and VACUUM); PostgreSQL's sequences never reuse one anyway.
NEVER_REUSED = {"sqlite_autoincrement": True}


class ImportedLog(Base):
    """One imported source file under one column mapping (raw events, before sessionizing)."""

    __tablename__ = "logs"
    __table_args__ = (UniqueConstraint("digest", "mapping_key", name="uq_logs_digest_mapping"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    source_path: Mapped[str] = mapped_column(String(4000))
    digest: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of the file's bytes
    mapping_key: Mapped[str] = mapped_column(String(2000))  # canonical JSON of the column mapping
    file_format: Mapped[dict[str, Any]] = mapped_column(JSON)
    column_mapping: Mapped[dict[str, Any]] = mapped_column(JSON)
    event_types: Mapped[list[Any]] = mapped_column(JSON)  # type names; code = index
    n_events: Mapped[int] = mapped_column(BigInteger)
    n_users: Mapped[int] = mapped_column(Integer)
    n_items: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime)


class LogUser(Base):
    """Original id of each user code of a log."""

    __tablename__ = "log_users"
    __table_args__ = {"sqlite_with_rowid": False}

    log_id: Mapped[int] = mapped_column(ForeignKey("logs.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[int] = mapped_column(Integer, primary_key=True)
    original_id: Mapped[str] = mapped_column(String(400))


class LogItem(Base):
    """Original id of each item code of a log."""

    __tablename__ = "log_items"
    __table_args__ = {"sqlite_with_rowid": False}

    log_id: Mapped[int] = mapped_column(ForeignKey("logs.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[int] = mapped_column(Integer, primary_key=True)
    original_id: Mapped[str] = mapped_column(String(400))


class LogEvent(Base):
    """A raw event of a log, in the order (user, time, file order)."""

    __tablename__ = "log_events"
    __table_args__ = {"sqlite_with_rowid": False}

    log_id: Mapped[int] = mapped_column(ForeignKey("logs.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user: Mapped[int] = mapped_column(Integer)
    item: Mapped[int] = mapped_column(Integer)
    time: Mapped[float] = mapped_column(Float)  # unix seconds
    event_type: Mapped[int] = mapped_column(SmallInteger)
    session_key: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # given sessions only


class Dataset(Base):
    """A prepared dataset: a log sessionized, filtered and split under recorded settings."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("log_id", "settings_key", name="uq_datasets_log_settings"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    log_id: Mapped[int] = mapped_column(ForeignKey("logs.id", ondelete="CASCADE"), index=True)
    settings_key: Mapped[str] = mapped_column(String(2000))  # canonical JSON of the settings
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    statistics: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # evaluations rank among this many most popular items (plus the target); NULL: all items
    evaluation_candidates: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)  # the user's note


class DatasetEvent(Base):
    """A prepared event. ``user``/``item`` are the log's codes; ``session`` numbers the dataset's
    sessions in (user, time) order; ``split`` 0 = train, 1 = test; ``valid_split`` 0 = validation
    train, 1 = validation test, -1 = not part of the validation split."""

    __tablename__ = "dataset_events"
    __table_args__ = {"sqlite_with_rowid": False}

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user: Mapped[int] = mapped_column(Integer)
    session: Mapped[int] = mapped_column(Integer)
    item: Mapped[int] = mapped_column(Integer)
    time: Mapped[float] = mapped_column(Float)  # unix seconds
    split: Mapped[int] = mapped_column(SmallInteger)
    valid_split: Mapped[int] = mapped_column(SmallInteger)


RUN_STATUSES = ("queued", "running", "finished", "failed", "cancelled")


class Run(Base):
    """One training run of one model with one seed on one dataset (baselines included)."""

    __tablename__ = "runs"
    __table_args__ = (CheckConstraint("status IN ('queued', 'running', 'finished', 'failed', 'cancelled')",
                                      name="ck_runs_status"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(40))
    preset: Mapped[str | None] = mapped_column(String(100), nullable=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)  # the full configuration, seed included
    seed: Mapped[int] = mapped_column(Integer)
    validation: Mapped[bool] = mapped_column(Boolean, default=False)  # trained on the validation split
    study: Mapped[str | None] = mapped_column(String(200), nullable=True)  # e.g. a hyper-parameter search
    device: Mapped[str | None] = mapped_column(String(40), nullable=True)  # where it actually ran
    code_version: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # the checkpoint's file name in the workspace's checkpoint folder (an absolute path in
    # workspaces written before 0007 until they are opened) and the sha256 of its bytes
    checkpoint_path: Mapped[str | None] = mapped_column(String(4000), nullable=True)
    checkpoint_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the user's name for the run
    note: Mapped[str | None] = mapped_column(Text, nullable=True)  # the user's note


class RunMetric(Base):
    """A long-format metric row (MLflow style): per-epoch loss, wall seconds, progress. SQLite
    stores NaN as NULL, so non-finite values are kept in ``special`` ('nan', 'inf', '-inf')."""

    __tablename__ = "run_metrics"
    __table_args__ = {"sqlite_with_rowid": False}

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    special: Mapped[str | None] = mapped_column(String(8), nullable=True)


class Evaluation(Base):
    """One evaluation of a run on its test (or validation) split under recorded settings."""

    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("run_id", "settings_key", name="uq_evaluations_run_settings"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    settings_key: Mapped[str] = mapped_column(String(1000))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)  # averages over events (and sessions, users)
    n_events: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class EventRank(Base):
    """The rank of one predicted test event. ``user``/``item`` are the dataset's dense codes;
    ``session`` indexes the test sessions; ``position`` counts the test events consumed before the
    prediction (1 = predicting the session's second event); ``history_length`` is the user's number
    of training sessions. ``tied``: the other competing items scored exactly like the target;
    ``floor``: no competing item scored below it (both NULL in evaluations stored before 0011)."""

    __tablename__ = "event_ranks"
    __table_args__ = {"sqlite_with_rowid": False}

    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[int] = mapped_column(Integer)
    session: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    session_length: Mapped[int] = mapped_column(Integer)
    history_length: Mapped[int] = mapped_column(Integer)
    item: Mapped[int] = mapped_column(Integer)
    rank: Mapped[float] = mapped_column(Float)
    tied: Mapped[int | None] = mapped_column(Integer, nullable=True)
    floor: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class SavedPreset(Base):
    """A named hyper-parameter configuration saved by the user (e.g. the best of a search)."""

    __tablename__ = "saved_presets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    model: Mapped[str] = mapped_column(String(40))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ItemName(Base):
    """A readable name of an item of a log (e.g. a movie title), attached from a separate file."""

    __tablename__ = "item_names"
    __table_args__ = {"sqlite_with_rowid": False}

    log_id: Mapped[int] = mapped_column(ForeignKey("logs.id", ondelete="CASCADE"), primary_key=True)
    original_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    name: Mapped[str] = mapped_column(String(1000))


#: A comparison is running (its process sends a heartbeat), finished, failed, cancelled (Ctrl-C,
#: the Cancel button) or interrupted (its process died: no heartbeat); the last two resume.
COMPARISON_STATUSES = ("running", "finished", "failed", "cancelled", "interrupted")


class Comparison(Base):
    """A fair comparison of models on a dataset (``compare``): every model tuned with the same
    budget on the validation split, its best configuration trained with several seeds and
    evaluated on the test split, and the verdict in plain sentences. ``budget``: trials or
    seconds per model, workers, seeds, metric; ``best_runs``: per model, the best trial's run,
    the test runs and the configuration they trained with, stored as each model is done;
    ``request_key``: what makes two comparisons the same one (running it again resumes it)."""

    __tablename__ = "comparisons"
    __table_args__ = (CheckConstraint(f"status IN ({', '.join(repr(s) for s in COMPARISON_STATUSES)})",
                                      name="ck_comparisons_status"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    models: Mapped[list[Any]] = mapped_column(JSON)  # model names, in the registry's order
    metric: Mapped[str] = mapped_column(String(40))  # what tuning maximised and the verdict reads
    budget: Mapped[dict[str, Any]] = mapped_column(JSON)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)  # wall seconds, tuning included
    verdict: Mapped[str | None] = mapped_column(Text, nullable=True)
    best_runs: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    request_key: Mapped[str | None] = mapped_column(String(2000), nullable=True, index=True)
