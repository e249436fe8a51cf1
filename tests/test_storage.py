"""The workspace store: migrations match the ORM, SQLite pragmas, newer schemas refused, URLs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.dialects import postgresql

from engine.errors import WorkspaceError
from engine.storage.bulk import insert_columns
from engine.storage.schema import Base, LogEvent
from engine.storage.workspace import Workspace, workspace_url


def test_migrations_create_exactly_the_orm_schema(workspace_path: Path) -> None:
    with Workspace(workspace_path) as workspace, workspace.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_sqlite_pragmas_wal_foreign_keys_busy_timeout(workspace_path: Path) -> None:
    with Workspace(workspace_path) as workspace, workspace.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000


def test_reopening_is_idempotent_and_keeps_data(workspace_path: Path) -> None:
    with Workspace(workspace_path) as workspace, workspace.engine.begin() as connection:
        connection.execute(text("INSERT INTO logs (name, source_path, digest, mapping_key, file_format, column_mapping,"
                                " event_types, n_events, n_users, n_items, imported_at) VALUES ('n', 'p', 'd', 'm',"
                                " '{}', '{}', '[]', 0, 0, 0, '2026-01-01')"))
    with Workspace(workspace_path) as workspace, workspace.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM logs")).scalar() == 1


def test_workspace_of_a_newer_schema_is_refused(workspace_path: Path) -> None:
    Workspace(workspace_path).close()
    engine = create_engine(f"sqlite:///{workspace_path}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(WorkspaceError, match="newer version of HRNN Workbench.*upgrade the application"):
        Workspace(workspace_path)


def test_not_a_database_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("these are my notes, not a database " * 100)
    with pytest.raises(WorkspaceError, match="cannot open workspace"):
        Workspace(path)


def test_directory_as_workspace_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="is a directory"):
        Workspace(tmp_path)


def test_urls_pass_through_and_paths_become_sqlite_urls(tmp_path: Path) -> None:
    assert workspace_url("postgresql+psycopg://team@db.example/hrnn") == "postgresql+psycopg://team@db.example/hrnn"
    assert workspace_url(tmp_path / "w.sqlite") == f"sqlite:///{(tmp_path / 'w.sqlite').resolve()}"


def test_bulk_insert_uses_named_parameters_on_postgresql() -> None:
    """Servers with a 'pyformat' driver get dict rows (checked on the compiled statement and rows)."""
    import numpy as np

    executed: list = []

    class FakeConnection:
        dialect = postgresql.dialect(paramstyle="pyformat")

        def exec_driver_sql(self, statement, rows):
            executed.append((statement, rows))

    insert_columns(FakeConnection(), LogEvent.__table__, {
        "log_id": 1, "position": np.arange(2), "user": np.array([5, 6]), "item": np.array([7, 8]),
        "time": np.array([1.0, 2.0]), "event_type": np.zeros(2, dtype=np.int16),
        "session_key": np.array([None, None], dtype=object)})
    statement, rows = executed[0]
    assert '"user"' in statement and "%(user)s" in statement
    assert rows[1] == {"log_id": 1, "position": 1, "user": 6, "item": 8, "time": 2.0, "event_type": 0,
                       "session_key": None}


@pytest.mark.parametrize("old_revision", [f"{revision:04d}" for revision in range(1, 12)])
def test_workspace_of_an_older_schema_is_upgraded_with_its_data(tmp_path: Path, old_revision: str) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    from engine.storage.workspace import MIGRATIONS_DIR, _alembic_config

    path = tmp_path / "old.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), old_revision)
        connection.execute(text("INSERT INTO logs (id, name, source_path, digest, mapping_key, file_format, "
                                "column_mapping, event_types, n_events, n_users, n_items, imported_at) VALUES "
                                "(1, 'n', 'p', 'd', 'm', '{}', '{}', '[]', 0, 0, 0, '2026-01-01')"))
        connection.execute(text("INSERT INTO datasets (id, name, log_id, settings_key, settings, statistics, "
                                "created_at) VALUES (1, 'old data', 1, 'k', '{}', '{}', '2026-01-01')"))
    engine.dispose()
    with Workspace(path) as workspace, workspace.engine.connect() as connection:
        head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
        assert connection.execute(text("SELECT name FROM datasets")).scalar() == "old data"
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_read_columns_keeps_order_exact_integers_and_reads_null_as_nan(tmp_path: Path) -> None:
    from sqlalchemy import BigInteger, Column, Float, MetaData
    from sqlalchemy import Table as SaTable

    from engine.storage.bulk import read_columns

    metadata = MetaData()
    table = SaTable("numbers", metadata, Column("position", BigInteger, primary_key=True),
                    Column("big", BigInteger), Column("value", Float, nullable=True))
    engine = create_engine(f"sqlite:///{tmp_path / 'n.sqlite'}")
    metadata.create_all(engine)
    big = [2**60 + 1, -(2**53) - 1, 7]  # not exact in a float64
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"position": p, "big": b, "value": v}
                                            for p, b, v in zip([2, 0, 1], big, [None, 0.5, 1.5], strict=True)])
    with engine.connect() as connection:
        out = read_columns(connection, table, ["big", "value"], table.c.position >= 0, table.c.position,
                           {"big": np.int64, "value": np.float64})
        empty = read_columns(connection, table, ["big"], table.c.position < 0, table.c.position, {"big": np.int64})
    assert out["big"].tolist() == [big[1], big[2], big[0]] and out["big"].dtype == np.int64
    assert out["value"][:2].tolist() == [0.5, 1.5] and np.isnan(out["value"][2])
    assert empty["big"].dtype == np.int64 and len(empty["big"]) == 0
    engine.dispose()
