"""Exploring how a stored log is cut into sessions before preparing it: its raw events with the
histogram of users' idle gaps, the live figures of a setting, and preparing a dataset with it.
Each function opens its own workspace (they run in background workers or child processes)."""
from __future__ import annotations

from dataclasses import dataclass

from engine.data.preparation import PrepareSettings
from engine.data.raw_log import RawLog
from engine.data.session_figures import GapHistogram, SessionFigures, gap_histogram, session_figures
from engine.progress import CancelToken, ProgressCallback
from engine.storage.catalog import load_raw_log
from engine.storage.workspace import Workspace
from engine.workbench.importing import ImportOutcome, prepare_dataset

__all__ = ["GapHistogram", "LoadedLog", "SessionFigures", "load_log", "prepare_log", "session_figures"]


@dataclass(frozen=True)
class LoadedLog:
    """A stored log's raw events with the histogram of its inter-event gaps."""

    raw: RawLog
    histogram: GapHistogram


def load_log(url: str, log_id: int, progress: ProgressCallback, cancel: CancelToken) -> LoadedLog:
    progress(0.0, "reading the stored events")
    with Workspace(url) as workspace:
        raw = load_raw_log(workspace, log_id)
    cancel.raise_if_cancelled()
    progress(0.9, "histogram of the gaps")
    return LoadedLog(raw, gap_histogram(raw))


def prepare_log(url: str, log_id: int, settings: PrepareSettings, name: str | None, progress: ProgressCallback,
                cancel: CancelToken) -> ImportOutcome:
    """Prepare the stored log under ``settings`` as a new dataset (or find the one that exists)."""
    with Workspace(url) as workspace:
        return prepare_dataset(workspace, log_id, settings, name, progress, cancel)
