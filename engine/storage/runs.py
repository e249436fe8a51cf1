"""The store of run records: each run's row (configuration, status, times, checkpoint), its
long-format metric series (MLflow style: run, key, step, value) and what it recorded. Every
function takes the workspace and returns plain frozen records or arrays, never ORM rows; the
rules of a run's life (when it is stale, which runs may be queued again) are the runs layer's
(:mod:`engine.runs.records`)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import numpy as np
from sqlalchemy import CursorResult, delete, select, update

from engine.errors import NotFoundError
from engine.storage import catalog
from engine.storage.catalog import delete_cascading, delete_run_results, deleting
from engine.storage.schema import Run, RunMetric
from engine.storage.workspace import Workspace, update_if_any

#: The series every network records per epoch (step = epoch, from 1): its training loss and the
#: epoch's wall seconds.
TRAIN_LOSS = "train_loss"
EPOCH_SECONDS = "epoch_seconds"
#: A network's training throughput (step 0: a run's totals), in (input, target) pairs per second.
TRAIN_PAIRS_PER_SECOND = "train_pairs_per_second"
#: The prefix of a study trial's per-epoch validation score (``valid_recall@5``).
VALIDATION_PREFIX = "valid_"

_IN_CHUNK = 500  # ids bound in one IN (...): below every driver's limit
_RESTORE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def validation_key(metric: str) -> str:
    """The series of a trial's per-epoch validation score: ``valid_recall@5``."""
    return f"{VALIDATION_PREFIX}{metric}"


@dataclass(frozen=True)
class RunSummary:
    """A stored run."""

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


def add_run(workspace: Workspace, dataset_id: int, model: str, config: dict[str, Any], seed: int, preset: str | None,
            validation: bool, study: str | None, code_version: str, created_at: datetime) -> int:
    """Store a new queued run; returns its id."""
    with workspace.session() as session:
        run = Run(dataset_id=dataset_id, model=model, preset=preset, config=config, seed=seed, validation=validation,
                  study=study, code_version=code_version, status="queued", created_at=created_at)
        session.add(run)
        session.flush()
        return run.id


def get_run(workspace: Workspace, run_id: int) -> RunSummary:
    """The run ``run_id``; NotFoundError when there is none."""
    with workspace.session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id} in the workspace")
        return _summary(run)


def find_runs(workspace: Workspace, dataset_id: int | None = None, include_validation: bool = True) -> list[RunSummary]:
    """The runs (of one dataset; without those trained on the validation split), oldest first."""
    query = select(Run).order_by(Run.id)
    if dataset_id is not None:
        query = query.where(Run.dataset_id == dataset_id)
    if not include_validation:
        query = query.where(Run.validation.is_(False))
    with workspace.session() as session:
        return [_summary(run) for run in session.scalars(query)]


def run_studies(workspace: Workspace, run_ids: list[int]) -> dict[int, str | None]:
    """The study of each of ``run_ids`` that exists (None: a run of no study)."""
    found: dict[int, str | None] = {}
    with workspace.session() as session:
        for start in range(0, len(run_ids), _IN_CHUNK):
            rows = session.execute(select(Run.id, Run.study).where(Run.id.in_(run_ids[start:start + _IN_CHUNK])))
            found.update((int(run_id), study) for run_id, study in rows)
    return found


def update_run(workspace: Workspace, run_id: int, **values: Any) -> None:
    """Change stored fields of a run (e.g. ``status="finished"``); NotFoundError when there is none."""
    with workspace.session() as session:
        result = cast(CursorResult, session.execute(update(Run).where(Run.id == run_id).values(**values)))
        if result.rowcount == 0:
            raise NotFoundError(f"no run {run_id} in the workspace")


def fail_silent_runs(workspace: Workspace, silent_since: datetime, error: str, finished_at: datetime) -> int:
    """Mark failed (with ``error``) the running runs whose last heartbeat is older than
    ``silent_since``; returns how many. Looks first without a write lock."""
    silent = (Run.status == "running") & (Run.heartbeat_at < silent_since)
    return update_if_any(workspace, Run, silent, {"status": "failed", "finished_at": finished_at, "error": error})


def runs_to_relocate(workspace: Workspace) -> list[tuple[int, dict[str, Any], str]]:
    """(id, configuration, stored checkpoint path) of the runs whose checkpoint has no digest yet
    (stored before migration 0007)."""
    with workspace.session() as session:
        rows = session.execute(select(Run.id, Run.config, Run.checkpoint_path).where(
            Run.checkpoint_path.is_not(None), Run.checkpoint_digest.is_(None))).all()
    return [(int(run_id), dict(config), str(path)) for run_id, config, path in rows]


def reset_run(workspace: Workspace, run_id: int) -> None:
    """Delete what a run recorded (per-epoch metrics, evaluations with their ranks) and queue it
    again with its configuration, in one transaction."""
    with deleting(workspace) as connection:
        delete_run_results(connection, [run_id])
        connection.execute(update(Run).where(Run.id == run_id).values(
            status="queued", error=None, device=None, started_at=None, finished_at=None, heartbeat_at=None,
            checkpoint_path=None, checkpoint_digest=None))


def delete_runs(workspace: Workspace, run_ids: list[int]) -> None:
    """Delete runs with their metrics, evaluations and stored ranks, in one transaction."""
    with deleting(workspace) as connection:
        delete_cascading(connection, "runs", run_ids)


def count_run_results(workspace: Workspace, run_ids: list[int]) -> tuple[int, int]:
    """(evaluations, stored ranks) of the runs."""
    with workspace.session() as session:
        return catalog.count_run_results(session, run_ids)


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
    steps = np.array([row.step for row in rows], dtype=np.int64)
    values = np.array([_RESTORE[row.special] if row.special else row.value for row in rows], dtype=np.float64)
    return steps, values


def metric_keys(workspace: Workspace, run_id: int) -> list[str]:
    """The keys of the series a run recorded."""
    with workspace.session() as session:
        return list(session.scalars(select(RunMetric.key).where(RunMetric.run_id == run_id).distinct()).all())


def metric_tables(workspace: Workspace, run_ids: list[int]) -> dict[int, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Every metric the runs recorded: per run, per key, (steps, values) in step order."""
    found: dict[int, dict[str, tuple[list[int], list[float]]]] = {}
    with workspace.session() as session:
        for start in range(0, len(run_ids), _IN_CHUNK):
            rows = session.execute(select(RunMetric.run_id, RunMetric.key, RunMetric.step, RunMetric.value,
                                          RunMetric.special)
                                   .where(RunMetric.run_id.in_(run_ids[start:start + _IN_CHUNK]))
                                   .order_by(RunMetric.run_id, RunMetric.key, RunMetric.step)).all()
            for row in rows:
                steps, values = found.setdefault(row.run_id, {}).setdefault(row.key, ([], []))
                steps.append(row.step)
                values.append(_RESTORE[row.special] if row.special else row.value)
    return {run_id: {key: (np.array(steps, dtype=np.int64), np.array(values, dtype=np.float64))
                     for key, (steps, values) in series.items()} for run_id, series in found.items()}
