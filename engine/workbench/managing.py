"""Managing what piles up in a workspace: deleting datasets, runs and stored logs (with a plan
that says what goes, for the confirmation), renaming, notes, queueing a failed run again, and
compacting the file. Plain data in and out; each shell asks and reports in its own words."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from engine.errors import InputError, WorkspaceError
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.runs import records
from engine.runs.checkpoints import checkpoint_location
from engine.runs.labels import run_label
from engine.storage import catalog
from engine.storage import runs as run_store
from engine.storage.workspace import Workspace, WorkspaceInUse, vacuum
from engine.tuning.comparisons import running_comparisons
from engine.tuning.study import studies_at_work

__all__ = ["CompactOutcome", "DeletionOutcome", "DeletionPlan", "compact_workspace", "delete_dataset", "delete_log",
           "delete_runs", "in_workspace", "plan_dataset_deletion", "plan_log_deletion", "plan_run_deletion",
           "rename_dataset", "rename_run", "retry_runs", "set_dataset_note", "set_run_note"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def in_workspace(url: str, use_case: Callable[..., T], *args: object) -> T:
    """``use_case(workspace, *args)`` in the workspace at ``url`` opened for the call (for a
    background worker, which must not share the shell's connections)."""
    with Workspace(url) as workspace:
        return use_case(workspace, *args)


@dataclass(frozen=True)
class DeletionPlan:
    """What a deletion would remove: ``what`` names the deleted thing ("dataset 'shop'"),
    ``parts`` list everything that goes with it, ``kept`` what stays although one might expect it
    to go, ``refusal`` why it cannot be deleted now (None: it can)."""

    what: str
    parts: tuple[str, ...]
    kept: tuple[str, ...] = ()
    refusal: str | None = None
    dataset_id: int | None = None
    run_ids: tuple[int, ...] = ()
    log_id: int | None = None


@dataclass(frozen=True)
class DeletionOutcome:
    """What a deletion removed."""

    what: str
    runs: int
    files: int  # checkpoint files removed
    events: int  # stored events (prepared and raw) removed
    seconds: float


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else many or one + 's'}"


def _checkpoints(workspace: Workspace, runs: list[records.RunSummary]) -> list[Path]:
    """The runs' checkpoint files that exist."""
    files = (checkpoint_location(workspace, run) for run in runs)
    return [path for path in files if path is not None and path.exists()]


def _size_text(paths: list[Path]) -> str:
    size = sum(path.stat().st_size for path in paths)
    return f"{size / 2**20:,.1f} MiB" if size >= 2**20 else f"{size / 2**10:,.0f} KiB"


def _runs_part(workspace: Workspace, runs: list[records.RunSummary], n_evaluations: int, n_ranks: int) -> list[str]:
    parts = []
    if runs:
        ranks = f" ({_plural(n_ranks, 'stored rank')})" if n_ranks else ""
        parts.append(f"{_plural(len(runs), 'run')} with their per-epoch metrics and "
                     f"{_plural(n_evaluations, 'evaluation')}{ranks}")
    files = _checkpoints(workspace, runs)
    if files:
        parts.append(f"{_plural(len(files), 'checkpoint file')} ({_size_text(files)})")
    return parts


def _running_refusal(runs: list[records.RunSummary]) -> str | None:
    try:
        records.refuse_running(runs)
    except InputError as exc:
        return str(exc)
    return None


def _jobs_holding(workspace: Workspace, dataset_id: int, runs: list[records.RunSummary]) -> str | None:
    """Why a dataset cannot be deleted now: the job that works on it (training runs, runs queued
    to train, a study a live worker tunes, a running comparison), or None."""
    comparisons = running_comparisons(workspace, dataset_id)
    if comparisons:
        return f"comparison #{comparisons[0]} is running on it; cancel it first"
    try:
        studies = studies_at_work(workspace, dataset_id)
    except WorkspaceError as exc:  # a damaged study file does not hold the dataset
        log.warning("cannot look at the studies: %s", exc)
        studies = []
    if studies:
        return f"study '{studies[0]}' is tuning it; cancel it first"
    refusal = _running_refusal(runs)
    if refusal is not None:
        return refusal
    queued = [run.id for run in runs if run.status == "queued"]
    if queued:
        listed = ", ".join(f"#{run_id}" for run_id in queued[:5]) + (", ..." if len(queued) > 5 else "")
        return (f"run{'s' if len(queued) > 1 else ''} {listed} {'are' if len(queued) > 1 else 'is'} queued to train "
                f"on it; cancel or delete {'them' if len(queued) > 1 else 'it'} first")
    return None


def plan_dataset_deletion(workspace: Workspace, dataset: str | int) -> DeletionPlan:
    """What deleting a dataset removes: its prepared events, its runs with their evaluations and
    checkpoints, and its raw log unless another dataset was prepared from it."""
    contents = catalog.dataset_contents(workspace, dataset)
    runs = [records.get_run(workspace, run_id) for run_id in contents.run_ids]
    parts = [f"its {_plural(contents.n_events, 'prepared event')}",
             *_runs_part(workspace, runs, contents.n_evaluations, contents.n_ranks)]
    kept: list[str] = []
    if contents.log_shared:
        kept.append(f"the raw log {contents.log_name} stays: another dataset was prepared from it")
    else:
        parts.append(f"the raw log {contents.log_name} ({_plural(contents.log_events, 'event')}): no other dataset "
                     "uses it (the file on disk stays)")
    return DeletionPlan(f"dataset '{contents.name}'", tuple(parts), tuple(kept),
                        _jobs_holding(workspace, contents.dataset_id, runs),
                        dataset_id=contents.dataset_id, run_ids=tuple(contents.run_ids), log_id=contents.log_id)


def plan_run_deletion(workspace: Workspace, run_ids: list[int]) -> DeletionPlan:
    """What deleting runs removes: the runs, their metrics, evaluations and checkpoints."""
    runs = [records.get_run(workspace, run_id) for run_id in dict.fromkeys(run_ids)]
    if not runs:
        raise InputError("no run to delete")
    ids = [run.id for run in runs]
    n_evaluations, n_ranks = run_store.count_run_results(workspace, ids)
    what = f"run {run_label(runs[0])}" if len(runs) == 1 else _plural(len(runs), "run")
    return DeletionPlan(what, tuple(_runs_part(workspace, runs, n_evaluations, n_ranks)),
                        refusal=_running_refusal(runs), run_ids=tuple(ids))


def plan_log_deletion(workspace: Workspace, log_id: int) -> DeletionPlan:
    """What deleting a stored log that no dataset uses removes (its raw events and ids)."""
    stored = catalog.get_log(workspace, log_id)
    refusal = "datasets were prepared from it: delete them instead" if catalog.log_in_use(workspace, log_id) else None
    return DeletionPlan(f"the raw log {stored.name}", (f"its {_plural(stored.n_events, 'raw event')}",),
                        ("the file on disk stays",), refusal, log_id=log_id)


def _remove_files(paths: list[Path]) -> int:
    removed = 0
    for path in paths:
        try:
            path.unlink(missing_ok=True)
            removed += 1
        except OSError as exc:
            log.warning("cannot remove checkpoint %s: %s", path, exc)
    return removed


def delete_dataset(workspace: Workspace, dataset: str | int, progress: ProgressCallback = no_progress,
                   cancel: CancelToken | None = None) -> DeletionOutcome:
    """Delete a dataset with its runs, their evaluations and checkpoints, and its raw log when no
    other dataset uses it, in one transaction (then the checkpoint files); refuses while a job
    works on it (a run training or queued, a study tuning it, a comparison running on it)."""
    began = time.perf_counter()
    progress(0.0, "finding what goes")
    contents = catalog.dataset_contents(workspace, dataset)
    runs = [records.get_run(workspace, run_id) for run_id in contents.run_ids]
    refusal = _jobs_holding(workspace, contents.dataset_id, runs)
    if refusal is not None:
        raise InputError(f"dataset '{contents.name}' cannot be deleted: {refusal}")
    if cancel is not None:
        cancel.raise_if_cancelled()
    files = _checkpoints(workspace, runs)
    progress(0.1, "deleting the stored rows")
    catalog.delete_dataset(workspace, contents)
    progress(0.9, "removing checkpoint files")
    removed = _remove_files(files)
    events = contents.n_events + (0 if contents.log_shared else contents.log_events)
    seconds = time.perf_counter() - began
    log.info("deleted dataset %d '%s' (%d runs, %d events) in %.2f s", contents.dataset_id, contents.name,
             len(runs), events, seconds)
    progress(1.0, "deleted")
    return DeletionOutcome(f"dataset '{contents.name}'", len(runs), removed, events, seconds)


def delete_runs(workspace: Workspace, run_ids: list[int], progress: ProgressCallback = no_progress,
                cancel: CancelToken | None = None) -> DeletionOutcome:
    """Delete runs with their metrics, evaluations and checkpoint files; refuses a running run."""
    began = time.perf_counter()
    progress(0.0, "deleting runs")
    deleted = records.delete_runs(workspace, run_ids)
    removed = _remove_files(_checkpoints(workspace, deleted))
    progress(1.0, "deleted")
    what = f"run #{deleted[0].id}" if len(deleted) == 1 else _plural(len(deleted), "run")
    return DeletionOutcome(what, len(deleted), removed, 0, time.perf_counter() - began)


def delete_log(workspace: Workspace, log_id: int, progress: ProgressCallback = no_progress,
               cancel: CancelToken | None = None) -> DeletionOutcome:
    """Delete a stored log that no dataset uses (its preparation failed)."""
    began = time.perf_counter()
    plan = plan_log_deletion(workspace, log_id)
    if plan.refusal is not None:
        raise InputError(f"{plan.what} cannot be deleted: {plan.refusal}")
    n_events = catalog.get_log(workspace, log_id).n_events
    catalog.delete_log(workspace, log_id)
    progress(1.0, "deleted")
    return DeletionOutcome(plan.what, 0, 0, n_events, time.perf_counter() - began)


def rename_dataset(workspace: Workspace, dataset: str | int, name: str) -> str:
    """A new unique name for the dataset; returns it."""
    return catalog.rename_dataset(workspace, dataset, name)


def rename_run(workspace: Workspace, run_id: int, name: str | None) -> None:
    """The user's name for a run, shown instead of its generated label (empty: the label again)."""
    records.rename_run(workspace, run_id, name)


def set_dataset_note(workspace: Workspace, dataset: str | int, note: str | None) -> None:
    catalog.set_dataset_note(workspace, dataset, note)


def set_run_note(workspace: Workspace, run_id: int, note: str | None) -> None:
    records.set_run_note(workspace, run_id, note)


def retry_runs(workspace: Workspace, run_ids: list[int]) -> list[int]:
    """Queue failed or cancelled runs again with their configuration; returns their ids (to execute)."""
    for run_id in run_ids:
        records.requeue_run(workspace, run_id)
    return list(run_ids)


@dataclass(frozen=True)
class CompactOutcome:
    """The workspace's size on disk (the file and its write-ahead log) before and after, in bytes
    (None for a server database). ``complete``: False when a program began reading the workspace
    while it was compacted, so that the write-ahead log keeps the old pages until it is done."""

    bytes_before: int | None
    bytes_after: int | None
    seconds: float
    complete: bool = True


#: Milliseconds compacting waits for another program's reading or writing before refusing.
BUSY_WAIT_MS = 2_000


def _disk_bytes(path: Path | None) -> int | None:
    if path is None:
        return None
    return sum(part.stat().st_size for part in (path, path.with_name(f"{path.name}-wal")) if part.exists())


def _in_use(workspace: Workspace) -> InputError:
    return InputError(f"workspace {workspace.display_name} is in use by another program that is reading or writing "
                      "it (another window of the app, a command, a database browser): compacting needs it alone, "
                      "or the space would not be given back; let that work end or close the program, then compact "
                      "again")


def compact_workspace(workspace: Workspace, progress: ProgressCallback = no_progress,
                      cancel: CancelToken | None = None) -> CompactOutcome:
    """Give the space of deleted rows back to the disk (VACUUM, then an emptied write-ahead log);
    refuses while a run is training or another program reads or writes the workspace."""
    if workspace.read_only:
        raise InputError(f"workspace {workspace.display_name} is read-only: it cannot be compacted")
    training = [run for run in records.list_runs(workspace) if run.status == "running"]
    if training:
        raise InputError(f"run #{training[0].id} is training: compact the workspace when no run is training")
    began = time.perf_counter()
    before = _disk_bytes(workspace.file_path)
    progress(0.0, "compacting")
    try:
        complete = vacuum(workspace, BUSY_WAIT_MS)
    except WorkspaceInUse as exc:
        raise _in_use(workspace) from exc
    after = _disk_bytes(workspace.file_path)
    progress(1.0, "compacted")
    log.info("compacted workspace %s: %s -> %s bytes%s", workspace.display_name, before, after,
             "" if complete else " (another program read it meanwhile)")
    return CompactOutcome(before, after, time.perf_counter() - began, complete)
