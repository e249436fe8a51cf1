"""Engine work the window runs in child processes (see app.process_runner): module-level
functions of picklable arguments, each opening its own workspace. No Qt here."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.session_figures import GapHistogram, gap_histogram
from engine.data.demo import ensure_demo_dataset
from engine.data.importing import ImportOutcome, ImportRequest, import_log, prepare_dataset
from engine.data.preparation import PrepareSettings
from engine.data.raw_log import RawLog
from engine.progress import CancelToken, ProgressCallback
from engine.storage.catalog import load_raw_log
from engine.storage.workspace import Workspace


@dataclass(frozen=True)
class LoadedLog:
    """A stored log's raw events with the histogram of its inter-event gaps."""

    raw: RawLog
    histogram: GapHistogram


def import_file(url: str, request: ImportRequest, progress: ProgressCallback, cancel: CancelToken) -> ImportOutcome:
    with Workspace(url) as workspace:
        return import_log(workspace, request, progress, cancel)


def create_demo_dataset(url: str, folder: Path, progress: ProgressCallback, cancel: CancelToken) -> ImportOutcome:
    with Workspace(url) as workspace:
        return ensure_demo_dataset(workspace, folder, progress, cancel)


def prepare_log(url: str, log_id: int, settings: PrepareSettings, name: str | None, progress: ProgressCallback,
                cancel: CancelToken) -> ImportOutcome:
    with Workspace(url) as workspace:
        return prepare_dataset(workspace, log_id, settings, name, progress, cancel)


def load_log(url: str, log_id: int, progress: ProgressCallback, cancel: CancelToken) -> LoadedLog:
    progress(0.0, "reading the stored events")
    with Workspace(url) as workspace:
        raw = load_raw_log(workspace, log_id)
    cancel.raise_if_cancelled()
    progress(0.9, "histogram of the gaps")
    return LoadedLog(raw, gap_histogram(raw))
