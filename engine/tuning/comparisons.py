"""The stored record of each fair comparison (``compare``): created when it starts, its progress
stored as each model is tuned and its final runs planned, finished with its verdict, or marked
failed, cancelled or interrupted (its process died: no heartbeat). A cancelled, interrupted or
failed comparison resumes when the same comparison is run again (:func:`find_resumable`)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from engine.errors import NotFoundError
from engine.heartbeat import Heartbeat
from engine.storage.catalog import now_utc
from engine.storage.schema import Comparison, Run
from engine.storage.workspace import Workspace
from engine.tuning.storage import GRACE_PERIOD_S, HEARTBEAT_INTERVAL_S

#: The study of a comparison's final runs, and the prefix of its tuning studies.
STUDY_PREFIX = "compare-"
#: Seconds without a heartbeat after which a running comparison is taken for interrupted: longer
#: than a trial's grace period, so that its trial is then taken for dead too.
STALE_AFTER_S = GRACE_PERIOD_S + 2 * HEARTBEAT_INTERVAL_S
#: A comparison in these states resumes when run again.
RESUMABLE = ("cancelled", "interrupted", "failed")


def final_runs_study(comparison_id: int) -> str:
    """The ``study`` of a comparison's final (test) runs: ``compare-3``."""
    return f"{STUDY_PREFIX}{comparison_id}"


def model_study(comparison_id: int, model: str) -> str:
    """The study that tunes ``model`` in a comparison: ``compare-3-rnn``."""
    return f"{STUDY_PREFIX}{comparison_id}-{model}"


@dataclass(frozen=True)
class ComparisonRecord:
    """A stored comparison. ``budget``: {"trials": N} or {"seconds": T} per model, with
    "workers", "seeds", "validation_users"; ``best_runs``: per model name, {"trial_run": the best
    trial's run or None, "runs": the test runs, "config": what they trained with, "study": the
    study or None, "note": why it was not tuned, "tuned": whether its tuning is done};
    ``deleted_runs``: the runs it names that were deleted since."""

    id: int
    dataset_id: int
    status: str
    created_at: datetime
    finished_at: datetime | None
    models: list[str]
    metric: str
    budget: dict[str, Any]
    seconds: float | None
    verdict: str | None
    best_runs: dict[str, Any]
    error: str | None
    deleted_runs: tuple[int, ...] = ()
    heartbeat_at: datetime | None = None
    request_key: str | None = None  # the request as canonical JSON (None: stored before 0012)


def _named_runs(row: Comparison) -> dict[int, str]:
    """The runs a comparison names, with the study each must belong to."""
    named: dict[int, str] = {}
    for model, entry in dict(row.best_runs).items():
        if isinstance(entry, dict):
            if entry.get("trial_run") is not None:
                named[int(entry["trial_run"])] = model_study(row.id, model)
            for run_id in entry.get("runs") or ():
                named[int(run_id)] = final_runs_study(row.id)
    return named


def _records(session: Any, rows: list[Comparison]) -> list[ComparisonRecord]:
    named = {row.id: _named_runs(row) for row in rows}
    ids = sorted({run_id for runs in named.values() for run_id in runs})
    owners: dict[int, str | None] = {}
    for start in range(0, len(ids), 500):
        found = session.execute(select(Run.id, Run.study).where(Run.id.in_(ids[start:start + 500])))
        owners.update((int(run_id), study) for run_id, study in found)
    return [ComparisonRecord(row.id, row.dataset_id, row.status, row.created_at, row.finished_at, list(row.models),
                             row.metric, dict(row.budget), row.seconds, row.verdict, dict(row.best_runs), row.error,
                             tuple(sorted(run_id for run_id, study in named[row.id].items()
                                          if owners.get(run_id, None) != study)), row.heartbeat_at,
                             row.request_key)
            for row in rows]


def request_key(fields: dict[str, Any]) -> str:
    """What makes two comparisons the same one, as canonical JSON."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)


def create_comparison(workspace: Workspace, dataset_id: int, models: list[str], metric: str,
                      budget: dict[str, Any], key: str | None = None) -> int:
    """A new running comparison; returns its id (its studies and runs are named after it)."""
    with workspace.session() as session:
        now = now_utc()
        row = Comparison(dataset_id=dataset_id, status="running", created_at=now, models=models, metric=metric,
                         budget=budget, best_runs={}, heartbeat_at=now, request_key=key)
        session.add(row)
        session.flush()
        return row.id


def resume_comparison(workspace: Workspace, comparison_id: int, budget: dict[str, Any]) -> bool:
    """Mark a cancelled, interrupted or failed comparison running again (with this run's budget,
    e.g. its workers); False when another process resumed it first."""
    with workspace.session() as session:
        result = cast(CursorResult, session.execute(
            update(Comparison).where(Comparison.id == comparison_id, Comparison.status.in_(RESUMABLE)).values(
                status="running", heartbeat_at=now_utc(), finished_at=None, error=None, budget=budget)))
        return bool(result.rowcount)


def save_progress(workspace: Workspace, comparison_id: int, best_runs: dict[str, Any]) -> None:
    """Store what the comparison has done so far (a model tuned, its final runs planned)."""
    with workspace.session() as session:
        session.execute(update(Comparison).where(Comparison.id == comparison_id).values(best_runs=best_runs))


def end_comparison(workspace: Workspace, comparison_id: int, status: str, seconds: float,
                   best_runs: dict[str, Any], verdict: str | None = None, error: str | None = None) -> None:
    """Record how a comparison ended: finished with its verdict, or failed / cancelled."""
    with workspace.session() as session:
        session.execute(update(Comparison).where(Comparison.id == comparison_id).values(
            status=status, finished_at=now_utc(), seconds=seconds, best_runs=best_runs, verdict=verdict, error=error))


def mark_stale_comparisons(workspace: Workspace, stale_after_s: float = STALE_AFTER_S) -> int:
    """Running comparisons without a heartbeat for ``stale_after_s`` seconds (their process died)
    are marked interrupted; returns how many."""
    cutoff = now_utc() - timedelta(seconds=stale_after_s)
    stale = (Comparison.status == "running") & (
        (Comparison.heartbeat_at < cutoff) | (Comparison.heartbeat_at.is_(None) & (Comparison.created_at < cutoff)))
    with workspace.session() as session:  # read first: a listing takes no write lock unless needed
        if session.scalar(select(Comparison.id).where(stale).limit(1)) is None:
            return 0
    with workspace.session() as session:
        result = cast(CursorResult, session.execute(update(Comparison).where(stale).values(
            status="interrupted", finished_at=now_utc(),
            error=f"its process stopped without reporting (no heartbeat for over {stale_after_s:.0f} s)")))
        return int(result.rowcount or 0)


def get_comparison(workspace: Workspace, comparison_id: int) -> ComparisonRecord:
    with workspace.session() as session:
        row = session.get(Comparison, comparison_id)
        if row is None:
            raise NotFoundError(f"no comparison {comparison_id} in the workspace")
        return _records(session, [row])[0]


def list_comparisons(workspace: Workspace, dataset_id: int | None = None) -> list[ComparisonRecord]:
    """Comparisons (of one dataset), newest first, after marking those whose process died."""
    if not workspace.read_only:
        mark_stale_comparisons(workspace)
    query = select(Comparison).order_by(Comparison.id.desc())
    if dataset_id is not None:
        query = query.where(Comparison.dataset_id == dataset_id)
    with workspace.session() as session:
        return _records(session, list(session.scalars(query)))


def find_resumable(workspace: Workspace, dataset_id: int, key: str) -> ComparisonRecord | None:
    """The newest comparison of the same request that is not finished (running, or one to resume)."""
    mark_stale_comparisons(workspace)
    with workspace.session() as session:
        row = session.scalar(select(Comparison).where(
            Comparison.dataset_id == dataset_id, Comparison.request_key == key,
            Comparison.status.in_(("running", *RESUMABLE))).order_by(Comparison.id.desc()).limit(1))
        return None if row is None else _records(session, [row])[0]


def running_comparisons(workspace: Workspace, dataset_id: int) -> list[int]:
    """The comparisons of a dataset whose process is alive (a heartbeat within the timeout)."""
    if not workspace.read_only:
        mark_stale_comparisons(workspace)
    with workspace.session() as session:
        return list(session.scalars(select(Comparison.id).where(Comparison.dataset_id == dataset_id,
                                                                Comparison.status == "running")))


def comparison_heartbeat(workspace: Workspace, comparison_id: int, started: float) -> Heartbeat:
    """A heartbeat that records a comparison's heartbeat, and the wall seconds it has taken since
    ``started`` (``time.perf_counter()``), every :data:`HEARTBEAT_INTERVAL_S` s while it works: a
    comparison whose process dies keeps the seconds it took."""
    def beat() -> None:
        with workspace.session() as session:
            session.execute(update(Comparison).where(Comparison.id == comparison_id).values(
                heartbeat_at=now_utc(), seconds=time.perf_counter() - started))

    return Heartbeat(beat, HEARTBEAT_INTERVAL_S, f"comparison {comparison_id}")
