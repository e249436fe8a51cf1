"""The store of fair comparisons (``compare``): each one's row with its progress, heartbeat and
verdict, as plain records. What a comparison's studies and runs are named, and when a silent one
is taken for interrupted, is the tuning layer's (:mod:`engine.tuning.comparisons`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, select, update

from engine.errors import NotFoundError
from engine.storage.schema import Comparison
from engine.storage.workspace import Workspace, update_if_any


@dataclass(frozen=True)
class ComparisonRecord:
    """A stored comparison. ``budget``: {"trials": N} or {"seconds": T} per model, with
    "workers", "seeds", "validation_users"; ``best_runs``: per model name, {"trial_run": the best
    trial's run or None, "runs": the test runs, "config": what they trained with, "study": the
    study or None, "note": why it was not tuned, "tuned": whether its tuning is done};
    ``deleted_runs``: the runs it names that were deleted since (filled in by
    :mod:`engine.tuning.comparisons`, which knows what it names)."""

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


def _record(row: Comparison) -> ComparisonRecord:
    return ComparisonRecord(row.id, row.dataset_id, row.status, row.created_at, row.finished_at, list(row.models),
                            row.metric, dict(row.budget), row.seconds, row.verdict, dict(row.best_runs), row.error,
                            (), row.heartbeat_at, row.request_key)


def add_comparison(workspace: Workspace, dataset_id: int, models: list[str], metric: str, budget: dict[str, Any],
                   key: str | None, now: datetime) -> int:
    """Store a new running comparison; returns its id."""
    with workspace.session() as session:
        row = Comparison(dataset_id=dataset_id, status="running", created_at=now, models=models, metric=metric,
                         budget=budget, best_runs={}, heartbeat_at=now, request_key=key)
        session.add(row)
        session.flush()
        return row.id


def reopen_comparison(workspace: Workspace, comparison_id: int, statuses: tuple[str, ...], budget: dict[str, Any],
                      now: datetime) -> bool:
    """Mark the comparison running again (with ``budget``) if its status is one of ``statuses``;
    False when it was not (another process reopened it first)."""
    with workspace.session() as session:
        result = cast(CursorResult, session.execute(
            update(Comparison).where(Comparison.id == comparison_id, Comparison.status.in_(statuses)).values(
                status="running", heartbeat_at=now, finished_at=None, error=None, budget=budget)))
        return bool(result.rowcount)


def update_comparison(workspace: Workspace, comparison_id: int, **values: Any) -> None:
    """Change stored fields of a comparison (its progress, its end, its heartbeat)."""
    with workspace.session() as session:
        session.execute(update(Comparison).where(Comparison.id == comparison_id).values(**values))


def interrupt_silent_comparisons(workspace: Workspace, silent_since: datetime, error: str, now: datetime) -> int:
    """Mark interrupted (with ``error``) the running comparisons whose last heartbeat (or, without
    one, their creation) is older than ``silent_since``; returns how many. Looks first without a
    write lock."""
    silent = (Comparison.status == "running") & (
        (Comparison.heartbeat_at < silent_since)
        | (Comparison.heartbeat_at.is_(None) & (Comparison.created_at < silent_since)))
    return update_if_any(workspace, Comparison, silent, {"status": "interrupted", "finished_at": now, "error": error})


def get_comparison(workspace: Workspace, comparison_id: int) -> ComparisonRecord:
    """The comparison ``comparison_id``; NotFoundError when there is none."""
    with workspace.session() as session:
        row = session.get(Comparison, comparison_id)
        if row is None:
            raise NotFoundError(f"no comparison {comparison_id} in the workspace")
        return _record(row)


def find_comparisons(workspace: Workspace, dataset_id: int | None = None, key: str | None = None,
                     statuses: tuple[str, ...] | None = None) -> list[ComparisonRecord]:
    """The comparisons (of one dataset, of one request, in these states), newest first."""
    query = select(Comparison).order_by(Comparison.id.desc())
    conditions: list[ColumnElement[bool]] = []
    if dataset_id is not None:
        conditions.append(Comparison.dataset_id == dataset_id)
    if key is not None:
        conditions.append(Comparison.request_key == key)
    if statuses is not None:
        conditions.append(Comparison.status.in_(statuses))
    with workspace.session() as session:
        return [_record(row) for row in session.scalars(query.where(*conditions))]
