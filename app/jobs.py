"""Background jobs: engine functions run on a thread pool, their progress, result or error
delivered to the GUI thread as signals, and a status bar widget listing the running ones.

A :class:`Job` is a QObject living in the GUI thread. The worker thread only emits the job's
private signals (queued to the GUI thread); the job's public signals are emitted from the GUI
thread, so anything may be connected to them. Cancellation sets the engine's CancelToken, which
the engine polls between steps.
"""
from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from app.process_runner import run_in_child
from engine.errors import Cancelled, WorkbenchError, WorkspaceError
from engine.progress import CancelToken, ProgressCallback
from engine.workbench.workspaces import database_problem, is_database_error

log = logging.getLogger(__name__)

JobWork = Callable[[ProgressCallback, CancelToken], Any]
PROGRESS_INTERVAL_S = 0.05  # at most 20 progress signals a second per job
ROWS_SHOWN = 2  # jobs shown in the status bar at once (the others are counted): the window stays narrow
LABEL_WIDTH = 230  # pixels of a job's title and message (elided beyond)
#: At most this often (seconds) a job's row shows new progress: QProgressBar.setValue repaints at once,
#: 20-40 ms of the GUI thread each time on the 2-core machine, and a job may report 20 times a second.
ROW_UPDATE_S = 0.25


class _JobRunnable(QRunnable):
    def __init__(self, job: Job, work: JobWork) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self._job = job
        self._work = work
        self._last_report = 0.0

    def _report(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self._last_report >= PROGRESS_INTERVAL_S or fraction >= 1.0:
            self._last_report = now
            self._job._reported.emit(float(fraction), str(message))

    def run(self) -> None:
        try:
            self._job.cancel_token.raise_if_cancelled()
            result = self._work(self._report, self._job.cancel_token)
        except Cancelled:
            self._job._ended.emit("cancelled", None)
        except WorkbenchError as exc:
            self._job._ended.emit("failed", exc)
        except Exception as exc:
            if is_database_error(exc):  # damaged, read-only, locked: one line, no SQL
                log.warning("background job '%s': %s", self._job.title, exc)
                self._job._ended.emit("failed", WorkspaceError(database_problem(exc)))
                return
            log.exception("unexpected error in background job '%s'", self._job.title)
            self._job._ended.emit("failed", exc)
        else:
            self._job._ended.emit("succeeded", result)


class Job(QObject):
    """One background operation. Public signals are emitted in the GUI thread."""

    progressed = Signal(float, str)
    succeeded = Signal(object)
    failed = Signal(object)  # the exception
    cancelled = Signal()
    finished = Signal()  # after exactly one of succeeded / failed / cancelled

    _reported = Signal(float, str)
    _ended = Signal(str, object)

    def __init__(self, title: str, work: JobWork, visible: bool = True, essential: bool = False,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.visible = visible
        self.essential = essential  # runs to its end even when the manager shuts down
        self.cancel_token = CancelToken()
        self.fraction = 0.0
        self.message = "waiting"
        self.state = "running"
        self._discarded = False
        self.runnable = _JobRunnable(self, work)
        self._reported.connect(self._on_reported, Qt.ConnectionType.QueuedConnection)
        self._ended.connect(self._on_ended, Qt.ConnectionType.QueuedConnection)

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def discard(self) -> None:
        """Cancel and announce nothing more (its receivers are going away)."""
        self._discarded = True
        self.cancel()

    def mute(self) -> None:
        """Announce nothing more, but finish the work."""
        self._discarded = True

    @property
    def running(self) -> bool:
        return self.state == "running"

    @Slot(float, str)
    def _on_reported(self, fraction: float, message: str) -> None:
        if not self.running or self._discarded:
            return
        self.fraction, self.message = fraction, message
        self.progressed.emit(fraction, message)

    @Slot(str, object)
    def _on_ended(self, outcome: str, payload: object) -> None:
        self.state = outcome
        if self._discarded:
            return
        if outcome == "succeeded":
            self.succeeded.emit(payload)
        elif outcome == "failed":
            self.failed.emit(payload)
        else:
            self.cancelled.emit()
        self.finished.emit()


class JobManager(QObject):
    """Runs jobs on its own thread pool and keeps them referenced until they finish."""

    jobs_changed = Signal()

    def __init__(self, max_threads: int = 3, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._pool.setExpiryTimeout(2000)
        self._jobs: list[Job] = []

    def submit(self, title: str, work: JobWork, visible: bool = True, essential: bool = False) -> Job:
        """Start ``work(progress, cancel)`` in the background; connect to the returned job's signals
        (to slots of objects of the GUI thread). An ``essential`` job (e.g. recording a run's end)
        is not cancelled by :meth:`shutdown`, which waits for it."""
        job = Job(title, work, visible, essential, self)
        self._jobs.append(job)
        job.finished.connect(self._on_job_finished)
        self._pool.start(job.runnable)
        self.jobs_changed.emit()
        return job

    def submit_in_process(self, title: str, function: Callable[..., Any], args: tuple, visible: bool = True) -> Job:
        """Like submit, but ``function(*args, progress, cancel)`` runs in a child process (for
        GIL-heavy engine work); ``function`` must be a module-level function of a Qt-free module."""
        return self.submit(title, functools.partial(run_in_child, function, args), visible)

    def running_jobs(self) -> list[Job]:
        return [job for job in self._jobs if job.running]

    @Slot()
    def _on_job_finished(self) -> None:
        self._jobs = [job for job in self._jobs if job.running]
        self.jobs_changed.emit()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Discard every job but the essential ones (no more signals from any) and wait for the
        worker threads; True when all stopped in time."""
        for job in self._jobs:
            if job.essential:
                job.mute()
            else:
                job.discard()
        done = self._pool.waitForDone(timeout_ms)
        self._jobs = []
        self.jobs_changed.emit()
        return done


class JobStatusWidget(QWidget):
    """Status bar part: one compact row (title, progress, cancel) per visible running job."""

    def __init__(self, manager: JobManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._manager = manager
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._idle = QLabel("No background jobs")
        self._idle.setObjectName("mutedLabel")
        self._layout.addWidget(self._idle)
        self._more = QLabel("")
        self._more.setObjectName("mutedLabel")
        self._more.hide()
        self._layout.addWidget(self._more)
        self._rows: dict[Job, QWidget] = {}
        manager.jobs_changed.connect(self._rebuild)

    @Slot()
    def _rebuild(self) -> None:
        jobs = [job for job in self._manager.running_jobs() if job.visible]
        shown = jobs[:ROWS_SHOWN]
        for job in list(self._rows):
            if job not in shown:
                self._rows.pop(job).deleteLater()
        for job in shown:
            if job not in self._rows:
                self._rows[job] = self._row(job)
                self._layout.insertWidget(self._layout.count() - 1, self._rows[job])
        self._more.setText(f"+{len(jobs) - len(shown)} more" if len(jobs) > len(shown) else "")
        self._more.setToolTip("\n".join(job.title for job in jobs[len(shown):]))
        self._more.setVisible(len(jobs) > len(shown))
        self._idle.setVisible(not jobs)

    def _row(self, job: Job) -> QWidget:
        return _JobRow(job, self)

    def job_titles(self) -> list[str]:
        """The titles of the visible running jobs (shown or counted)."""
        return [job.title for job in self._manager.running_jobs() if job.visible]


class _JobRow(QWidget):
    def __init__(self, job: Job, parent: QWidget) -> None:
        super().__init__(parent)
        self._job = job
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 0, 0)
        self._label = QLabel(self)
        self._label.setFixedWidth(LABEL_WIDTH)
        self._set_label(job.title)
        self._bar = QProgressBar(self)
        self._bar.setRange(0, 1000)
        self._bar.setFixedWidth(120)
        self._bar.setTextVisible(False)
        cancel = QToolButton(self)
        cancel.setText("✕")
        cancel.setToolTip(f"Cancel: {job.title}")
        cancel.clicked.connect(job.cancel)
        layout.addWidget(self._label)
        layout.addWidget(self._bar)
        layout.addWidget(cancel)
        self._latest: tuple[float, str] | None = None
        self._shown_at = 0.0
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self._show_latest)
        job.progressed.connect(self._show_progress)

    def _set_label(self, text: str) -> None:
        self._label.setText(self._label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, LABEL_WIDTH))
        self._label.setToolTip(text)

    @Slot(float, str)
    def _show_progress(self, fraction: float, message: str) -> None:
        """The job's progress, shown at most every :data:`ROW_UPDATE_S` (the latest report wins)."""
        self._latest = (fraction, message)
        wait = ROW_UPDATE_S - (time.monotonic() - self._shown_at)
        if wait <= 0:
            self._show_latest()
        elif not self._later.isActive():
            self._later.start(int(wait * 1000) + 1)

    @Slot()
    def _show_latest(self) -> None:
        if self._latest is None:
            return
        fraction, message = self._latest
        self._latest, self._shown_at = None, time.monotonic()
        self._bar.setValue(int(fraction * 1000))
        self._set_label(f"{self._job.title}: {message}")
