"""Importing logs from the window: refuse what is not a log file, preview each file in the
background, let the user check the mapping and the settings, then import in the background with
progress. An import refused for one of the dialog's fields (a filter that left nothing, a row to
skip, a column) opens the dialog again with the user's choices and that field marked."""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from app.import_dialog import ImportDialog
from app.jobs import Job, JobManager
from engine.errors import InputError
from engine.progress import CancelToken, ProgressCallback
from engine.workbench.importing import (
    ImportOutcome,
    ImportRequest,
    LogNotPreparedError,
    LogPreview,
    import_file,
    preview_log,
)

#: A file to preview, with an earlier attempt to show again and its refusal (None: a new file).
Pending = tuple[Path, ImportRequest | None, InputError | None]

log = logging.getLogger(__name__)

LOG_SUFFIXES = (".csv", ".tsv", ".txt", ".dat", ".data", ".inter", ".jsonl", ".json", ".ndjson", ".parquet",
                ".gz", ".zip")
FILE_FILTER = "Interaction logs (*.csv *.tsv *.txt *.dat *.data *.inter *.jsonl *.json *.ndjson *.parquet *.gz " \
              "*.zip);;All files (*)"


def refusal_reason(path: Path) -> str | None:
    """Why ``path`` cannot be imported as a log, or None when it looks like one."""
    if path.is_dir():
        return f"{path.name} is a folder; drop the log files inside it"
    if not path.is_file():
        return f"{path} is not a file"
    suffix = path.suffix.lower()
    if suffix and suffix not in LOG_SUFFIXES and not path.name.lower().startswith("u."):
        return (f"{path.name} does not look like an interaction log (expected CSV/TSV, JSON lines, Parquet, "
                f"optionally .gz or .zip)")
    return None


class ImportFlow(QObject):
    """Drives imports: queue of files → preview job → dialog → import job."""

    imported = Signal(object)  # ImportOutcome
    log_stored = Signal(int)  # a log stored although its preparation left nothing (it waits for settings)

    def __init__(self, jobs: JobManager, window: QWidget) -> None:
        super().__init__(window)
        self._jobs = jobs
        self._window = window
        self._workspace_url: str | None = None
        self._queue: list[Pending] = []
        self.current_dialog: ImportDialog | None = None
        self._preview_job: Job | None = None
        self._requests: dict[Job, ImportRequest] = {}  # imports under way

    def set_workspace(self, url: str | None) -> None:
        self._workspace_url = url
        self._queue = []

    def import_paths(self, paths: list[Path]) -> list[Path]:
        """Queue the log files among ``paths`` (others are refused with a message); returns those queued."""
        accepted, refused = [], []
        for path in paths:
            reason = refusal_reason(path)
            if reason is None:
                accepted.append(path)
            else:
                refused.append(reason)
        if refused:
            QMessageBox.warning(self._window, "Not imported", "\n".join(refused))
        self._queue += [(path, None, None) for path in accepted]
        if self.current_dialog is None and self._preview_job is None:
            self._next()
        return accepted

    def busy(self) -> bool:
        return bool(self._queue) or self.current_dialog is not None or self._preview_job is not None

    def _next(self) -> None:
        if not self._queue:
            return
        path, request, error = self._queue.pop(0)
        preset = request.preset if request is not None else None

        def preview(progress: ProgressCallback, cancel: CancelToken) -> tuple[Pending, LogPreview]:
            progress(0.0, "reading the first rows")
            return (path, request, error), preview_log(path, preset)

        self._preview_job = self._jobs.submit(f"Previewing {path.name}", preview)
        self._preview_job.succeeded.connect(self._on_preview)
        self._preview_job.failed.connect(self._on_preview_failed)
        self._preview_job.cancelled.connect(self._on_preview_cancelled)

    @Slot(object)
    def _on_preview(self, result: tuple[Pending, LogPreview]) -> None:
        self._preview_job = None
        (path, request, error), preview = result
        self.current_dialog = ImportDialog(path, preview, self._window, request, error, self._jobs)
        self.current_dialog.finished.connect(self._on_dialog_finished)
        self.current_dialog.open()

    @Slot(object)
    def _on_preview_failed(self, error: Exception) -> None:
        self._preview_job = None
        QMessageBox.critical(self._window, "Cannot read the file", str(error))
        self._next()

    @Slot()
    def _on_preview_cancelled(self) -> None:
        self._preview_job = None
        self._next()

    @Slot(int)
    def _on_dialog_finished(self, result: int) -> None:
        dialog, self.current_dialog = self.current_dialog, None
        if dialog is not None:
            dialog.stop_jobs()
            if result == QDialog.DialogCode.Accepted:
                self.start_import(dialog.request())
            dialog.deleteLater()
        self._next()

    def start_import(self, request: ImportRequest) -> Job:
        """Import in the background; the outcome is announced by ``imported``, errors in a dialog."""
        job = self._jobs.submit_in_process(f"Importing {Path(request.path).name}", import_file,
                                           (self._workspace_url, request))
        self._requests[job] = request
        job.finished.connect(self._on_import_finished)
        job.succeeded.connect(self._on_imported)
        job.failed.connect(self._on_import_failed)
        job.cancelled.connect(self._on_import_cancelled)
        return job

    @Slot(object)
    def _on_imported(self, outcome: ImportOutcome) -> None:
        if outcome.reused_dataset:
            log.info("already imported as dataset '%s'", outcome.dataset_name)
        else:
            skipped = f" ({outcome.skipped_rows:,} invalid rows skipped)" if outcome.skipped_rows else ""
            log.info("imported dataset '%s': %s events%s", outcome.dataset_name,
                     f"{outcome.statistics.get('events', 0):,}", skipped)
        self.imported.emit(outcome)

    @Slot(object)
    def _on_import_failed(self, error: Exception) -> None:
        log.warning("import failed: %s", error)
        if isinstance(error, LogNotPreparedError) and error.log_id is not None:
            self.log_stored.emit(error.log_id)
        sender = self.sender()
        request = self._requests.get(sender) if isinstance(sender, Job) else None
        if isinstance(error, InputError) and error.setting is not None and request is not None:
            self._queue.insert(0, (Path(request.path), request, error))  # again, with the field to change
            if self.current_dialog is None and self._preview_job is None:
                self._next()
            return
        QMessageBox.critical(self._window, "Import failed", str(error))

    @Slot()
    def _on_import_finished(self) -> None:
        sender = self.sender()
        if isinstance(sender, Job):
            self._requests.pop(sender, None)

    @Slot()
    def _on_import_cancelled(self) -> None:
        log.info("import cancelled; nothing was stored")
