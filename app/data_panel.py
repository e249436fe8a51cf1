"""The Data panel: the selected dataset (source, settings, Table 1 statistics) beside the
session threshold explorer of its log."""
from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QLabel, QSplitter, QVBoxLayout, QWidget

from app.duration_axis import format_duration
from app.jobs import JobManager
from app.statistics_table import StatisticsTable
from app.threshold_explorer import ThresholdExplorer
from engine.data.preparation import PrepareSettings
from engine.storage.catalog import find_dataset, log_name
from engine.storage.schema import ImportedLog
from engine.storage.workspace import Workspace

log = logging.getLogger(__name__)


def describe_settings(settings: PrepareSettings) -> str:
    sessions = "the log's sessions" if settings.use_given_sessions else \
        f"idle gap > {format_duration(settings.session_threshold_s)}"
    parts = [f"sessions: {sessions}", f"items ≥ {settings.min_item_support} events",
             f"sessions ≥ {settings.min_session_length} events", f"users ≥ {settings.min_user_sessions} sessions"]
    if settings.max_user_sessions is not None:
        parts.append(f"users ≤ {settings.max_user_sessions} sessions")
    if settings.drop_event_types:
        parts.append(f"dropped types: {', '.join(settings.drop_event_types)}")
    if not settings.drop_repeats:
        parts.append("repeats kept")
    return "; ".join(parts)


class DataPanel(QWidget):
    """Dataset details and the threshold explorer."""

    def __init__(self, jobs: JobManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._workspace: Workspace | None = None
        self.dataset_id: int | None = None
        self.explorer = ThresholdExplorer(jobs)
        self.statistics = StatisticsTable()
        self._name = QLabel("No dataset selected")
        self._name.setObjectName("panelTitle")
        self._name.setWordWrap(True)
        self._details = QLabel("")
        self._details.setObjectName("mutedLabel")
        self._details.setWordWrap(True)
        self._details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box = QGroupBox("Dataset (paper Table 1)")
        box_layout = QVBoxLayout(box)
        box_layout.addWidget(self._name)
        box_layout.addWidget(self._details)
        box_layout.addWidget(self.statistics, 1)
        box.setMinimumWidth(300)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.explorer)
        splitter.addWidget(box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([600, 440])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def set_workspace(self, workspace: Workspace) -> None:
        self._workspace = workspace
        self.dataset_id = None
        self.explorer.set_workspace(workspace.url)
        self._name.setText("No dataset selected")
        self._details.setText("")
        self.statistics.show_statistics(None)

    def show_dataset(self, dataset_id: int) -> None:
        """Show dataset ``dataset_id``'s statistics and explore its log from its settings."""
        if self._workspace is None:
            return
        with self._workspace.session() as session:
            dataset = find_dataset(session, dataset_id)
            name, log_id, statistics = dataset.name, dataset.log_id, dict(dataset.statistics)
            settings = PrepareSettings.from_json(dataset.settings)
            source_name = log_name(session, log_id)
            imported = session.get(ImportedLog, log_id)
            source = imported.source_path if imported is not None else source_name
        self.dataset_id = dataset_id
        self._name.setText(name)
        self._details.setText(f"From {source}\n{describe_settings(settings)}")
        self.statistics.show_statistics(statistics)
        self.explorer.show_log(log_id, source_name, settings)
