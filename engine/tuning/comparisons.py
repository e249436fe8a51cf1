"""The stored record of each fair comparison (``compare``): created when it starts, its progress
stored as each model is tuned and its final runs planned, finished with its verdict, or marked
failed, cancelled or interrupted (its process died: no heartbeat). A cancelled, interrupted or
failed comparison resumes when the same comparison is run again (:func:`find_resumable`)."""
from __future__ import annotations

import dataclasses
import json
import time
from datetime import timedelta
from typing import Any

from engine.heartbeat import Heartbeat
from engine.storage import comparisons as store
from engine.storage import runs as run_store
from engine.storage.catalog import now_utc
from engine.storage.comparisons import ComparisonRecord
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


def _named_runs(record: ComparisonRecord) -> dict[int, str]:
    """The runs a comparison names, with the study each must belong to."""
    named: dict[int, str] = {}
    for model, entry in record.best_runs.items():
        if isinstance(entry, dict):
            if entry.get("trial_run") is not None:
                named[int(entry["trial_run"])] = model_study(record.id, model)
            for run_id in entry.get("runs") or ():
                named[int(run_id)] = final_runs_study(record.id)
    return named


def _with_deleted_runs(workspace: Workspace, records: list[ComparisonRecord]) -> list[ComparisonRecord]:
    """The records with the runs they name that were deleted since (or belong to another study)."""
    named = {record.id: _named_runs(record) for record in records}
    owners = run_store.run_studies(workspace, sorted({run_id for runs in named.values() for run_id in runs}))
    return [dataclasses.replace(record, deleted_runs=tuple(sorted(
        run_id for run_id, study in named[record.id].items() if owners.get(run_id, None) != study)))
        for record in records]


def request_key(fields: dict[str, Any]) -> str:
    """What makes two comparisons the same one, as canonical JSON."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)


def create_comparison(workspace: Workspace, dataset_id: int, models: list[str], metric: str,
                      budget: dict[str, Any], key: str | None = None) -> int:
    """A new running comparison; returns its id (its studies and runs are named after it)."""
    return store.add_comparison(workspace, dataset_id, models, metric, budget, key, now_utc())


def resume_comparison(workspace: Workspace, comparison_id: int, budget: dict[str, Any]) -> bool:
    """Mark a cancelled, interrupted or failed comparison running again (with this run's budget,
    e.g. its workers); False when another process resumed it first."""
    return store.reopen_comparison(workspace, comparison_id, RESUMABLE, budget, now_utc())


def save_progress(workspace: Workspace, comparison_id: int, best_runs: dict[str, Any]) -> None:
    """Store what the comparison has done so far (a model tuned, its final runs planned)."""
    store.update_comparison(workspace, comparison_id, best_runs=best_runs)


def end_comparison(workspace: Workspace, comparison_id: int, status: str, seconds: float,
                   best_runs: dict[str, Any], verdict: str | None = None, error: str | None = None) -> None:
    """Record how a comparison ended: finished with its verdict, or failed / cancelled."""
    store.update_comparison(workspace, comparison_id, status=status, finished_at=now_utc(), seconds=seconds,
                            best_runs=best_runs, verdict=verdict, error=error)


def mark_stale_comparisons(workspace: Workspace, stale_after_s: float = STALE_AFTER_S) -> int:
    """Running comparisons without a heartbeat for ``stale_after_s`` seconds (their process died)
    are marked interrupted; returns how many."""
    now = now_utc()
    return store.interrupt_silent_comparisons(
        workspace, now - timedelta(seconds=stale_after_s),
        f"its process stopped without reporting (no heartbeat for over {stale_after_s:.0f} s)", now)


def get_comparison(workspace: Workspace, comparison_id: int) -> ComparisonRecord:
    return _with_deleted_runs(workspace, [store.get_comparison(workspace, comparison_id)])[0]


def list_comparisons(workspace: Workspace, dataset_id: int | None = None) -> list[ComparisonRecord]:
    """Comparisons (of one dataset), newest first, after marking those whose process died."""
    if not workspace.read_only:
        mark_stale_comparisons(workspace)
    return _with_deleted_runs(workspace, store.find_comparisons(workspace, dataset_id))


def find_resumable(workspace: Workspace, dataset_id: int, key: str) -> ComparisonRecord | None:
    """The newest comparison of the same request that is not finished (running, or one to resume)."""
    mark_stale_comparisons(workspace)
    found = store.find_comparisons(workspace, dataset_id, key, ("running", *RESUMABLE))
    return _with_deleted_runs(workspace, found[:1])[0] if found else None


def running_comparisons(workspace: Workspace, dataset_id: int) -> list[int]:
    """The comparisons of a dataset whose process is alive (a heartbeat within the timeout), oldest first."""
    if not workspace.read_only:
        mark_stale_comparisons(workspace)
    return [record.id for record in reversed(store.find_comparisons(workspace, dataset_id, statuses=("running",)))]


def comparison_heartbeat(workspace: Workspace, comparison_id: int, started: float) -> Heartbeat:
    """A heartbeat that records a comparison's heartbeat, and the wall seconds it has taken since
    ``started`` (``time.perf_counter()``), every :data:`HEARTBEAT_INTERVAL_S` s while it works: a
    comparison whose process dies keeps the seconds it took."""
    def beat() -> None:
        store.update_comparison(workspace, comparison_id, heartbeat_at=now_utc(),
                                seconds=time.perf_counter() - started)

    return Heartbeat(beat, HEARTBEAT_INTERVAL_S, f"comparison {comparison_id}")
