"""The Data panel: the selected dataset (source, settings, note, Table 1 statistics, a warning when
it is too small to mean much) beside the session threshold explorer of its log; or a stored log
that waits for settings. It reads nothing itself: the window hands it the workspace overview."""
from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QLabel, QSplitter, QVBoxLayout, QWidget

from app.jobs import JobManager
from app.statistics_table import StatisticsTable
from app.threshold_explorer import ThresholdExplorer
from engine.workbench.datasets import DatasetDetails, LogSummary, WorkspaceOverview, dataset_warnings
from engine.workbench.importing import PrepareSettings

log = logging.getLogger(__name__)

NOTHING = "No dataset selected"


class DataPanel(QWidget):
    """Dataset details and the threshold explorer."""

    def __init__(self, jobs: JobManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._url: str | None = None
        self.dataset_id: int | None = None
        self.log_id: int | None = None  # a stored log without a dataset, when one is shown
        self._details_shown: DatasetDetails | None = None
        self.explorer = ThresholdExplorer(jobs)
        self.statistics = StatisticsTable()
        self._name = QLabel(NOTHING)
        self._name.setObjectName("panelTitle")
        self._name.setWordWrap(True)
        self.warning = QLabel("")
        self.warning.setObjectName("warningLabel")
        self.warning.setWordWrap(True)
        self.warning.hide()
        self._details = QLabel("")
        self._details.setObjectName("mutedLabel")
        self._details.setWordWrap(True)
        self._details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.hide()
        box = QGroupBox("Dataset (paper Table 1)")
        box_layout = QVBoxLayout(box)
        box_layout.addWidget(self._name)
        box_layout.addWidget(self.warning)
        box_layout.addWidget(self._details)
        box_layout.addWidget(self.note)
        box_layout.addWidget(self.statistics, 1)
        box.setMinimumWidth(260)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.explorer)
        splitter.addWidget(box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([600, 400])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def set_workspace(self, url: str | None) -> None:
        """Another workspace (None: none): everything of the previous one goes."""
        self._url, self.dataset_id, self.log_id = url, None, None
        self.explorer.set_workspace(url)
        self._show_nothing()

    def _show_nothing(self) -> None:
        self._details_shown = None
        self._name.setText(NOTHING)
        self._details.setText("")
        self.note.hide()
        self.warning.hide()
        self.statistics.show_statistics(None)

    def show_dataset(self, dataset: DatasetDetails) -> None:
        """Show ``dataset``; its log is explored afresh only when another dataset was shown."""
        switched = dataset.id != self.dataset_id or self.log_id is not None
        self.dataset_id, self.log_id = dataset.id, None
        self._show_details(dataset)
        if switched:
            self.explorer.show_log(dataset.log_id, dataset.log_name, dataset.settings)

    def _show_details(self, dataset: DatasetDetails) -> None:
        if dataset == self._details_shown:  # the same dataset as read again: nothing to redraw
            return
        self._details_shown = dataset
        self._name.setText(dataset.name)
        self._details.setText(f"From {dataset.source_path}\n{dataset.settings.describe()}")
        self.note.setText(f"Note: {dataset.note}" if dataset.note else "")
        self.note.setVisible(bool(dataset.note))
        warnings = dataset_warnings(dataset.statistics)
        self.warning.setText("⚠ " + " ".join(warnings) if warnings else "")
        self.warning.setVisible(bool(warnings))
        self.statistics.show_statistics(dataset.statistics)

    def show_stored_log(self, stored: LogSummary) -> None:
        """A stored log without a dataset: explore it from the default settings, then Prepare."""
        switched = stored.id != self.log_id
        self.dataset_id, self.log_id = None, stored.id
        self._details_shown = None
        self._name.setText(f"{stored.name}: no dataset yet")
        self._details.setText(f"From {stored.source_path}\n{stored.n_events:,} events of {stored.n_users:,} users "
                              f"and {stored.n_items:,} items are stored, but the settings of its import left nothing. "
                              "Choose other settings at the left and press Prepare.")
        self.note.hide()
        self.warning.hide()
        self.statistics.show_statistics(None)
        if switched:
            self.explorer.show_log(stored.id, stored.name.split(".")[0], PrepareSettings())

    def set_overview(self, overview: WorkspaceOverview) -> None:
        """The workspace changed: refresh what is shown (the exploration under way stays); a
        dataset deleted meanwhile leaves the panel empty."""
        if self.dataset_id is None:
            return
        dataset = overview.dataset(self.dataset_id)
        if dataset is not None:
            self._show_details(dataset)
        else:
            self.set_workspace(self._url)
