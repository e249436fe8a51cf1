"""The open workspace as the panels see it: one :class:`WorkspaceOverview` (datasets, runs with what
they recorded, stored logs waiting for settings) and the presets saved in it, loaded in a background
job whenever something changed, the latest request winning (a result requested before the last
change is dropped), and fanned out to every panel through ``changed``. While runs of other processes
are training (e.g. ones left to finish in the background), the overview is read again every few
seconds."""
from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.jobs import Job, JobManager
from engine.progress import CancelToken, ProgressCallback
from engine.workbench.datasets import WorkspaceOverview, load_overview
from engine.workbench.saved_presets import SavedPresetInfo, load_saved_presets

log = logging.getLogger(__name__)

POLL_MS = 5_000  # while a run of another process trains


class WorkspaceState(QObject):
    """Holds the latest overview of the workspace at ``url``; :meth:`request` reads it again."""

    changed = Signal(object)  # WorkspaceOverview
    failed = Signal(str)

    def __init__(self, jobs: JobManager, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs = jobs
        self.url: str | None = None
        self.overview: WorkspaceOverview | None = None
        self.saved_presets: list[SavedPresetInfo] = []  # read with the overview
        self._request = 0
        self._job: Job | None = None
        self._wanted = False  # a change happened while a load was running
        self.own_runs: set[int] = set()  # runs this window's queue executes (they report themselves)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self.request)

    def set_url(self, url: str | None) -> None:
        """Another workspace (None: none): forget the overview and read the new one."""
        if self._job is not None:
            self._job.discard()
        self._job, self._wanted, self.overview = None, False, None
        self._request += 1
        self.url = url
        self._poll.stop()
        if url is not None:
            self.request()

    @Slot()
    def request(self) -> None:
        """Read the overview again (once the load under way, if any, is done)."""
        if self.url is None:
            return
        if self._job is not None and self._job.running:
            self._wanted = True
            return
        self._request += 1
        request, url = self._request, self.url

        def work(progress: ProgressCallback,
                 cancel: CancelToken) -> tuple[int, WorkspaceOverview, list[SavedPresetInfo]]:
            return request, load_overview(url, progress, cancel), load_saved_presets(url, progress, cancel)

        self._job = self._jobs.submit("Reading the workspace", work, visible=False)
        self._job.succeeded.connect(self._on_loaded)
        self._job.failed.connect(self._on_failed)
        self._job.finished.connect(self._on_finished)

    @Slot(object)
    def _on_loaded(self, result: tuple[int, WorkspaceOverview, list[SavedPresetInfo]]) -> None:
        request, overview, presets = result
        if request != self._request or self._wanted:
            return  # read before the latest change: the next load follows
        self.overview, self.saved_presets = overview, presets
        foreign = any(run.status == "running" and run.id not in self.own_runs for run in overview.runs)
        if foreign and not self._poll.isActive():
            self._poll.start()
        elif not foreign:
            self._poll.stop()
        self.changed.emit(overview)

    @Slot(object)
    def _on_failed(self, error: Exception) -> None:
        log.error("cannot read the workspace: %s", error)
        self.failed.emit(str(error))

    @Slot()
    def _on_finished(self) -> None:
        if self._wanted:
            self._wanted = False
            self.request()
