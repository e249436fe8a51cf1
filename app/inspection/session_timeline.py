"""A user's sessions on a timeline: one row per session in time order (its start date on the left
axis), one marker per event along the row, labelled with the item's original id (shortened to the
room between markers; hovering a marker shows the item with its title). The test session is the
last row, shaded; its events up to the current step are filled, the next one (the target) is
ringed. Items of the user's history that come back in the test session are drawn in orange."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from engine.workbench.inspection import UserSessions

HISTORY_COLOUR = "#94a3b8"
RETURNING_COLOUR = "#ea580c"
CONSUMED_COLOUR = "#1d4ed8"
TARGET_COLOUR = "#dc2626"
TEST_SHADE = (253, 230, 138, 90)
VISIBLE_ROWS = 7  # the most recent sessions shown at first (scroll for the older ones)
LABEL_OFFSET = 0.2  # of a row: item ids above their markers
TOP_MARGIN = 0.95  # of a row, above the first row shown: room for its labels
LABEL_GAP_PX = 6  # between two neighbouring labels
ROW_HEIGHT_LINES = 2.6  # a row needs this many lines of text: its markers and their labels
MIN_LABEL_CHARS = 3  # labels shorter than this say nothing: then only hovering shows the items
MAX_LABELS = 400  # item ids written next to the markers up to this many events
AXIS_TEXT = "#374151"
KEY = (f'<span style="color:{HISTORY_COLOUR}">●</span> item of a training session &nbsp; '
       f'<span style="color:{RETURNING_COLOUR}">●</span> one that comes back in the test session &nbsp; '
       f'<span style="color:{CONSUMED_COLOUR}">●</span> test events consumed &nbsp; '
       f'<span style="color:{TARGET_COLOUR}">◯</span> the next item (the target). Scroll for older sessions.')


def _date(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


class SessionTimeline(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget(background="w")
        self.plot_item: pg.PlotItem = self.plot_widget.getPlotItem()
        self.plot_item.setMenuEnabled(False)
        self.plot_item.hideButtons()
        self.plot_item.invertY(True)
        self.plot_item.setMouseEnabled(x=False, y=True)
        self.plot_item.setLabel("bottom", "event in the session")
        for name in ("left", "bottom"):
            self.plot_item.getAxis(name).setTextPen(AXIS_TEXT)
        self.sessions: UserSessions | None = None
        self.n_rows = 0
        self.step = 0
        self._step_items: list[pg.GraphicsObject] = []
        self._titles: list[str] = []  # the test session's items as hovering shows them
        self.labels: list[tuple[pg.TextItem, str]] = []  # (label, full item id)
        self.plot_item.getViewBox().sigResized.connect(self._on_resized)
        self.plot_item.getViewBox().sigRangeChanged.connect(self._fit_labels)
        self.key = QLabel(KEY)
        self.key.setObjectName("mutedLabel")
        self.key.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.key)

    def clear(self) -> None:
        self.plot_item.clear()
        self.sessions, self.n_rows, self._step_items, self.labels = None, 0, [], []
        self.plot_item.setTitle(None)

    def show_user(self, sessions: UserSessions, item_ids: np.ndarray, user_id: str,
                  titles: np.ndarray | None = None) -> None:
        """Draw ``sessions`` (dense item codes; ``item_ids`` gives their original ids, ``titles``
        what hovering shows, e.g. "1 · Toy Story")."""
        self.clear()
        titles = titles if titles is not None else item_ids
        self.sessions = sessions
        self._titles = [str(titles[item]) for item in sessions.test_items.tolist()]
        rows = [*sessions.train_items, sessions.test_items]
        starts = [*sessions.train_starts.tolist(), sessions.test_start]
        self.n_rows = len(rows)
        test_row = self.n_rows - 1
        test_items = set(sessions.test_items.tolist())
        self.plot_item.addItem(pg.LinearRegionItem((test_row - 0.45, test_row + 0.45), orientation="horizontal",
                                                   brush=pg.mkBrush(*TEST_SHADE), pen=pg.mkPen(None), movable=False))
        xs, ys, colours, tips = [], [], [], []
        for row, items in enumerate(rows[:-1]):
            for position, item in enumerate(items.tolist(), start=1):
                xs.append(position)
                ys.append(row)
                colours.append(RETURNING_COLOUR if item in test_items else HISTORY_COLOUR)
                tips.append(str(titles[item]))
        history = pg.ScatterPlotItem(x=xs, y=ys, size=11, pen=None, brush=[pg.mkBrush(c) for c in colours],
                                     data=tips, hoverable=True, tip="item {data}".format)
        self.plot_item.addItem(history)
        total_events = sum(len(items) for items in rows)
        if total_events <= MAX_LABELS:
            for row, items in enumerate(rows):
                for position, item in enumerate(items.tolist(), start=1):
                    label = pg.TextItem(str(item_ids[item]), color=AXIS_TEXT, anchor=(0.5, 1.0))
                    label.setPos(position, row - LABEL_OFFSET)
                    self.plot_item.addItem(label)
                    self.labels.append((label, str(item_ids[item])))
        ticks = [(row, _date(start) if start is not None else "") for row, start in enumerate(starts)]
        ticks[-1] = (test_row, f"test · {ticks[-1][1]}")
        self.plot_item.getAxis("left").setTicks([ticks, []])
        longest = max((len(items) for items in rows), default=1)
        self.plot_item.setXRange(0.5, longest + 0.5, padding=0.02)
        self.plot_item.getViewBox().setLimits(yMin=-TOP_MARGIN - 0.05, yMax=test_row + 1, minYRange=1.5)
        self._show_recent_rows()
        self.plot_item.setTitle(f"Sessions of user {user_id}: {len(sessions.train_items)} for training, "
                                f"then the test session", size="10pt")
        self.set_step(1)
        self._fit_labels()

    def rows_that_fit(self) -> int:
        """How many session rows the plot's height holds with their labels readable."""
        line = QFontMetrics(self.plot_widget.font()).height()
        height = self.plot_item.getViewBox().height()
        return max(2, min(VISIBLE_ROWS, int(height / (ROW_HEIGHT_LINES * line)) if height > 0 else VISIBLE_ROWS))

    def _show_recent_rows(self) -> None:
        """Show the most recent sessions that fit (the test session last; scroll for older ones),
        with room above the first row for its labels."""
        if self.sessions is None:
            return
        test_row = self.n_rows - 1
        self.plot_item.setYRange(max(-TOP_MARGIN, test_row - self.rows_that_fit() + 1 - TOP_MARGIN),
                                 test_row + 0.5, padding=0)

    @Slot()
    def _on_resized(self) -> None:
        self._show_recent_rows()
        self._fit_labels()

    @Slot()
    def _fit_labels(self) -> None:
        """Shorten the item ids to the room between two markers (whole when they fit), so that
        neighbouring labels never run into each other; hovering a marker shows the whole id."""
        if not self.labels:
            return
        view = self.plot_item.getViewBox()
        (left, right), _ = view.viewRange()
        pixels_per_event = view.width() / max(right - left, 1e-9)
        metrics = QFontMetrics(self.labels[0][0].textItem.font())
        room = int(pixels_per_event) - LABEL_GAP_PX
        readable = room >= metrics.horizontalAdvance("0" * MIN_LABEL_CHARS)
        for label, text in self.labels:
            shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, room) if readable else ""
            if shown != label.textItem.toPlainText():
                label.setText(shown)

    def set_step(self, step: int) -> None:
        """Mark the test events consumed at ``step`` (1 = after the first) and the next one."""
        if self.sessions is None:
            return
        for item in self._step_items:
            self.plot_item.removeItem(item)
        self.step = step
        test_row = self.n_rows - 1
        positions = np.arange(1, len(self.sessions.test_items) + 1)
        consumed = positions <= step
        titles = np.asarray(self._titles, dtype=object)
        self._step_items = [
            pg.ScatterPlotItem(x=positions[consumed], y=np.full(consumed.sum(), test_row), size=11, pen=None,
                               brush=pg.mkBrush(CONSUMED_COLOUR), data=titles[consumed], hoverable=True,
                               tip="item {data}".format),
            pg.ScatterPlotItem(x=positions[~consumed], y=np.full((~consumed).sum(), test_row), size=11,
                               pen=pg.mkPen(CONSUMED_COLOUR, width=1.5), brush=pg.mkBrush("w"),
                               data=titles[~consumed], hoverable=True, tip="item {data}".format),
        ]
        if step < len(positions):
            self._step_items.append(pg.ScatterPlotItem(x=[step + 1], y=[test_row], size=20, brush=None,
                                                       pen=pg.mkPen(TARGET_COLOUR, width=2.5)))
        for item in self._step_items:
            self.plot_item.addItem(item)
