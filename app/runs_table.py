"""The runs table: every run of a dataset (or of the workspace) with its parameters, status, final
loss, epochs, training time and test metrics (tuning trials only on demand, with short labels, a
trial that stopped early or was pruned showing that as its status); sorted by any column (numbers as numbers), filtered
by text, several selected at once (their curves are drawn together). Delete, F2 and a context menu
manage the selected runs like the workspace browser."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QBrush, QColor, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMenu,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.workspace_browser import STATUS_COLOURS
from engine.workbench.datasets import WorkspaceOverview
from engine.workbench.studies import is_trial, study_groups, trial_status
from engine.workbench.training import MODELS, RETRYABLE, RunFacts, RunSummary, model_label, run_label

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
RUN_ROLE = Qt.ItemDataRole.UserRole + 2
METRIC_K = 10  # the test metrics shown: Recall@10 and MRR@10 (the others in the tooltip)
COLUMNS = ("Run", "Status", "Parameters", "Final loss", "Epochs", "Training", f"Recall@{METRIC_K}",
           f"MRR@{METRIC_K}", "Seed", "Device", "Started", "Note", "Error")
NUMERIC = {"Final loss", "Epochs", "Training", f"Recall@{METRIC_K}", f"MRR@{METRIC_K}", "Seed"}
HIDDEN_SETTINGS = frozenset({"model", "seed", "device"})

_Index = QModelIndex | QPersistentModelIndex


def duration_text(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return ""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def parameters_text(run: RunSummary) -> str:
    """The preset and what differs from it, as the run's generated label says it (without the model)."""
    label = model_label(dataclasses.replace(run, name=None))
    prefix = f"{MODELS[run.model].label}, " if run.model in MODELS else ""
    return label[len(prefix):] if prefix and label.startswith(prefix) else ""


def _config_tooltip(run: RunSummary) -> str:
    return "\n".join(f"{key} = {value}" for key, value in sorted(run.config.items()) if key not in HIDDEN_SETTINGS)


class RunsTableModel(QAbstractTableModel):
    """Rows are runs (oldest first); ``set_runs`` replaces them."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._runs: list[RunSummary] = []
        self._facts: dict[int, RunFacts] = {}
        self._cells: list[list[tuple[str, Any]]] = []  # (text, sort key) per row and column
        self._trial_labels: dict[int, str] = {}

    def set_runs(self, runs: list[RunSummary], facts: dict[int, RunFacts],
                 trial_labels: dict[int, str] | None = None) -> None:
        """``trial_labels``: the short labels of tuning trials ("trial 7 of RNN study")."""
        self.beginResetModel()
        self._runs, self._facts = list(runs), facts
        self._trial_labels = trial_labels or {}
        self._cells = [self._row(run) for run in self._runs]
        self.endResetModel()

    def _row(self, run: RunSummary) -> list[tuple[str, Any]]:
        facts = self._facts.get(run.id, RunFacts(None, 0, None, {}))
        status = trial_status(run)
        label = self._trial_labels.get(run.id) or model_label(run)
        recall = facts.metrics.get(f"recall@{METRIC_K}")
        mrr = facts.metrics.get(f"mrr@{METRIC_K}")
        loss = facts.final_loss
        started = run.started_at.strftime("%d %b %H:%M") if run.started_at else ""
        return [
            (f"#{run.id} {label}", run.id), (status.status, status.status), (parameters_text(run), None),
            (f"{loss:.4f}" if loss is not None and math.isfinite(loss) else "", _number(loss)),
            (str(facts.epochs) if facts.epochs else "", facts.epochs),
            (duration_text(facts.train_seconds), _number(facts.train_seconds)),
            (f"{recall:.4f}" if recall is not None else "", _number(recall)),
            (f"{mrr:.4f}" if mrr is not None else "", _number(mrr)),
            (str(run.seed), run.seed), (run.device or "", None), (started, run.started_at.timestamp()
                                                                  if run.started_at else -math.inf),
            (run.note or "", None), (status.error, None),
        ]

    def run_at(self, row: int) -> RunSummary:
        return self._runs[row]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole and section in (6, 7):
            return "On the test split, under the dataset's evaluation setting (hover a cell for every metric)"
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        run = self._runs[index.row()]
        text, key = self._cells[index.row()][index.column()]
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return text
        if role == SORT_ROLE:
            return key if key is not None else text.lower()
        if role == RUN_ROLE:
            return run.id
        if role == Qt.ItemDataRole.ForegroundRole and column == "Status":
            return QBrush(QColor(STATUS_COLOURS.get(text, "#000000")))
        if role == Qt.ItemDataRole.TextAlignmentRole and column in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == "Parameters":
                return _config_tooltip(run)
            if column == "Status":
                return trial_status(run).reason or text or None
            if column == "Run":
                return run_label(run)
            if column in (f"Recall@{METRIC_K}", f"MRR@{METRIC_K}"):
                metrics = self._facts.get(run.id, RunFacts(None, 0, None, {})).metrics
                return "\n".join(f"{name} = {value:.4f}" for name, value in sorted(metrics.items())) or None
            return text or None
        return None


def _number(value: float | int | None) -> float:
    return float(value) if value is not None and math.isfinite(value) else -math.inf


class RunsFilter(QSortFilterProxyModel):
    """Sorts by value and keeps the rows whose text (any column) contains the filter."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterKeyColumn(-1)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def lessThan(self, left: _Index, right: _Index) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if type(a) is not type(b):
            return str(a) < str(b)
        return a < b


class RunsView(QWidget):
    """The table with its filter; emits the selected runs and what the user asks to do with them."""

    selection_changed = Signal(list)  # run ids
    rename_requested = Signal(str, int)
    note_requested = Signal(str, int)
    delete_requested = Signal(str, list)
    retry_requested = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = RunsTableModel(self)
        self.proxy = RunsFilter(self)
        self.proxy.setSourceModel(self.model)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter runs (model, status, parameters, note…)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Show the runs whose text contains this (any column)")
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.all_datasets = QCheckBox("All datasets")
        self.all_datasets.setToolTip("List the runs of every dataset, not only of the dataset chosen above")
        self.trials = QCheckBox("Tuning trials")
        self.trials.setToolTip("Also list the runs tuning trained (each trial of a study, on the validation split); "
                               "the workspace browser groups them under their study")
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setAlternatingRowColors(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip("Select two or more runs to compare their curves; right-click to manage them")
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._show_menu)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.delete_action = self._action("Delete…", QKeySequence(QKeySequence.StandardKey.Delete), self._delete)
        self.rename_action = self._action("Rename…", QKeySequence(Qt.Key.Key_F2), self._rename)
        self.note_action = self._action("Note…", None, self._note)
        self.retry_action = self._action("Retry", None, self._retry)
        bar = QHBoxLayout()
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.trials)
        bar.addWidget(self.all_datasets)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)

    def _action(self, text: str, shortcut: QKeySequence | None, slot: Callable[[], None]) -> QAction:
        action = QAction(text, self.table)
        if shortcut is not None:
            action.setShortcut(shortcut)
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.table.addAction(action)
        action.triggered.connect(slot)
        return action

    def show_runs(self, overview: WorkspaceOverview | None, dataset_id: int | None) -> None:
        """The runs of ``dataset_id`` (all with "All datasets"; tuning trials with "Tuning trials"),
        keeping the selection."""
        selected = self.selected_runs()
        runs = [] if overview is None else [run for run in overview.runs if (self.all_datasets.isChecked()
                                            or run.dataset_id == dataset_id)
                                            and (self.trials.isChecked() or not is_trial(run))]
        labels = {run_id: group.trial_label(run_id) for group in study_groups(overview.runs)
                  for run_id in group.run_ids} if overview is not None and self.trials.isChecked() else {}
        self.table.selectionModel().blockSignals(True)
        self.model.set_runs(runs, overview.facts if overview is not None else {}, labels)
        self.select_runs(selected)
        self.table.selectionModel().blockSignals(False)
        for column, width in ((0, 230), (1, 100), (2, 140)):  # "stopped early" whole
            self.table.setColumnWidth(column, width)
        for column in range(3, len(COLUMNS) - 1):
            self.table.resizeColumnToContents(column)

    def selected_runs(self) -> list[int]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [int(self.proxy.index(row, 0).data(RUN_ROLE)) for row in rows]

    def select_runs(self, run_ids: list[int]) -> None:
        selection = self.table.selectionModel()
        selection.clearSelection()
        for row in range(self.proxy.rowCount()):
            if self.proxy.index(row, 0).data(RUN_ROLE) in run_ids:
                selection.select(self.proxy.index(row, 0), selection.SelectionFlag.Select
                                 | selection.SelectionFlag.Rows)

    def run_ids(self) -> list[int]:
        """The runs listed, in the order shown."""
        return [int(self.proxy.index(row, 0).data(RUN_ROLE)) for row in range(self.proxy.rowCount())]

    def cell_text(self, run_id: int, column: str) -> str:
        for row in range(self.proxy.rowCount()):
            if self.proxy.index(row, 0).data(RUN_ROLE) == run_id:
                return str(self.proxy.index(row, COLUMNS.index(column)).data())
        raise KeyError(run_id)

    @Slot()
    def _on_selection(self) -> None:
        self.selection_changed.emit(self.selected_runs())

    def _selected_summaries(self) -> list[RunSummary]:
        chosen = set(self.selected_runs())
        return [self.model.run_at(row) for row in range(self.model.rowCount()) if self.model.run_at(row).id in chosen]

    @Slot()
    def _delete(self) -> None:
        if self.selected_runs():
            self.delete_requested.emit("run", self.selected_runs())

    @Slot()
    def _rename(self) -> None:
        if len(self.selected_runs()) == 1:
            self.rename_requested.emit("run", self.selected_runs()[0])

    @Slot()
    def _note(self) -> None:
        if len(self.selected_runs()) == 1:
            self.note_requested.emit("run", self.selected_runs()[0])

    @Slot()
    def _retry(self) -> None:
        retryable = [run.id for run in self._selected_summaries() if run.status in RETRYABLE]
        if retryable:
            self.retry_requested.emit(retryable)

    @Slot(QPoint)
    def _show_menu(self, position: QPoint) -> None:
        if not self.selected_runs():
            return
        menu = QMenu(self)
        single = len(self.selected_runs()) == 1
        self.rename_action.setEnabled(single)
        self.note_action.setEnabled(single)
        self.retry_action.setEnabled(any(run.status in RETRYABLE for run in self._selected_summaries()))
        for action in (self.rename_action, self.note_action, self.retry_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.delete_action)
        menu.exec(self.table.viewport().mapToGlobal(position))
