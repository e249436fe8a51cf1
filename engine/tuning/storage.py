"""Where a workspace keeps its Optuna studies, apart from the workspace's own tables.

Optuna's RDB storage has its own tables and its own ``alembic_version``; neither migration may see
the other's. A SQLite workspace ``NAME.sqlite`` keeps its studies in ``NAME.optuna.sqlite`` beside
it; a PostgreSQL workspace keeps them on the same server in the schema ``optuna`` (the connection's
``search_path``), so that a worker on another machine reaches the study through the workspace's URL
alone. Trials send a heartbeat; a trial whose worker died (no heartbeat for the grace period) is
marked failed by the next worker that looks.

Workers claim trials under :func:`study_lock` (one claimer at a time), so that a study's trial
budget is never exceeded by two workers asking at the same moment."""
from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna

from engine.errors import InputError, NotFoundError, WorkspaceError
from engine.storage.studies import DATABASE_ERRORS, create_schema, exclusive_lock, schema_exists, use_sqlite_settings
from engine.storage.workspace import Workspace, problem_kind, read_only_url, unwritable_part

log = logging.getLogger(__name__)

#: The PostgreSQL schema of the studies (the workspace's tables stay in the default one).
OPTUNA_SCHEMA = "optuna"
#: Seconds between two heartbeats of a running trial.
HEARTBEAT_INTERVAL_S = 10
#: Seconds without a heartbeat after which a running trial is taken for dead (its worker died).
GRACE_PERIOD_S = 60
#: Seconds a SQLite connection waits for another worker's write before giving up.
SQLITE_TIMEOUT_S = 60

#: What opening a study storage raises when its database cannot be used.
STUDY_OPEN_ERRORS: tuple[type[Exception], ...] = (*DATABASE_ERRORS, optuna.exceptions.StorageInternalError)


def studies_file(workspace: Workspace) -> Path | None:
    """The SQLite file of a SQLite workspace's studies (``NAME.optuna.sqlite``); None on a server."""
    path = workspace.file_path
    return None if path is None else path.with_name(f"{path.stem}.optuna.sqlite")


def _backend(workspace: Workspace) -> str:
    backend = workspace.backend
    if backend not in ("sqlite", "postgresql"):
        raise InputError(f"tuning needs a SQLite or PostgreSQL workspace, not {backend}")
    return backend


def studies_location(workspace: Workspace) -> str:
    """Where the studies are, in words (for messages; no password)."""
    path = studies_file(workspace)
    return str(path) if path is not None else f"schema '{OPTUNA_SCHEMA}' of {workspace.display_name}"


def storage_exists(workspace: Workspace) -> bool:
    """Whether the workspace has a study storage yet (nothing is created)."""
    if _backend(workspace) == "sqlite":
        path = studies_file(workspace)
        return path is not None and path.exists()
    return schema_exists(workspace, OPTUNA_SCHEMA)


def quiet_optuna() -> None:
    """Optuna's warnings go through Python logging, like the workbench's own; its notes on every
    trial are left out (the workbench reports trials itself)."""
    optuna.logging.disable_default_handler()
    optuna.logging.enable_propagation()
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def studies_problem(workspace: Workspace, error: BaseException) -> str:
    """A one-line explanation of an error of the study storage, naming the studies file (not the
    workspace): damaged (with the ``.recover`` command), read-only (naming the file that cannot be
    written, e.g. a leftover ``-shm``), locked, full, or the driver's first line."""
    cause = error.__cause__ if isinstance(error, optuna.exceptions.StorageInternalError) and error.__cause__ \
        else error
    kind, text = problem_kind(cause)
    path = studies_file(workspace)
    subject = f"the studies file {path}" if path is not None else f"the studies in {studies_location(workspace)}"
    if kind == "damaged" and path is not None:
        return (f"{subject} is damaged ({text}); recover what it holds with: sqlite3 \"{path}\" \".recover\" | sqlite3 "
                f"recovered.optuna.sqlite, then put recovered.optuna.sqlite in its place (or move the file away to "
                "start the studies afresh: the workspace keeps every run)")
    if kind == "read-only" and path is not None:
        return _read_only_studies(path, unwritable_part(path) or path)
    if kind in ("damaged", "read-only"):
        return f"{subject} cannot be used: {text}"
    if kind == "locked":
        return f"{subject} is locked by another program that keeps writing to it ({text}); try again later"
    if kind == "full":
        return f"{subject}: the disk is full ({text}); free some space and try again"
    return f"{subject}: database error: {text}"


def _read_only_studies(path: Path, part: Path) -> str:
    leftover = (f"; {part.name} is left over by a program that used the studies: remove it when none does"
                if part != path and part.parent == path.parent else "")
    return (f"the studies file {path} is read-only (no permission to write {part}): reading its studies works, but "
            f"tuning stores its trials there; make it writable or work on a copy{leftover}")


@contextmanager
def studies_errors(workspace: Workspace) -> Iterator[None]:
    """Errors of the study storage inside a block become one-line :class:`WorkspaceError`s that
    name the studies file (:func:`studies_problem`); the workspace's own errors pass."""
    try:
        yield
    except optuna.exceptions.StorageInternalError as exc:
        raise WorkspaceError(studies_problem(workspace, exc)) from exc


def open_study_storage(workspace: Workspace, create: bool, grace_period_s: int = GRACE_PERIOD_S,
                       write: bool = True) -> optuna.storages.RDBStorage:
    """The workspace's study storage with heartbeats (every :data:`HEARTBEAT_INTERVAL_S` s; a
    running trial is dead after ``grace_period_s`` s without one). Without ``create``, a workspace
    with no study storage yet raises :class:`NotFoundError` and nothing is created. Without
    ``write`` (reading studies), a studies file this process may not write is opened read-only;
    with it, such a file is refused naming what cannot be written."""
    quiet_optuna()
    backend = _backend(workspace)
    if not create and not storage_exists(workspace):
        raise NotFoundError(f"workspace {workspace.display_name} has no studies yet; start one with: "
                            "python main.py tune DATASET --model MODEL")
    if write and workspace.read_only:
        raise WorkspaceError(f"workspace {workspace.display_name} is read-only: tuning stores its trials, "
                             "make it writable or work on a copy")
    connect_args: dict[str, Any]
    read_only = False
    if backend == "sqlite":
        path = studies_file(workspace)
        assert path is not None
        part = unwritable_part(path)
        if part is not None and write:
            raise WorkspaceError(_read_only_studies(path, part))
        read_only = part is not None
        url = read_only_url(path) if read_only else f"sqlite:///{path}"
        connect_args = {"timeout": SQLITE_TIMEOUT_S}
    else:
        url, connect_args = workspace.url, {"options": f"-csearch_path={OPTUNA_SCHEMA}"}
        if create:
            create_schema(workspace, OPTUNA_SCHEMA)
    try:
        with warnings.catch_warnings():  # heartbeats are marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(
                url, engine_kwargs={"connect_args": connect_args}, heartbeat_interval=HEARTBEAT_INTERVAL_S,
                grace_period=grace_period_s)
    except STUDY_OPEN_ERRORS as exc:
        raise WorkspaceError(f"cannot open the studies: {studies_problem(workspace, exc)}") from exc
    if backend == "sqlite":
        use_sqlite_settings(storage.engine, SQLITE_TIMEOUT_S, read_only)
    return storage


def close_storage(storage: optuna.storages.RDBStorage) -> None:
    """Close the storage's connections (Optuna leaves them to the garbage collector)."""
    storage.remove_session()
    storage.engine.dispose()


@contextmanager
def study_storage(workspace: Workspace, create: bool = False, grace_period_s: int = GRACE_PERIOD_S,
                  write: bool = True) -> Iterator[optuna.storages.RDBStorage]:
    """:func:`open_study_storage` for the length of a block; its errors name the studies file."""
    storage = open_study_storage(workspace, create, grace_period_s, write)
    try:
        with studies_errors(workspace):
            yield storage
    finally:
        close_storage(storage)


@contextmanager
def study_lock(workspace: Workspace, study_name: str) -> Iterator[None]:
    """One claimer of ``study_name``'s trials at a time, across processes and machines (see
    :func:`engine.storage.studies.exclusive_lock`). Keep the block short and do not write to the
    workspace inside it."""
    with exclusive_lock(workspace, f"hrnn-study:{study_name}"):
        yield
