"""The workspace's datasets as the shells show them: the list (with their runs, for the browser),
one dataset's details, its evaluation setting, attached item names, and the overview a shell
loads in the background whenever something changed. Plain data, never ORM rows."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.data.preparation import PrepareSettings
from engine.progress import CancelToken, ProgressCallback
from engine.runs import records
from engine.storage import catalog
from engine.storage.catalog import (
    DatasetRecord,
    DatasetSummary,
    LogSummary,
    evaluation_candidates,
    list_datasets,
    list_logs,
    set_evaluation_candidates,
)
from engine.storage.item_names import attach_item_names
from engine.storage.workspace import Workspace
from engine.workbench.training import RunFacts, run_facts

__all__ = ["TINY_EVENTS", "TINY_USERS", "DatasetDetails", "DatasetSummary", "LogSummary", "WorkspaceOverview",
           "attach_item_names", "attach_item_names_at", "dataset_details", "dataset_warnings",
           "evaluation_candidates", "list_datasets", "list_logs", "load_overview", "set_evaluation_candidates"]

#: A dataset with fewer events or users than this is too small for metrics to mean much.
TINY_EVENTS, TINY_USERS = 1_000, 20


@dataclass(frozen=True)
class DatasetDetails:
    """One dataset: where its log came from, how it was prepared, its Table 1 statistics."""

    id: int
    name: str
    log_id: int
    log_name: str  # the source file's name without extensions
    source_path: str
    settings: PrepareSettings
    statistics: dict
    event_types: tuple[str, ...]
    evaluation_candidates: int | None
    note: str | None = None  # the user's note
    created_at: datetime | None = None


def _details(dataset: DatasetRecord, log: LogSummary) -> DatasetDetails:
    return DatasetDetails(dataset.id, dataset.name, dataset.log_id, log.name.split(".")[0], log.source_path,
                          PrepareSettings.from_json(dataset.settings), dict(dataset.statistics), log.event_types,
                          dataset.evaluation_candidates, dataset.note, dataset.created_at)


def dataset_details(workspace: Workspace, dataset: str | int) -> DatasetDetails:
    found = catalog.get_dataset(workspace, dataset)
    return _details(found, catalog.get_log(workspace, found.log_id))


def dataset_warnings(statistics: dict) -> list[str]:
    """Why a dataset is too small for its metrics to mean much (empty when it is not)."""
    warnings = []
    events, users = int(statistics.get("events", 0)), int(statistics.get("users", 0))
    if events < TINY_EVENTS:
        warnings.append(f"only {events:,} events (under {TINY_EVENTS:,})")
    if users < TINY_USERS:
        warnings.append(f"only {users:,} users (under {TINY_USERS:,})")
    return [f"{'; '.join(warnings)}: too small for the metrics to mean much; loosen the filters or use a larger "
            "log"] if warnings else []


def attach_item_names_at(url: str, dataset_id: int, path: Path, progress: ProgressCallback,
                         cancel: CancelToken) -> tuple[int, int]:
    """:func:`attach_item_names` in the workspace at ``url`` (for a background worker)."""
    with Workspace(url) as workspace:
        return attach_item_names(workspace, dataset_id, path)


@dataclass(frozen=True)
class WorkspaceOverview:
    """What the workspace holds: its datasets, all their runs (oldest first) with what they
    recorded, and the stored logs no dataset was prepared from (their preparation failed)."""

    location: str
    datasets: list[DatasetDetails]
    runs: list[records.RunSummary]
    facts: dict[int, RunFacts]
    unprepared_logs: list[LogSummary]
    read_only: bool = False

    def dataset(self, dataset_id: int | None) -> DatasetDetails | None:
        return next((dataset for dataset in self.datasets if dataset.id == dataset_id), None)

    def run(self, run_id: int | None) -> records.RunSummary | None:
        return next((run for run in self.runs if run.id == run_id), None)


def load_overview(url: str, progress: ProgressCallback, cancel: CancelToken) -> WorkspaceOverview:
    """Everything the shells list about the workspace at ``url`` (a background job's work)."""
    with Workspace(url) as workspace:
        logs = {log.id: log for log in catalog.list_logs(workspace)}
        datasets = [_details(dataset, logs[dataset.log_id]) for dataset in catalog.dataset_records(workspace)]
        runs = records.list_runs(workspace)
        return WorkspaceOverview(workspace.display_name, datasets, runs, run_facts(workspace, runs),
                                 catalog.list_logs(workspace, unprepared_only=True), workspace.read_only)
