"""What the user does to the workspace's contents from the window: rename, write a note, delete
(after a confirmation that says what goes), queue failed runs again, attach item names, compact.
Every read and write runs as a background job; the window hears ``changed`` when something did."""
from __future__ import annotations

import functools
import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QWidget

from app.jobs import JobManager, JobWork
from engine.progress import CancelToken, ProgressCallback
from engine.workbench.datasets import WorkspaceOverview, attach_item_names_at
from engine.workbench.managing import (
    CompactOutcome,
    DeletionOutcome,
    DeletionPlan,
    compact_workspace,
    delete_dataset,
    delete_log,
    delete_runs,
    in_workspace,
    plan_dataset_deletion,
    plan_log_deletion,
    plan_run_deletion,
    rename_dataset,
    rename_run,
    retry_runs,
    set_dataset_note,
    set_run_note,
)
from engine.workbench.studies import delete_studies, plan_study_deletion, study_groups
from engine.workbench.training import model_label

log = logging.getLogger(__name__)

#: The property of a job that works on a dataset (tuning or comparing it): the dataset's id.
DATASET_PROPERTY = "dataset_id"

#: What deleting each kind removes, and the deletion itself: ``use_case(workspace, ids)`` (a study's
#: ids are its names).
PLANS: dict[str, Callable[..., DeletionPlan]] = {
    "dataset": lambda workspace, ids: plan_dataset_deletion(workspace, ids[0]), "run": plan_run_deletion,
    "log": lambda workspace, ids: plan_log_deletion(workspace, ids[0]), "study": plan_study_deletion}
DELETIONS: dict[str, Callable[..., DeletionOutcome]] = {
    "dataset": lambda workspace, ids: delete_dataset(workspace, ids[0]), "run": delete_runs,
    "log": lambda workspace, ids: delete_log(workspace, ids[0]), "study": delete_studies}


def deletion_question(plan: DeletionPlan) -> str:
    """The confirmation's text: what goes with the deleted thing, what stays, and that it is final."""
    parts = "".join(f"<li>{html.escape(part)}</li>" for part in plan.parts)
    kept = "".join(f"<p>{html.escape(kept[0].upper() + kept[1:])}.</p>" for kept in plan.kept)
    return (f"<p>Delete {html.escape(plan.what)}? This deletes:</p><ul>{parts}</ul>{kept}"
            "<p>This cannot be undone.</p>")


def _run_in(url: str, use_case: Callable, *args: object) -> Callable[[ProgressCallback, CancelToken], object]:
    """A job's work: ``use_case(workspace, *args)`` in the workspace at ``url``."""
    def work(progress: ProgressCallback, cancel: CancelToken) -> object:
        return in_workspace(url, use_case, *args)

    return work


class WorkspaceActions(QObject):
    """Managing the workspace's datasets, runs and stored logs from the window."""

    changed = Signal()  # something was renamed, noted, deleted or queued again
    retried = Signal(list)  # run ids queued again: to execute
    deleted_runs = Signal(list)  # run ids about to be deleted: take them off the queue
    message = Signal(str)  # for the status bar

    def __init__(self, jobs: JobManager, window: QWidget) -> None:
        super().__init__(window)
        self._jobs = jobs
        self._window = window
        self.url: str | None = None
        self.overview: WorkspaceOverview | None = None
        self._deleting: tuple[str, list] | None = None  # kind, ids (names of studies)

    def set_workspace(self, url: str | None) -> None:
        self.url, self.overview, self._deleting = url, None, None

    def set_overview(self, overview: WorkspaceOverview) -> None:
        self.overview = overview

    def _submit(self, title: str, work: JobWork, on_success: Callable[[Any], None], visible: bool = False) -> None:
        job = self._jobs.submit(title, work, visible)
        job.succeeded.connect(on_success)
        job.failed.connect(self._on_failed)

    @Slot(object)
    def _on_failed(self, error: Exception) -> None:
        self._deleting = None
        log.warning("%s", error)
        QMessageBox.warning(self._window, "Not done", str(error))
        self.changed.emit()

    # ----- names and notes -----
    def _current_name(self, kind: str, identifier: int) -> str:
        if self.overview is None:
            return ""
        if kind == "dataset":
            dataset = self.overview.dataset(identifier)
            return dataset.name if dataset is not None else ""
        run = self.overview.run(identifier)
        return model_label(run) if run is not None else ""

    def _current_note(self, kind: str, identifier: int) -> str:
        if self.overview is None:
            return ""
        found = self.overview.dataset(identifier) if kind == "dataset" else self.overview.run(identifier)
        return (found.note or "") if found is not None else ""

    @Slot(str, int)
    def rename(self, kind: str, identifier: int) -> None:
        """Ask for a new name (a run: empty brings its generated label back) and store it."""
        if self.url is None:
            return
        what = f"run #{identifier}" if kind == "run" else "the dataset"
        hint = " (leave it empty for the label made from its model and settings)" if kind == "run" else ""
        name, ok = QInputDialog.getText(self._window, f"Rename {what}", f"New name of {what}{hint}:",
                                        QLineEdit.EchoMode.Normal, self._current_name(kind, identifier))
        if not ok:
            return
        use_case = rename_dataset if kind == "dataset" else rename_run
        self._submit(f"Renaming {what}", _run_in(self.url, use_case, identifier, name), self._on_done)

    @Slot(str, int)
    def edit_note(self, kind: str, identifier: int) -> None:
        """Ask for the note of a dataset or a run (empty removes it) and store it."""
        if self.url is None:
            return
        what = f"run #{identifier}" if kind == "run" else "the dataset"
        note, ok = QInputDialog.getMultiLineText(self._window, f"Note on {what}", f"Your note on {what}:",
                                                 self._current_note(kind, identifier))
        if not ok:
            return
        use_case = set_dataset_note if kind == "dataset" else set_run_note
        self._submit(f"Writing the note on {what}", _run_in(self.url, use_case, identifier, note), self._on_done)

    @Slot(object)
    def _on_done(self, _result: object) -> None:
        self.changed.emit()

    # ----- deleting -----
    @Slot(str, list)
    def delete(self, kind: str, identifiers: list[int]) -> None:
        """Find what deleting would remove, ask, then delete in the background (a study: ``identifiers``
        are its first trial's run ids, as the browser's items carry them)."""
        if self.url is None or not identifiers or self._deleting is not None:
            return
        targets: list = list(identifiers)
        if kind == "study":
            groups = study_groups(self.overview.runs) if self.overview is not None else []
            targets = [group.name for group in groups if group.run_ids[0] in identifiers]
            if not targets:
                return
        self._deleting = (kind, targets)
        self._submit("Finding what the deletion removes", _run_in(self.url, PLANS[kind], targets), self._on_planned)

    @Slot(object)
    def _on_planned(self, plan: DeletionPlan) -> None:
        if self._deleting is None or self.url is None:
            return
        kind, identifiers = self._deleting
        if plan.refusal is not None:
            self._deleting = None
            self._refused(plan)
            return
        answer = QMessageBox.question(self._window, f"Delete {plan.what}", deletion_question(plan),
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            self._deleting = None
            return
        if kind in ("run", "dataset", "study"):
            self.deleted_runs.emit(list(plan.run_ids))
        job = self._jobs.submit(f"Deleting {plan.what}", _run_in(self.url, DELETIONS[kind], identifiers))
        job.succeeded.connect(self._on_deleted)
        job.failed.connect(self._on_failed)
        job.finished.connect(self._on_deletion_finished)

    def _refused(self, plan: DeletionPlan) -> None:
        """Say why it cannot be deleted; when a job of this window holds the dataset (tuning or
        comparing it), offer to cancel that job."""
        text = f"{plan.what[0].upper()}{plan.what[1:]} cannot be deleted: {plan.refusal}."
        holders = [job for job in self._jobs.running_jobs() if plan.dataset_id is not None
                   and job.property(DATASET_PROPERTY) == plan.dataset_id]
        if not holders:
            QMessageBox.information(self._window, "Not deleted", text)
            return
        answer = QMessageBox.question(
            self._window, "Not deleted", f"{text}\n\nCancel {holders[0].title}? Delete the dataset again once it "
            "has stopped.", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer == QMessageBox.StandardButton.Yes:
            for job in holders:
                job.cancel()
            self.message.emit(f"Cancelling {holders[0].title}")

    @Slot(object)
    def _on_deleted(self, outcome: DeletionOutcome) -> None:
        log.info("deleted %s in %.1f s", outcome.what, outcome.seconds)
        self.message.emit(f"Deleted {outcome.what}")
        self.changed.emit()

    @Slot()
    def _on_deletion_finished(self) -> None:
        self._deleting = None

    # ----- runs -----
    @Slot(list)
    def retry(self, run_ids: list[int]) -> None:
        """Queue failed or cancelled runs again with their configuration, then execute them."""
        if self.url is not None and run_ids:
            self._submit("Queueing runs again", _run_in(self.url, retry_runs, list(run_ids)), self._on_retried)

    @Slot(object)
    def _on_retried(self, run_ids: list[int]) -> None:
        self.changed.emit()
        self.retried.emit(list(run_ids))

    # ----- the workspace -----
    @Slot(int, object)
    def attach_item_names(self, dataset_id: int, path: Path) -> None:
        if self.url is None:
            return
        job = self._jobs.submit(f"Attaching item names from {Path(path).name}",
                                functools.partial(attach_item_names_at, self.url, dataset_id, Path(path)))
        job.succeeded.connect(self._on_names_attached)
        job.failed.connect(self._on_failed)

    @Slot(object)
    def _on_names_attached(self, counts: tuple[int, int]) -> None:
        named, total = counts
        self.message.emit(f"Named {named:,} of the log's {total:,} items")
        log.info("named %d of the log's %d items", named, total)
        self.changed.emit()

    @Slot()
    def compact(self) -> None:
        if self.url is not None:
            self._submit("Compacting the workspace", _run_in(self.url, compact_workspace), self._on_compacted,
                         visible=True)

    @Slot(object)
    def _on_compacted(self, outcome: CompactOutcome) -> None:
        if not outcome.complete:
            text = ("Workspace compacted, but a program began reading it meanwhile: the space returns when it is done "
                    "and the workspace is compacted again")
        elif outcome.bytes_before is not None and outcome.bytes_after is not None:
            text = (f"Workspace compacted: {outcome.bytes_before / 2**20:,.1f} MiB → "
                    f"{outcome.bytes_after / 2**20:,.1f} MiB")
        else:
            text = "Workspace compacted"
        log.info("%s", text)
        self.message.emit(text)
