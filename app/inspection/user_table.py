"""The users one can inspect, as a sortable and filterable table: original id, number of training
sessions, length of the test session, and the hits@K of each chosen run in the test session.

Tens of thousands of users stay smooth: the model sorts its own rows (one Python sort over a key
list, not a comparison per pair through the proxy), the proxy only filters, and the columns are as
wide as their longest text (measured on the lists, not by asking every cell)."""
from __future__ import annotations

from typing import Any

import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt

FIXED_COLUMNS = ("User", "Sessions", "Test")
FIXED_TIPS = ("The user's original id", "Training sessions (the user's history)", "Events in the test session")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
USER_ROLE = Qt.ItemDataRole.UserRole + 2  # the user's dense code

_Index = QModelIndex | QPersistentModelIndex


class UserTableModel(QAbstractTableModel):
    """Rows are users (by dense code); cells are read from plain lists, so that tens of thousands
    of users sort and scroll smoothly."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._codes: list[int] = []
        self._columns: list[list] = [[], [], []]  # user id, training sessions, test events
        self._id_keys: list = []  # sort keys of the ids: numbers when every id is a number
        self._hits: list[tuple[str, str, list[int] | None]] = []  # (header, tooltip, hits per row or None)
        self._sort: tuple[int, Qt.SortOrder] | None = None  # the order shown (kept across new data)

    def set_users(self, users: pd.DataFrame) -> None:
        """``users``: columns user (code), user_id (original, text), train_sessions, test_length."""
        self.beginResetModel()
        self._codes = users["user"].astype(int).tolist()
        ids = users["user_id"].astype(str).tolist()
        self._columns = [ids, users["train_sessions"].astype(int).tolist(), users["test_length"].astype(int).tolist()]
        numeric = bool(ids) and all(i.isdigit() and len(i) < 19 for i in ids)
        self._id_keys = [int(i) for i in ids] if numeric else ids
        self._hits = []
        self._apply_sort()
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Order the rows by a column's values (numbers as numbers; users still loading last)."""
        self.layoutAboutToBeChanged.emit()
        self._sort = (column, order)
        self._apply_sort()
        self.layoutChanged.emit()

    def _apply_sort(self) -> None:
        if self._sort is None or not self._codes or self._sort[0] >= self.columnCount():
            return
        column, order = self._sort
        keys = self._id_keys if column == 0 else [-1 if value is None else value for value in
                                                  (self._value(row, column) for row in range(len(self._codes)))]
        rows = sorted(range(len(self._codes)), key=keys.__getitem__, reverse=order == Qt.SortOrder.DescendingOrder)
        self._codes = [self._codes[row] for row in rows]
        self._columns = [[values[row] for row in rows] for values in self._columns]
        self._id_keys = [self._id_keys[row] for row in rows]
        self._hits = [(header, tip, None if hits is None else [hits[row] for row in rows])
                      for header, tip, hits in self._hits]

    def column_texts(self, column: int) -> list[str]:
        """Every text of a column (its header first): what its width must hold."""
        header = str(self.headerData(column, Qt.Orientation.Horizontal))
        if column < len(FIXED_COLUMNS):
            return [header, *map(str, self._columns[column])]
        hits = self._hits[column - len(FIXED_COLUMNS)][2]
        return [header, *(map(str, hits) if hits is not None else ["…"])]

    def clear(self) -> None:
        self.set_users(pd.DataFrame({"user": [], "user_id": [], "train_sessions": [], "test_length": []}))

    def set_hits(self, columns: list[tuple[str, str, pd.Series | None]]) -> None:
        """One column per chosen run: (header, tooltip, hits per user code; None while loading)."""
        self.beginResetModel()
        self._hits = [(header, tip, None if hits is None else
                       hits.reindex(self._codes, fill_value=0).astype(int).tolist())
                      for header, tip, hits in columns]
        self._apply_sort()
        self.endResetModel()

    def user_at(self, row: int) -> int:
        return self._codes[row]

    def row_of(self, user: int) -> int | None:
        try:
            return self._codes.index(user)
        except ValueError:
            return None

    def sort_column(self) -> tuple[int, Qt.SortOrder] | None:
        return self._sort

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._codes)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(FIXED_COLUMNS) + len(self._hits)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        hit = self._hits[section - len(FIXED_COLUMNS)] if section >= len(FIXED_COLUMNS) else None
        if role == Qt.ItemDataRole.DisplayRole:
            return FIXED_COLUMNS[section] if hit is None else hit[0]
        if role == Qt.ItemDataRole.ToolTipRole:
            return FIXED_TIPS[section] if hit is None else hit[1]
        return None

    def _value(self, row: int, column: int) -> Any:
        if column < len(FIXED_COLUMNS):
            return self._columns[column][row]
        hits = self._hits[column - len(FIXED_COLUMNS)][2]
        return None if hits is None else hits[row]

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            value = self._value(row, column)
            return "…" if value is None else str(value)
        if role == SORT_ROLE:
            if column == 0:
                return self._id_keys[row]
            value = self._value(row, column)
            return -1 if value is None else value
        if role == USER_ROLE:
            return self._codes[row]
        if role == Qt.ItemDataRole.TextAlignmentRole and column > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class UserFilterProxy(QSortFilterProxyModel):
    """Keeps the users whose id contains the filter text; sorting is the source model's own."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterKeyColumn(0)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setDynamicSortFilter(False)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        source = self.sourceModel()
        if isinstance(source, UserTableModel):
            source.sort(column, order)  # the proxy keeps the source's order (it never sorts itself)
