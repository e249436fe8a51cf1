"""Opening a workspace: one SQLite file by default (WAL, foreign keys, busy timeout), or any
SQLAlchemy URL (PostgreSQL for a team). Alembic migrations are applied on open; a workspace
written by a newer schema is refused."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import platformdirs
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic import command
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import WorkspaceError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_MS = 30_000


def default_workspace_path() -> Path:
    """The per-user workspace file (platform data directory)."""
    return Path(platformdirs.user_data_dir("hrnn-workbench", appauthor=False)) / "workspace.sqlite"


def workspace_url(location: str | Path | None) -> str:
    """A SQLAlchemy URL for a path, a URL, or None (the default workspace)."""
    if location is None:
        location = default_workspace_path()
    text = str(location)
    if "://" in text:
        return text
    path = Path(text).expanduser()
    if path.is_dir():
        raise WorkspaceError(f"{path} is a directory; give a workspace file path such as {path / 'workspace.sqlite'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path.resolve()}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 (DBAPI types)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


class Workspace:
    """An open workspace: an SQLAlchemy engine plus a session factory (one session per thread)."""

    def __init__(self, location: str | Path | None = None) -> None:
        self.url = workspace_url(location)
        try:
            self.engine: Engine = create_engine(self.url)
        except (ArgumentError, ImportError) as exc:
            raise WorkspaceError(f"cannot open workspace {self.url}: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._migrate()

    @property
    def display_name(self) -> str:
        url = make_url(self.url)
        return url.database or self.url if url.get_backend_name() == "sqlite" else url.render_as_string(hide_password=True)

    def _migrate(self) -> None:
        scripts = ScriptDirectory(str(MIGRATIONS_DIR))
        known = {rev.revision for rev in scripts.walk_revisions()}
        try:
            with self.engine.begin() as connection:
                current = MigrationContext.configure(connection).get_current_heads()
                unknown = [rev for rev in current if rev not in known]
                if unknown:
                    raise WorkspaceError(
                        f"workspace {self.display_name} was written by a newer version of HRNN Workbench "
                        f"(schema {', '.join(unknown)}); upgrade the application to open it"
                    )
                if tuple(current) != (scripts.get_current_head(),):
                    log.info("migrating workspace %s from %s to %s", self.display_name, current, scripts.get_current_head())
                    command.upgrade(_alembic_config(connection), "head")
        except (OperationalError, DatabaseError) as exc:
            raise WorkspaceError(f"cannot open workspace {self.display_name}: {exc.orig}") from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
