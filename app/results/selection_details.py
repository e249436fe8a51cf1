"""What lies behind the selected table cell or bar: the runs (one per seed) with their own value
(of the cell's metric or tie statistic), their number of evaluated events and whether their
checkpoint is still there; for a bar, the group's numbers of events, sessions and users."""
from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.results.comparison_model import metric_title
from app.results.ties import TIE_TITLES, format_tie
from engine.workbench.results import BREAKDOWNS, TIE_COLUMNS, ResultsSnapshot, ResultsView
from engine.workbench.training import model_entry

COLUMNS = ("Run", "Seed", "Value", "Events", "Checkpoint")
MISSING_COLOUR = "#b00020"


def _number(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else "—"


class SelectionDetails(QGroupBox):
    """The runs behind a selection, or a hint to select something; ``closed`` when the user
    closes the pane."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Behind the selection", parent)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Close this pane (it opens again when you select a cell or a bar)")
        self.close_button.clicked.connect(self.closed)
        self.summary = QLabel("Select a cell of the table or a bar of a plot to see the runs behind it.")
        self.summary.setWordWrap(True)
        self.summary.setObjectName("mutedLabel")
        self.summary.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)

    def clear(self, text: str = "Select a cell of the table or a bar of a plot to see the runs behind it.") -> None:
        self.summary.setText(text)
        self.table.setRowCount(0)

    def show_cell(self, snapshot: ResultsSnapshot, view: ResultsView, model: str, metric: str | None) -> None:
        """``metric``: a metric of the view, a tie column, or None (the view's first metric)."""
        metric = metric or view.metrics[0]
        run_ids = snapshot.run_ids_of(model)
        events = {i: len(snapshot.frames[i]) for i in run_ids}
        if metric in TIE_COLUMNS:
            values = {i: float(snapshot.rows[i][metric]) for i in run_ids}
            known = [value for value in values.values() if math.isfinite(value)]
            mean = format_tie(metric, sum(known) / len(known) if known else math.nan)
            self.summary.setText(f"<b>{model}</b>, {TIE_TITLES[metric].lower()} = {mean} over {len(run_ids)} run(s):")
            self._fill(snapshot, TIE_TITLES[metric], run_ids, values, events, lambda v: format_tie(metric, v))
            return
        row = view.table[(view.table["model"] == model) & (view.table["metric"] == metric)].iloc[0]
        spread = f" ± {row['std']:.4f}" if math.isfinite(row["std"]) else ""
        self.summary.setText(f"<b>{model}</b>, {metric_title(metric)} = {row['mean']:.4f}{spread} "
                             f"over {int(row['n_seeds'])} run(s):")
        self._fill(snapshot, metric_title(metric), run_ids, {i: snapshot.rows[i][metric] for i in run_ids}, events)

    def show_bar(self, snapshot: ResultsSnapshot, view: ResultsView, kind: str, model: str, group: object,
                 metric: str) -> None:
        summary = view.breakdowns[kind]
        row = summary[(summary["model"] == model) & (summary["group"] == group)].iloc[0]
        spread = f" ± {row[f'{metric}_std']:.4f}" if math.isfinite(row[f"{metric}_std"]) else ""
        self.summary.setText(
            f"<b>{model}</b>, {BREAKDOWNS[kind].title.lower()}: {row['label']}<br>"
            f"{int(row['n_events']):,} events of {int(row['n_sessions']):,} sessions and "
            f"{int(row['n_users']):,} users; "
            f"{metric_title(metric)} = {row[f'{metric}_mean']:.4f}{spread} over {int(row['n_seeds'])} run(s):")
        per_run = view.per_run[kind]
        runs = per_run[(per_run["model"] == model) & (per_run["group"] == group)]
        run_ids = runs["run_id"].astype(int).tolist()
        self._fill(snapshot, metric_title(metric), run_ids, dict(zip(run_ids, runs[metric], strict=True)),
                   dict(zip(run_ids, runs["n_events"].astype(int), strict=True)))

    def _fill(self, snapshot: ResultsSnapshot, title: str, run_ids: list[int], values: dict[int, float],
              events: dict[int, int], number: Callable[[float], str] = _number) -> None:
        self.table.setHorizontalHeaderItem(2, QTableWidgetItem(title))
        self.table.setRowCount(len(run_ids))
        for row, run_id in enumerate(run_ids):
            run = snapshot.runs[run_id]
            if not model_entry(run.model).neural:
                checkpoint = "baseline"
            else:
                checkpoint = "missing" if run_id in snapshot.missing_checkpoints else "present"
            cells = (f"#{run_id}", str(run.seed), number(float(values[run_id])), f"{events[run_id]:,}", checkpoint)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column in (1, 2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if column == 4 and checkpoint == "baseline":
                    item.setToolTip("A baseline has no checkpoint: it is refitted for inspection.")
                if column == 4 and checkpoint == "missing":
                    item.setForeground(QBrush(QColor(MISSING_COLOUR)))
                    item.setToolTip("The checkpoint file is gone: the stored metrics remain, but the run's "
                                    "recommendations cannot be recomputed for inspection.")
                self.table.setItem(row, column, item)

    def run_ids(self) -> list[int]:
        items = (self.table.item(row, 0) for row in range(self.table.rowCount()))
        return [int(item.text().lstrip("#")) for item in items if item is not None]
