"""A dataset's Table 1 statistics (the paper's dataset table) as a two-column table."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

COUNT_ROWS = (("Users", "users"), ("Items", "items"), ("Sessions", "sessions"), ("Events", "events"))
SPREAD_ROWS = (("Events per item", "events_per_item"), ("Events per session", "events_per_session"),
               ("Sessions per user", "sessions_per_user"))
SPLIT_ROWS = (("Train events", "train_events"), ("Train sessions", "train_sessions"),
              ("Test events", "test_events"), ("Test sessions", "test_sessions"))


def format_spread(spread: dict[str, float]) -> str:
    return f"median {spread['median']:g} · mean {spread['mean']:.1f} · sd {spread['std']:.1f}"


def statistics_rows(statistics: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) rows of a Table 1 statistics dictionary, then the events left after each filter."""
    rows = [(label, f"{statistics[key]:,}") for label, key in COUNT_ROWS if key in statistics]
    rows += [(label, format_spread(statistics[key])) for label, key in SPREAD_ROWS if key in statistics]
    rows += [(label, f"{statistics[key]:,}") for label, key in SPLIT_ROWS if key in statistics]
    for step, left in (statistics.get("filter_counts") or {}).items():
        rows.append((f"Events after {step}", f"{left:,}"))
    return rows


class StatisticsTable(QTableWidget):
    """Read-only table of Table 1 statistics."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        self.setHorizontalHeaderLabels(["Statistic", "Value"])
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

    def show_statistics(self, statistics: dict[str, Any] | None) -> None:
        rows = statistics_rows(statistics) if statistics else []
        self.setRowCount(len(rows))
        for index, (label, text) in enumerate(rows):
            self.setItem(index, 0, QTableWidgetItem(label))
            value = QTableWidgetItem(text)
            value.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(index, 1, value)
        self.resizeRowsToContents()

    def value_text(self, label: str) -> str | None:
        for row in range(self.rowCount()):
            if self.item(row, 0).text() == label:
                return self.item(row, 1).text()
        return None
