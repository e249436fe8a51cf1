"""One run's top-K at one step of the test session: the items (original ids) best first, the
actual next item highlighted and its rank stated above the list, with the items tied with it
(scored exactly like it: its rank counts them above it, conservative ties); or why it cannot be
shown."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.workbench.inspection import StepRecommendations
from engine.workbench.results import DEFAULT_TIE_MODE, TIE_MODE_PHRASES

COLUMNS = ("Rank", "Item", "Score", "Seen")
TARGET_BACKGROUND = "#fde68a"
ROWS_SHOWN = 10  # the column asks for room for a top 10 without scrolling
ROWS_AT_LEAST = 4  # and makes do with this many (it scrolls) on a small screen
SEEN_TIP = "history: in one of the user's training sessions; session: earlier in this test session"
RANK_TIP = (f"Ranked with {TIE_MODE_PHRASES[DEFAULT_TIE_MODE]}, as the evaluation ranks it.\n“Tied with N items”: "
            "N other items got exactly the next item's score, so its rank depends on how ties count.")


def format_rank(rank: float) -> str:
    return f"{rank:,.0f}" if float(rank).is_integer() else f"{rank:,.1f}"


def tied_text(tied: int | None) -> str:
    """", tied with 3 items" when the next item shares its score with others, else ""."""
    if not tied:
        return ""
    return f", tied with <b>{tied:,}</b> item{'s' if tied != 1 else ''}"


class ElidedLabel(QLabel):
    """One line of text, shortened with "…" to the width it has (the whole text as its tooltip)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        super().setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(self.width(), 1)))


class RecommendationColumn(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = ElidedLabel()
        bold = QFont()
        bold.setBold(True)
        self.title.setFont(bold)
        self.rank_label = QLabel()
        self.rank_label.setWordWrap(True)
        self.rank_label.setToolTip(RANK_TIP)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setObjectName("errorLabel")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        seen_header = self.table.horizontalHeaderItem(3)
        if seen_header is not None:
            seen_header.setToolTip(SEEN_TIP)
        self.table.verticalHeader().setVisible(False)
        row_height = self.fontMetrics().height() + 5  # 8 rows at 1280 x 720 with the log open
        self.table.verticalHeader().setDefaultSectionSize(row_height)
        self._preferred_height = row_height * (ROWS_SHOWN + 1) + 4 * self.fontMetrics().height() + 24
        self.setMinimumHeight(row_height * (ROWS_AT_LEAST + 1) + 4 * self.fontMetrics().height() + 24)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.rank_label)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        self.target_row: int | None = None

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(hint.width(), max(hint.height(), self._preferred_height))

    def _show(self, title: str, rank_text: str, message: str) -> None:
        self.title.setText(title)
        self.rank_label.setText(rank_text)
        self.rank_label.setVisible(bool(rank_text))
        self.message.setText(message)
        self.message.setVisible(bool(message))
        self.table.setVisible(not message)
        self.table.setRowCount(0)
        self.target_row = None

    def show_waiting(self, title: str) -> None:
        self._show(title, "Computing the recommendations…", "")

    def show_error(self, title: str, error: str, stored_rank: float | None, target: str,
                   stored_tied: int | None = None) -> None:
        """The run cannot be replayed: say why, with the next item's stored rank (and the items tied
        with it) when there is one."""
        stored = (f"Stored rank of the next item {target}: {format_rank(stored_rank)}{tied_text(stored_tied)}"
                  if stored_rank is not None else "")
        self._show(title, stored, f"Cannot recompute the recommendations: {error}")

    def show_step(self, title: str, step: StepRecommendations, k: int, item_ids: np.ndarray,
                  history: set[int], earlier: set[int]) -> None:
        """``history``: the user's training items; ``earlier``: items consumed in this test session."""
        rank = step.target_rank
        target = item_ids[step.target_item]
        where = "in the top" if rank <= k else "not in the top"
        self._show(title, f"Next item <b>{target}</b>: rank <b>{format_rank(rank)}</b> ({where} {k})"
                          f"{tied_text(step.target_tied)}", "")
        tie_tip = (f"The next item, scored exactly like {step.target_tied:,} other item(s): its rank "
                   f"{format_rank(rank)} counts them above it" if step.target_tied else "")
        top = step.top_items[:k]
        self.table.setRowCount(len(top))
        for row, (item, score) in enumerate(zip(top.tolist(), step.top_scores[:k].tolist(), strict=True)):
            seen = "session" if item in earlier else "history" if item in history else ""
            cells = (str(row + 1), str(item_ids[item]), f"{score:.3f}" if math.isfinite(score) else str(score), seen)
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if column in (0, 2):
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if item == step.target_item:
                    cell.setBackground(QBrush(QColor(TARGET_BACKGROUND)))
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
                    cell.setToolTip(tie_tip)
                self.table.setItem(row, column, cell)
            if item == step.target_item:
                self.target_row = row

    def items(self) -> list[str]:
        cells = (self.table.item(row, 1) for row in range(self.table.rowCount()))
        return [cell.text() if cell is not None else "" for cell in cells]
