"""The Data panel: the selected dataset (source, settings, Table 1 statistics) beside the
session threshold explorer of its log."""
from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QLabel, QSplitter, QVBoxLayout, QWidget

from app.jobs import JobManager
from app.statistics_table import StatisticsTable
from app.threshold_explorer import ThresholdExplorer
from engine.workbench.datasets import dataset_details
from engine.workbench.workspaces import Workspace

log = logging.getLogger(__name__)


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
        details = dataset_details(self._workspace, dataset_id)
        self.dataset_id = dataset_id
        self._name.setText(details.name)
        self._details.setText(f"From {details.source_path}\n{details.settings.describe()}")
        self.statistics.show_statistics(details.statistics)
        self.explorer.show_log(details.log_id, details.log_name, details.settings)
