"""What the study storage (Optuna's RDB storage beside a workspace, see
:mod:`engine.tuning.storage`) needs of the database: a server schema of its own, the SQLite
connection settings of a studies file, the errors its database raises, and a lock that one
claimer of a study's trials holds at a time across processes and machines."""
from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from engine.storage.workspace import Workspace

#: The errors a study storage's database raises (SQLAlchemy's and the sqlite3 driver's own).
DATABASE_ERRORS: tuple[type[Exception], ...] = (DBAPIError, sqlite3.Error)


def schema_exists(workspace: Workspace, schema: str) -> bool:
    """Whether the server database of the workspace has the schema ``schema``."""
    with workspace.engine.connect() as connection:
        found = connection.execute(text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :name"),
                                   {"name": schema}).first()
    return found is not None


def create_schema(workspace: Workspace, schema: str) -> None:
    """Create the schema ``schema`` in the server database of the workspace, unless it exists."""
    with workspace.engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))


def use_sqlite_settings(database: Any, timeout_s: float, read_only: bool) -> None:
    """Open every new connection of the SQLAlchemy engine ``database`` (a studies file) with a
    busy timeout of ``timeout_s`` and, unless ``read_only``, in WAL mode; the connections opened
    before are closed (they lack the settings)."""
    def pragmas(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        if not read_only:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
        cursor.close()

    event.listen(database, "connect", pragmas)
    database.dispose()


@contextmanager
def exclusive_lock(workspace: Workspace, name: str) -> Iterator[None]:
    """Hold the lock ``name`` for the length of a block, across processes and machines: a write
    transaction on a SQLite workspace, a transaction-level advisory lock on PostgreSQL. Keep the
    block short and do not write to the workspace inside it."""
    with workspace.engine.connect() as connection:
        if workspace.engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(name.encode())})
        try:
            yield
        finally:
            connection.rollback()
