"""Run records: creation, status changes with a heartbeat, long-format metrics, and marking runs
whose process died (no heartbeat) as failed. The rows live in the run store
(:mod:`engine.storage.runs`); this module holds the rules of a run's life."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from engine.errors import InputError
from engine.storage import runs as store
from engine.storage.catalog import checked_name, now_utc
from engine.storage.runs import RunSummary, get_run, metric_series, metric_tables, record_metric
from engine.storage.workspace import Workspace
from engine.version import code_version

__all__ = ["HEARTBEAT_INTERVAL_S", "RETRYABLE", "STALE_AFTER_S", "RunSummary", "cancel_run", "create_run",
           "delete_runs", "fail_run", "finish_run", "get_run", "heartbeat", "list_runs", "mark_stale_runs_failed",
           "metric_series", "metric_tables", "record_metric", "refuse_running", "rename_run", "requeue_run",
           "runs_of_study", "set_run_note", "start_run"]

HEARTBEAT_INTERVAL_S = 5.0
STALE_AFTER_S = 60.0  # a running run silent this long is taken for dead


def create_run(workspace: Workspace, dataset_id: int, model: str, config: dict[str, Any], seed: int,
               preset: str | None = None, validation: bool = False, study: str | None = None) -> int:
    """A new queued run; returns its id."""
    return store.add_run(workspace, dataset_id, model, config, seed, preset, validation, study, code_version(),
                         now_utc())


def runs_of_study(workspace: Workspace, run_ids: list[int], study: str) -> set[int]:
    """Those of ``run_ids`` that exist and belong to ``study`` (a run id a study or comparison
    stored may name a deleted run; in a workspace upgraded after ids were reused, another run)."""
    return {run_id for run_id, owner in store.run_studies(workspace, run_ids).items() if owner == study}


def list_runs(workspace: Workspace, dataset_id: int | None = None, include_validation: bool = True) -> list[RunSummary]:
    """Runs (oldest first), after marking dead ones as failed."""
    mark_stale_runs_failed(workspace)
    return store.find_runs(workspace, dataset_id, include_validation)


def start_run(workspace: Workspace, run_id: int, device: str) -> None:
    now = now_utc()
    store.update_run(workspace, run_id, status="running", device=device, started_at=now, heartbeat_at=now, error=None)


def heartbeat(workspace: Workspace, run_id: int) -> None:
    store.update_run(workspace, run_id, heartbeat_at=now_utc())


def finish_run(workspace: Workspace, run_id: int, checkpoint_name: str | None = None,
               checkpoint_digest: str | None = None) -> None:
    """Mark the run finished with its checkpoint (file name in the workspace's folder, sha256)."""
    store.update_run(workspace, run_id, status="finished", finished_at=now_utc(), checkpoint_path=checkpoint_name,
                     checkpoint_digest=checkpoint_digest)


def fail_run(workspace: Workspace, run_id: int, error: str) -> None:
    store.update_run(workspace, run_id, status="failed", finished_at=now_utc(), error=error)


def cancel_run(workspace: Workspace, run_id: int) -> None:
    store.update_run(workspace, run_id, status="cancelled", finished_at=now_utc(), error="cancelled by the user")


def mark_stale_runs_failed(workspace: Workspace, stale_after_s: float = STALE_AFTER_S) -> int:
    """Running runs without a heartbeat for ``stale_after_s`` seconds are marked failed; returns how many."""
    now = now_utc()
    return store.fail_silent_runs(
        workspace, now - timedelta(seconds=stale_after_s),
        f"the run's process stopped without reporting (no heartbeat for over {stale_after_s:.0f} s)", now)


def rename_run(workspace: Workspace, run_id: int, name: str | None) -> None:
    """Give the run a name of the user's (shown instead of its generated label); empty or None
    brings the generated label back."""
    store.update_run(workspace, run_id, name=checked_name(name) if name and name.strip() else None)


def set_run_note(workspace: Workspace, run_id: int, note: str | None) -> None:
    """Store the user's note on the run (empty or None removes it)."""
    store.update_run(workspace, run_id, note=(note or "").strip() or None)


#: Runs in these states may be queued again with their configuration.
RETRYABLE = ("failed", "cancelled")


def requeue_run(workspace: Workspace, run_id: int) -> None:
    """Queue a failed or cancelled run again with its configuration: what its attempt recorded
    (status, error, times, per-epoch metrics, evaluations) is cleared."""
    run = get_run(workspace, run_id)
    if run.status not in RETRYABLE:
        raise InputError(f"run {run_id} is {run.status}; only a failed or cancelled run can be queued again")
    store.reset_run(workspace, run_id)


def delete_runs(workspace: Workspace, run_ids: list[int]) -> list[RunSummary]:
    """Delete runs with their metrics, evaluations and stored ranks (not their checkpoint files:
    see :func:`engine.workbench.managing.delete_runs`); refuses a running run. Returns the runs
    deleted as they were."""
    runs = [get_run(workspace, run_id) for run_id in dict.fromkeys(run_ids)]
    refuse_running(runs)
    store.delete_runs(workspace, [run.id for run in runs])
    return runs


def refuse_running(runs: list[RunSummary]) -> None:
    """InputError when one of ``runs`` is being trained (a process is writing its records)."""
    running = [run.id for run in runs if run.status == "running"]
    if running:
        listed = ", ".join(f"#{run_id}" for run_id in running)
        raise InputError(f"run{'s' if len(running) > 1 else ''} {listed} {'are' if len(running) > 1 else 'is'} "
                         "training; cancel before deleting")
