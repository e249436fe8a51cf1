"""Run records: creation, status changes with a heartbeat, long-format metrics, and marking runs
whose process died (no heartbeat) as failed."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import numpy as np
from sqlalchemy import CursorResult, delete, select, update

from engine.errors import InputError, NotFoundError
from engine.storage.catalog import checked_name, delete_cascading, delete_run_results, deleting, now_utc
from engine.storage.schema import Run, RunMetric
from engine.storage.workspace import Workspace
from engine.version import code_version

HEARTBEAT_INTERVAL_S = 5.0
STALE_AFTER_S = 60.0  # a running run silent this long is taken for dead


@dataclass(frozen=True)
class RunSummary:
    id: int
    dataset_id: int
    model: str
    preset: str | None
    seed: int
    status: str
    device: str | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    validation: bool
    study: str | None
    checkpoint_path: str | None  # see engine.runs.checkpoints.checkpoint_location
    config: dict[str, Any]
    checkpoint_digest: str | None = None  # sha256 of the checkpoint file the run saved
    name: str | None = None  # the user's name for the run (replaces its generated label)
    note: str | None = None  # the user's note


def _summary(run: Run) -> RunSummary:
    return RunSummary(run.id, run.dataset_id, run.model, run.preset, run.seed, run.status, run.device, run.error,
                      run.created_at, run.started_at, run.finished_at, run.validation, run.study,
                      run.checkpoint_path, dict(run.config), run.checkpoint_digest, run.name, run.note)


def create_run(workspace: Workspace, dataset_id: int, model: str, config: dict[str, Any], seed: int,
               preset: str | None = None, validation: bool = False, study: str | None = None) -> int:
    """A new queued run; returns its id."""
    with workspace.session() as session:
        run = Run(dataset_id=dataset_id, model=model, preset=preset, config=config, seed=seed, validation=validation,
                  study=study, code_version=code_version(), status="queued", created_at=now_utc())
        session.add(run)
        session.flush()
        return run.id


def get_run(workspace: Workspace, run_id: int) -> RunSummary:
    with workspace.session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id} in the workspace")
        return _summary(run)


def runs_of_study(workspace: Workspace, run_ids: list[int], study: str) -> set[int]:
    """Those of ``run_ids`` that exist and belong to ``study`` (a run id a study or comparison
    stored may name a deleted run; in a workspace upgraded after ids were reused, another run)."""
    found: set[int] = set()
    with workspace.session() as session:
        for start in range(0, len(run_ids), 500):
            found.update(session.scalars(select(Run.id).where(Run.id.in_(run_ids[start:start + 500]),
                                                              Run.study == study)))
    return found


def list_runs(workspace: Workspace, dataset_id: int | None = None, include_validation: bool = True) -> list[RunSummary]:
    """Runs (oldest first), after marking dead ones as failed."""
    mark_stale_runs_failed(workspace)
    query = select(Run).order_by(Run.id)
    if dataset_id is not None:
        query = query.where(Run.dataset_id == dataset_id)
    if not include_validation:
        query = query.where(Run.validation.is_(False))
    with workspace.session() as session:
        return [_summary(run) for run in session.scalars(query)]


def _set(workspace: Workspace, run_id: int, **values: Any) -> None:
    with workspace.session() as session:
        result = cast(CursorResult, session.execute(update(Run).where(Run.id == run_id).values(**values)))
        if result.rowcount == 0:
            raise NotFoundError(f"no run {run_id} in the workspace")


def start_run(workspace: Workspace, run_id: int, device: str) -> None:
    now = now_utc()
    _set(workspace, run_id, status="running", device=device, started_at=now, heartbeat_at=now, error=None)


def heartbeat(workspace: Workspace, run_id: int) -> None:
    _set(workspace, run_id, heartbeat_at=now_utc())


def finish_run(workspace: Workspace, run_id: int, checkpoint_name: str | None = None,
               checkpoint_digest: str | None = None) -> None:
    """Mark the run finished with its checkpoint (file name in the workspace's folder, sha256)."""
    _set(workspace, run_id, status="finished", finished_at=now_utc(), checkpoint_path=checkpoint_name,
         checkpoint_digest=checkpoint_digest)


def fail_run(workspace: Workspace, run_id: int, error: str) -> None:
    _set(workspace, run_id, status="failed", finished_at=now_utc(), error=error)


def cancel_run(workspace: Workspace, run_id: int) -> None:
    _set(workspace, run_id, status="cancelled", finished_at=now_utc(), error="cancelled by the user")


def mark_stale_runs_failed(workspace: Workspace, stale_after_s: float = STALE_AFTER_S) -> int:
    """Running runs without a heartbeat for ``stale_after_s`` seconds are marked failed; returns how many."""
    cutoff = now_utc() - timedelta(seconds=stale_after_s)
    stale = (Run.status == "running") & (Run.heartbeat_at < cutoff)
    with workspace.session() as session:  # read first: a listing takes no write lock unless needed
        if session.scalar(select(Run.id).where(stale).limit(1)) is None:
            return 0
    with workspace.session() as session:
        result = cast(CursorResult, session.execute(
            update(Run).where(Run.status == "running", Run.heartbeat_at < cutoff).values(
                status="failed", finished_at=now_utc(),
                error=f"the run's process stopped without reporting (no heartbeat for over {stale_after_s:.0f} s)")))
        return int(result.rowcount or 0)


def record_metric(workspace: Workspace, run_id: int, key: str, step: int, value: float) -> None:
    """Store one metric value (replacing an earlier one at the same step); non-finite values kept."""
    special = None if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    with workspace.session() as session:
        session.execute(delete(RunMetric).where(RunMetric.run_id == run_id, RunMetric.key == key,
                                                RunMetric.step == step))
        session.add(RunMetric(run_id=run_id, key=key, step=step, value=value if special is None else None,
                              special=special))


def metric_series(workspace: Workspace, run_id: int, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of one metric of a run, in step order; non-finite values restored."""
    with workspace.session() as session:
        rows = session.execute(select(RunMetric.step, RunMetric.value, RunMetric.special).where(
            RunMetric.run_id == run_id, RunMetric.key == key).order_by(RunMetric.step)).all()
    restore = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
    steps = np.array([row.step for row in rows], dtype=np.int64)
    values = np.array([restore[row.special] if row.special else row.value for row in rows], dtype=np.float64)
    return steps, values


def rename_run(workspace: Workspace, run_id: int, name: str | None) -> None:
    """Give the run a name of the user's (shown instead of its generated label); empty or None
    brings the generated label back."""
    _set(workspace, run_id, name=checked_name(name) if name and name.strip() else None)


def set_run_note(workspace: Workspace, run_id: int, note: str | None) -> None:
    """Store the user's note on the run (empty or None removes it)."""
    _set(workspace, run_id, note=(note or "").strip() or None)


#: Runs in these states may be queued again with their configuration.
RETRYABLE = ("failed", "cancelled")


def requeue_run(workspace: Workspace, run_id: int) -> None:
    """Queue a failed or cancelled run again with its configuration: what its attempt recorded
    (status, error, times, per-epoch metrics, evaluations) is cleared."""
    run = get_run(workspace, run_id)
    if run.status not in RETRYABLE:
        raise InputError(f"run {run_id} is {run.status}; only a failed or cancelled run can be queued again")
    with deleting(workspace) as connection:
        delete_run_results(connection, [run_id])
        connection.execute(update(Run).where(Run.id == run_id).values(
            status="queued", error=None, device=None, started_at=None, finished_at=None, heartbeat_at=None,
            checkpoint_path=None, checkpoint_digest=None))


def delete_runs(workspace: Workspace, run_ids: list[int]) -> list[RunSummary]:
    """Delete runs with their metrics, evaluations and stored ranks (not their checkpoint files:
    see :func:`engine.workbench.managing.delete_runs`); refuses a running run. Returns the runs
    deleted as they were."""
    runs = [get_run(workspace, run_id) for run_id in dict.fromkeys(run_ids)]
    refuse_running(runs)
    with deleting(workspace) as connection:
        delete_cascading(connection, "runs", [run.id for run in runs])
    return runs


def refuse_running(runs: list[RunSummary]) -> None:
    """InputError when one of ``runs`` is being trained (a process is writing its records)."""
    running = [run.id for run in runs if run.status == "running"]
    if running:
        listed = ", ".join(f"#{run_id}" for run_id in running)
        raise InputError(f"run{'s' if len(running) > 1 else ''} {listed} {'are' if len(running) > 1 else 'is'} "
                         "training; cancel before deleting")


def metric_tables(workspace: Workspace, run_ids: list[int]) -> dict[int, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Every metric the runs recorded: per run, per key, (steps, values) in step order."""
    restore = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
    found: dict[int, dict[str, tuple[list[int], list[float]]]] = {}
    with workspace.session() as session:
        for start in range(0, len(run_ids), 500):
            rows = session.execute(select(RunMetric.run_id, RunMetric.key, RunMetric.step, RunMetric.value,
                                          RunMetric.special).where(RunMetric.run_id.in_(run_ids[start:start + 500]))
                                   .order_by(RunMetric.run_id, RunMetric.key, RunMetric.step)).all()
            for row in rows:
                steps, values = found.setdefault(row.run_id, {}).setdefault(row.key, ([], []))
                steps.append(row.step)
                values.append(restore[row.special] if row.special else row.value)
    return {run_id: {key: (np.array(steps, dtype=np.int64), np.array(values, dtype=np.float64))
                     for key, (steps, values) in series.items()} for run_id, series in found.items()}
