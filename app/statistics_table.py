"""A dataset's Table 1 statistics (the paper's dataset table): counts, and median / mean / SD."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

COUNT_ROWS = (("Users", "users"), ("Items", "items"), ("Sessions", "sessions"), ("Events", "events"))
SPREAD_ROWS = (("Events per item", "events_per_item"), ("Events per session", "events_per_session"),
               ("Sessions per user", "sessions_per_user"))
SPLIT_ROWS = (("Train events", "train_events"), ("Train sessions", "train_sessions"),
              ("Test events", "test_events"), ("Test sessions", "test_sessions"))


def spread_cells(spread: dict[str, float]) -> list[str]:
    return [f"{spread['median']:g}", f"{spread['mean']:.1f}", f"{spread['std']:.1f}"]


def statistics_rows(statistics: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(label, cells) rows of a Table 1 statistics dictionary: a count, or median, mean and
    standard deviation; then the events left after each filter."""
    rows = [(label, [f"{statistics[key]:,}"]) for label, key in COUNT_ROWS if key in statistics]
    rows += [(label, spread_cells(statistics[key])) for label, key in SPREAD_ROWS if key in statistics]
    rows += [(label, [f"{statistics[key]:,}"]) for label, key in SPLIT_ROWS if key in statistics]
    for step, left in (statistics.get("filter_counts") or {}).items():
        rows.append((f"Events after {step}", [f"{left:,}"]))
    return rows


class StatisticsTable(QTableWidget):
    """Read-only table of Table 1 statistics."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 4, parent)
        self.setHorizontalHeaderLabels(["Statistic", "Value / median", "Mean", "SD"])
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(24)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the table fills its box
        header.setMinimumSectionSize(40)

    def show_statistics(self, statistics: dict[str, Any] | None) -> None:
        rows = statistics_rows(statistics) if statistics else []
        self.setRowCount(len(rows))
        for index, (label, cells) in enumerate(rows):
            self.setItem(index, 0, QTableWidgetItem(label))
            for column in range(1, 4):
                value = QTableWidgetItem(cells[column - 1] if column - 1 < len(cells) else "")
                value.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(index, column, value)

    def value_text(self, label: str) -> str | None:
        for row in range(self.rowCount()):
            name, value = self.item(row, 0), self.item(row, 1)
            if name is not None and value is not None and name.text() == label:
                return value.text()
        return None
