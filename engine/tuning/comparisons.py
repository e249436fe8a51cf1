"""The stored record of each fair comparison (``compare``): created when it starts, finished with
its verdict, or marked failed or cancelled."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from engine.errors import NotFoundError
from engine.storage.catalog import now_utc
from engine.storage.schema import Comparison
from engine.storage.workspace import Workspace


@dataclass(frozen=True)
class ComparisonRecord:
    """A stored comparison. ``budget``: {"trials": N} or {"seconds": T} per model, with
    "workers", "seeds", "validation_users"; ``best_runs``: per model name, {"trial_run": the best
    trial's run or None, "runs": the test runs, "config": what they trained with, "study": the
    study or None, "note": why it was not tuned}."""

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


def _record(row: Comparison) -> ComparisonRecord:
    return ComparisonRecord(row.id, row.dataset_id, row.status, row.created_at, row.finished_at, list(row.models),
                            row.metric, dict(row.budget), row.seconds, row.verdict, dict(row.best_runs), row.error)


def create_comparison(workspace: Workspace, dataset_id: int, models: list[str], metric: str,
                      budget: dict[str, Any]) -> int:
    """A new running comparison; returns its id (its studies and runs are named after it)."""
    with workspace.session() as session:
        row = Comparison(dataset_id=dataset_id, status="running", created_at=now_utc(), models=models, metric=metric,
                         budget=budget, best_runs={})
        session.add(row)
        session.flush()
        return row.id


def end_comparison(workspace: Workspace, comparison_id: int, status: str, seconds: float,
                   best_runs: dict[str, Any], verdict: str | None = None, error: str | None = None) -> None:
    """Record how a comparison ended: finished with its verdict, or failed / cancelled."""
    with workspace.session() as session:
        session.execute(update(Comparison).where(Comparison.id == comparison_id).values(
            status=status, finished_at=now_utc(), seconds=seconds, best_runs=best_runs, verdict=verdict, error=error))


def get_comparison(workspace: Workspace, comparison_id: int) -> ComparisonRecord:
    with workspace.session() as session:
        row = session.get(Comparison, comparison_id)
        if row is None:
            raise NotFoundError(f"no comparison {comparison_id} in the workspace")
        return _record(row)


def list_comparisons(workspace: Workspace, dataset_id: int | None = None) -> list[ComparisonRecord]:
    """Comparisons (of one dataset), newest first."""
    query = select(Comparison).order_by(Comparison.id.desc())
    if dataset_id is not None:
        query = query.where(Comparison.dataset_id == dataset_id)
    with workspace.session() as session:
        return [_record(row) for row in session.scalars(query)]
