"""The workspace browser: datasets, and under each its runs with their status."""
from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from engine.workbench.datasets import list_datasets
from engine.workbench.training import RunSummary, list_runs, run_label
from engine.workbench.workspaces import Workspace

log = logging.getLogger(__name__)

STATUS_COLOURS = {"queued": "#6b7280", "running": "#1d4ed8", "finished": "#15803d", "failed": "#b00020",
                  "cancelled": "#a15c00"}
KIND_ROLE = Qt.ItemDataRole.UserRole
ID_ROLE = Qt.ItemDataRole.UserRole + 1


class WorkspaceBrowser(QTreeWidget):
    """Tree of the workspace's datasets and runs; emits the id of what the user selects."""

    dataset_selected = Signal(int)
    run_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["Name", "Status"])
        self.header().setStretchLastSection(False)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.setUniformRowHeights(True)
        self.itemSelectionChanged.connect(self._on_selection)
        self.runs: list[RunSummary] = []

    def refresh(self, workspace: Workspace) -> None:
        """Reload from the workspace, keeping the selection and the expanded datasets."""
        selected = self.selected_kind_and_id()
        collapsed = {self.topLevelItem(i).data(0, ID_ROLE) for i in range(self.topLevelItemCount())
                     if not self.topLevelItem(i).isExpanded()}
        datasets = list_datasets(workspace)
        self.runs = list_runs(workspace)
        self.blockSignals(True)
        self.clear()
        for dataset in datasets:
            item = QTreeWidgetItem(self, [dataset.name, f"{dataset.statistics.get('events', 0):,} events"])
            item.setData(0, KIND_ROLE, "dataset")
            item.setData(0, ID_ROLE, dataset.id)
            item.setToolTip(0, dataset.source_path)
            for run in (r for r in self.runs if r.dataset_id == dataset.id):
                child = QTreeWidgetItem(item, [run_label(run), run.status])
                child.setData(0, KIND_ROLE, "run")
                child.setData(0, ID_ROLE, run.id)
                child.setForeground(1, QBrush(QColor(STATUS_COLOURS.get(run.status, "#000000"))))
                if run.error:
                    child.setToolTip(1, run.error)
            item.setExpanded(dataset.id not in collapsed)
        self.blockSignals(False)
        if selected is not None:
            self.select(*selected)

    def selected_kind_and_id(self) -> tuple[str, int] | None:
        items = self.selectedItems()
        if not items:
            return None
        return items[0].data(0, KIND_ROLE), int(items[0].data(0, ID_ROLE))

    def select(self, kind: str, identifier: int) -> None:
        for item in self._items():
            if item.data(0, KIND_ROLE) == kind and item.data(0, ID_ROLE) == identifier:
                self.setCurrentItem(item)
                return

    def dataset_ids(self) -> list[int]:
        return [int(item.data(0, ID_ROLE)) for item in self._items() if item.data(0, KIND_ROLE) == "dataset"]

    def run_status(self, run_id: int) -> str | None:
        for item in self._items():
            if item.data(0, KIND_ROLE) == "run" and item.data(0, ID_ROLE) == run_id:
                return item.text(1)
        return None

    def _items(self) -> list[QTreeWidgetItem]:
        found = []
        for i in range(self.topLevelItemCount()):
            top = self.topLevelItem(i)
            found.append(top)
            found += [top.child(j) for j in range(top.childCount())]
        return found

    @Slot()
    def _on_selection(self) -> None:
        selected = self.selected_kind_and_id()
        if selected is None:
            return
        kind, identifier = selected
        (self.dataset_selected if kind == "dataset" else self.run_selected).emit(identifier)
