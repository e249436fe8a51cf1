"""Opening a workspace for a use case: the store itself, plus the upkeep an older workspace needs
on its first open (its checkpoints moved into a folder of its own)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from engine.progress import CancelToken, ProgressCallback
from engine.storage.runs import runs_to_relocate
from engine.storage.workspace import (
    Workspace,
    database_problem,
    default_workspace_path,
    is_database_error,
    workspace_url,
)

__all__ = ["Workspace", "WorkspaceInfo", "check_workspace", "database_problem", "default_workspace_path",
           "is_database_error", "open_workspace", "remove_workspace_file", "workspace_url"]

log = logging.getLogger(__name__)


def open_workspace(location: str | Path | None, create: bool = True) -> Workspace:
    """Open the workspace at ``location`` (None: the per-user default); a SQLite file that does
    not exist is created only with ``create``. Moves the checkpoints of a workspace written before
    they had a folder of their own (see :func:`engine.runs.checkpoints.relocate_legacy_checkpoints`)."""
    workspace = Workspace(location, create=create)
    try:
        if not workspace.read_only and runs_to_relocate(workspace):
            # imported here: reading checkpoints loads torch, which only such an old workspace needs
            # (a command that refuses its input answers without it)
            from engine.runs.checkpoints import relocate_legacy_checkpoints

            relocate_legacy_checkpoints(workspace)
    except BaseException:
        workspace.close()
        raise
    return workspace


def remove_workspace_file(workspace: Workspace) -> None:
    """Delete a closed SQLite workspace and its journal files (e.g. one just created by a command
    that then stored nothing); a server database is left alone."""
    path = workspace.file_path
    if path is None:
        return
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        path.with_name(name).unlink(missing_ok=True)


@dataclass(frozen=True)
class WorkspaceInfo:
    """An opened workspace as a shell keeps it: its URL (each use case opens it from there), its
    name for people, its file (None for a server database), whether it is read-only and whether
    opening it created it."""

    url: str
    display_name: str
    file_path: Path | None
    read_only: bool
    created: bool


def check_workspace(location: str | Path | None, create: bool, progress: ProgressCallback,
                    cancel: CancelToken) -> WorkspaceInfo:
    """Open the workspace at ``location`` (creating it with ``create``, upgrading its schema,
    moving legacy checkpoints) and close it again (a background job's work)."""
    progress(0.0, "opening the workspace")
    with open_workspace(location, create) as workspace:
        return WorkspaceInfo(workspace.url, workspace.display_name, workspace.file_path, workspace.read_only,
                             workspace.created)
