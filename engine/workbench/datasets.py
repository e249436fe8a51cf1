"""The workspace's datasets as the shells show them: the list (with their runs, for the browser),
one dataset's details, its evaluation setting and attached item names. Plain data, never ORM rows."""
from __future__ import annotations

from dataclasses import dataclass

from engine.data.preparation import PrepareSettings
from engine.progress import CancelToken, ProgressCallback
from engine.runs import records
from engine.storage import catalog
from engine.storage.catalog import DatasetSummary, evaluation_candidates, list_datasets, set_evaluation_candidates
from engine.storage.item_names import attach_item_names
from engine.storage.workspace import Workspace

__all__ = ["DatasetDetails", "DatasetSummary", "WorkspaceOverview", "attach_item_names", "dataset_details",
           "evaluation_candidates", "list_datasets", "load_overview", "set_evaluation_candidates"]


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


def dataset_details(workspace: Workspace, dataset: str | int) -> DatasetDetails:
    with workspace.session() as session:
        row = catalog.find_dataset(session, dataset)
        log_row = catalog.log_row(session, row.log_id)
        return DatasetDetails(row.id, row.name, row.log_id, catalog.log_name(session, row.log_id),
                              log_row.source_path, PrepareSettings.from_json(row.settings), dict(row.statistics),
                              tuple(log_row.event_types), row.evaluation_candidates)


@dataclass(frozen=True)
class WorkspaceOverview:
    """What the workspace holds: its datasets and all their runs (oldest first)."""

    location: str
    datasets: list[DatasetSummary]
    runs: list[records.RunSummary]


def load_overview(url: str, progress: ProgressCallback, cancel: CancelToken) -> WorkspaceOverview:
    """The datasets and runs of the workspace at ``url`` (a background job's work)."""
    with Workspace(url) as workspace:
        return WorkspaceOverview(workspace.display_name, list_datasets(workspace), records.list_runs(workspace))
