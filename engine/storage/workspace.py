"""Opening a workspace: one SQLite file by default (WAL, foreign keys, busy timeout), or any
SQLAlchemy URL (PostgreSQL for a team). Alembic migrations are applied on open; a workspace
written by a newer schema is refused. A SQLite file the user may not write is opened read-only:
reading works, writing is refused with a message that says why. Database errors become one-line
:class:`WorkspaceError` messages (damaged, read-only, locked, disk full), never an SQL dump."""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import platformdirs
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import ColumnElement, CursorResult, Engine, create_engine, event, select, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import WorkspaceError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_MS = 30_000


def default_workspace_path() -> Path:
    """The per-user workspace file (platform data directory)."""
    return Path(platformdirs.user_data_dir("hrnn-workbench", appauthor=False)) / "workspace.sqlite"


def workspace_url(location: str | Path | None, create: bool = True) -> str:
    """A SQLAlchemy URL for a path, a URL, or None (the default workspace). A SQLite file that
    does not exist yet is created (with its folders) only when ``create`` is true; otherwise
    :class:`WorkspaceError` says there is no workspace there."""
    if location is None:
        location = default_workspace_path()
    text = str(location)
    if "://" in text:
        return text
    path = Path(text).expanduser()
    if path.is_dir():
        raise WorkspaceError(f"{path} is a directory; give a workspace file path such as {path / 'workspace.sqlite'}")
    if not path.exists():
        if not create:
            raise WorkspaceError(f"there is no workspace at {path}; check the path (a new workspace is created "
                                 "only by work that stores something, such as importing a log)")
        path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path.resolve()}"


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def side_files(path: Path) -> tuple[Path, Path]:
    """The write-ahead log and shared-memory files SQLite keeps beside ``path`` in WAL mode."""
    return path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")


def unwritable_part(path: Path) -> Path | None:
    """What keeps this process from writing the SQLite file ``path``: the file, one of its side
    files (a leftover read-only ``-shm`` keeps failing after the file's own permission is
    restored), or its folder (where SQLite creates the side files); None when nothing does."""
    for part in (path, *side_files(path)):
        if part.exists() and not os.access(part, os.W_OK):
            return part
    return None if os.access(path.parent, os.W_OK | os.X_OK) else path.parent


def _writable(path: Path) -> bool:
    """Whether this process may write the SQLite file ``path`` and create its WAL files beside it."""
    return unwritable_part(path) is None


def _folder_writable(path: Path) -> bool:
    return os.access(path.parent, os.W_OK | os.X_OK)


def read_only_url(path: Path) -> str:
    """A read-only SQLAlchemy URL of the SQLite file ``path``. In a folder this process cannot
    write, SQLite cannot create the shared-memory file that reading a WAL database needs: without a
    write-ahead log to read, the file is opened immutable (no side files at all)."""
    wal, _ = side_files(path)
    wal_empty = not wal.exists() or wal.stat().st_size == 0
    mode = "immutable=1" if not _folder_writable(path) and wal_empty else "mode=ro"
    return f"sqlite:///file:{path}?{mode}&uri=true"


def problem_kind(error: BaseException) -> tuple[str | None, str]:
    """What a database error says, in one word ("damaged", "read-only", "locked", "full" or None),
    and its first line (no SQL, no parameters)."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    lowered = text.lower()
    if "malformed" in lowered or "not a database" in lowered or "disk i/o error" in lowered:
        return "damaged", text
    if "readonly" in lowered or "read-only" in lowered:
        return "read-only", text
    if "locked" in lowered or "busy" in lowered:
        return "locked", text
    if "full" in lowered:
        return "full", text
    return None, text


def database_problem(error: BaseException, display_name: str | None = None) -> str:
    """A one-line explanation of a database error (no SQL, no parameters) for the workspace
    ``display_name`` (None: "the workspace"): damaged, read-only, locked, full, or the driver's
    own first line."""
    kind, text = problem_kind(error)
    subject = f"workspace {display_name}" if display_name else "the workspace"
    if kind == "damaged":
        file = f'"{display_name}"' if display_name else "WORKSPACE.sqlite"
        return (f"{subject} is damaged ({text}); recover what it holds into a new file with: "
                f'sqlite3 {file} ".recover" | sqlite3 recovered.sqlite, then open recovered.sqlite')
    if kind == "read-only":
        path = Path(display_name) if display_name and "://" not in display_name else None
        part = unwritable_part(path) if path is not None else None
        where = (f"no permission to write {part}" if part is not None
                 else "no permission to write the file or its folder")
        return (f"{subject} is read-only ({where}): reading works, but storing anything needs write access; make it "
                "writable or work on a copy")
    if kind == "locked":
        return f"{subject} is locked by another program that keeps writing to it ({text}); try again later"
    if kind == "full":
        return f"{subject}: the disk is full ({text}); free some space and try again"
    return f"{subject}: database error: {text}"


def is_database_error(error: BaseException) -> bool:
    """Whether ``error`` comes from the database (SQLAlchemy's or the sqlite3 driver's own errors)."""
    return isinstance(error, (DBAPIError, sqlite3.Error))


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_read_pragmas(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


@contextmanager
def _foreign_keys_off(engine: Engine) -> Iterator[Connection]:
    """A connection whose foreign key actions are off on SQLite (and back on after), for the
    migrations: rebuilding a parent table drops it, and with foreign keys on, dropping a table
    deletes its rows first, cascading to every child row. The checks run before the end."""
    with engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # outside a transaction: it applies
            connection.commit()
        try:
            yield connection
            if sqlite:
                dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                if dangling is not None:
                    log.warning("workspace rows refer to missing parents after the upgrade: %s", tuple(dangling))
        finally:
            if sqlite:
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


@functools.lru_cache(maxsize=1)
def _revisions() -> tuple[frozenset[str], str]:
    """Every schema revision this program knows, and the newest: read from the migration scripts once
    per process (loading them took half of each opening, on every background job of the desktop app)."""
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    return frozenset(rev.revision for rev in scripts.walk_revisions()), str(scripts.get_current_head())


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


class Workspace:
    """An open workspace: an SQLAlchemy engine plus a session factory (one session per thread)."""

    def __init__(self, location: str | Path | None = None, create: bool = True) -> None:
        """Open (and, with ``create``, create) the workspace at ``location``; see :func:`workspace_url`."""
        self.url = workspace_url(location, create)
        sqlite_path = _sqlite_path(self.url)
        self.created = sqlite_path is not None and not sqlite_path.exists()
        self.read_only = sqlite_path is not None and sqlite_path.exists() and not _writable(sqlite_path)
        engine_url = self.url
        if self.read_only:
            assert sqlite_path is not None
            engine_url = read_only_url(sqlite_path)
            log.info("workspace %s is read-only: opened for reading (%s)", sqlite_path, engine_url)
        try:
            self.engine: Engine = create_engine(engine_url)
        except (ArgumentError, ImportError) as exc:
            raise WorkspaceError(f"cannot open workspace {self.url}: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_read_pragmas if self.read_only else _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._migrate()

    @property
    def display_name(self) -> str:
        url = make_url(self.url)
        if url.get_backend_name() == "sqlite":
            return url.database or self.url
        return url.render_as_string(hide_password=True)

    @property
    def backend(self) -> str:
        """The database behind the workspace: "sqlite", "postgresql", ..."""
        return make_url(self.url).get_backend_name()

    @property
    def file_path(self) -> Path | None:
        """The SQLite file, or None for a server database."""
        return _sqlite_path(self.url)

    @property
    def checkpoint_folder(self) -> Path:
        """Where this workspace's checkpoints live, a folder of its own: ``<stem>.checkpoints/``
        beside a SQLite file (two workspace files in one folder never share one), or, for a
        server database, a folder in the user's data directory named after the URL (without
        its password)."""
        path = self.file_path
        if path is not None:
            return path.with_name(f"{path.stem}.checkpoints")
        url = make_url(self.url).set(password=None)
        identity = hashlib.sha256(url.render_as_string(hide_password=False).encode()).hexdigest()[:16]
        label = "-".join(part for part in (url.host, url.database) if part) or "server"
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)
        data_dir = Path(platformdirs.user_data_dir("hrnn-workbench", appauthor=False))
        return data_dir / "checkpoints" / f"{safe}-{identity}"

    def _migrate(self) -> None:
        """Check the schema, and upgrade it when it is older than this program's. Opening an up-to-date
        workspace only reads its revision: the upgrade's connection (foreign key actions off, then a
        check of every row's parents, a scan of the whole file) is taken only when there is an upgrade."""
        known, head = _revisions()
        try:
            with self.engine.connect() as connection:
                current = self._check_heads(connection, known)
            if current == (head,):
                return
            if self.read_only:
                raise WorkspaceError(
                    f"workspace {self.display_name} was written by an older version and needs an "
                    "upgrade, which needs write access: make it writable (or open a writable copy)")
            with _foreign_keys_off(self.engine) as connection, connection.begin():
                if self._check_heads(connection, known) != (head,):  # another process may have upgraded it
                    log.info("migrating workspace %s from %s to %s", self.display_name, current, head)
                    command.upgrade(_alembic_config(connection), "head")
        except DBAPIError as exc:
            if self.read_only and "unable to open" in str(exc).lower():
                raise WorkspaceError(
                    f"workspace {self.display_name} cannot be read: it is read-only in a folder this program cannot "
                    "write, and its write-ahead log (the -wal file beside it) can only be read by writing a file "
                    "beside it; copy the workspace file with its -wal file into a writable folder and open the "
                    "copy") from exc
            raise WorkspaceError(f"cannot open {database_problem(exc, self.display_name)}") from exc

    def _check_heads(self, connection: Connection, known: frozenset[str]) -> tuple[str, ...]:
        """The workspace's schema revisions; :class:`WorkspaceError` when one is unknown (a newer program)."""
        current = tuple(MigrationContext.configure(connection).get_current_heads())
        unknown = [rev for rev in current if rev not in known]
        if unknown:
            raise WorkspaceError(
                f"workspace {self.display_name} was written by a newer version of HRNN Workbench "
                f"(schema {', '.join(unknown)}); upgrade the application to open it"
            )
        return current

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class WorkspaceInUse(Exception):
    """Another connection reads or writes the workspace, so that it cannot be compacted now."""


def vacuum(workspace: Workspace, busy_wait_ms: int) -> bool:
    """Give the space of deleted rows back to the disk (VACUUM); on SQLite, only when no other
    connection uses the file (waiting ``busy_wait_ms`` for one, else :class:`WorkspaceInUse`), then
    empty its write-ahead log. Returns whether the log could be emptied (False: a program began
    reading meanwhile, and the log keeps the old pages until it is done)."""
    with workspace.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if workspace.engine.dialect.name != "sqlite":
            connection.exec_driver_sql("VACUUM")
            return True
        return _vacuum_sqlite(connection, busy_wait_ms)


def _vacuum_sqlite(connection: Connection, busy_wait_ms: int) -> bool:
    """A no-op write then a checkpoint tell whether another connection reads (it holds a snapshot
    the checkpoint may not overwrite) or writes."""
    connection.exec_driver_sql(f"PRAGMA busy_timeout={busy_wait_ms}")
    try:
        try:
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = version_num")
            busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
        except OperationalError as exc:  # locked by a writer
            raise WorkspaceInUse() from exc
        if busy:
            raise WorkspaceInUse()
        connection.exec_driver_sql("VACUUM")
        return not connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").scalar()
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def update_if_any(workspace: Workspace, entity: Any, where: ColumnElement[bool], values: dict[str, Any]) -> int:
    """Set ``values`` on the rows of ``entity`` (a mapped class) that match ``where``; returns how
    many. Looks first without a write lock: most calls (the sweeps of silent runs and comparisons)
    find nothing and then take no lock at all."""
    with workspace.session() as session:
        if session.scalar(select(entity.id).where(where).limit(1)) is None:
            return 0
    with workspace.session() as session:
        result = cast(CursorResult, session.execute(update(entity).where(where).values(**values)))
        return int(result.rowcount or 0)
