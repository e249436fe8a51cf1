"""A user's sessions on a timeline: one row per session in time order (its start date on the left
axis), one marker per event along the row, labelled with the item's original id (shortened to the
room it has; hovering a marker shows the item with its title). The test session is the last row,
shaded; its events up to the current step are filled, the next one (the target) is ringed. Items of
the user's history that come back in the test session are drawn in orange.

However many events a user has, the timeline is a handful of graphics items: one scatter of the
history's markers, one of the test session's, and one layer that paints every label in one pass
(only those in view). It is drawn when it is shown: a user picked while Inspection is hidden costs
nothing until the panel is opened."""
from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Slot
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QShowEvent
from PySide6.QtWidgets import QLabel, QStyleOptionGraphicsItem, QVBoxLayout, QWidget

from engine.workbench.inspection import UserSessions

HISTORY_COLOUR = "#94a3b8"
RETURNING_COLOUR = "#ea580c"
CONSUMED_COLOUR = "#1d4ed8"
TARGET_COLOUR = "#dc2626"
TEST_SHADE = (253, 230, 138, 90)
VISIBLE_ROWS = 7  # the most recent sessions shown at first (scroll for the older ones)
#: Room above the first row shown, in rows: its labels fit, the row above it stays wholly out of view.
TOP_MARGIN = 0.8
ROW_HEIGHT_LINES = 3.4  # a row needs this many lines of text: its markers and two staggered label lines
MIN_LABEL_CHARS = 2  # labels shorter than this say nothing: then only hovering shows the items
LABEL_POINT_SIZE = 8
LABEL_GAP_PX = 4  # between two labels of the same line
MARKER_SIZE = 11
AXIS_TEXT = "#374151"
KEY = (f'<span style="color:{HISTORY_COLOUR}">●</span> history &nbsp; '
       f'<span style="color:{RETURNING_COLOUR}">●</span> comes back in the test session &nbsp; '
       f'<span style="color:{CONSUMED_COLOUR}">●</span> test events consumed &nbsp; '
       f'<span style="color:{TARGET_COLOUR}">◯</span> the next item. Scroll for older sessions.')
KEY_TIP = ("Grey: an item of one of the user's training sessions; orange: one that comes back in the test session; "
           "blue: the test session's events consumed so far; the red ring: the next item, which the runs predict.")


def _date(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M")


class LabelLayer(pg.GraphicsObject):
    """Every item id of the timeline, painted in one pass above its marker: neighbours alternate
    between two lines (twice the room each), each id shortened to the room it has, and only the
    labels in view are painted."""

    def __init__(self) -> None:
        super().__init__()
        self.font = QFont()
        self.font.setPointSize(LABEL_POINT_SIZE)
        self.x = np.zeros(0)
        self.y = np.zeros(0)
        self.texts: list[str] = []
        self.drawn: list[str] = []  # the labels painted last (elided), for tests and screenshots

    def set_labels(self, x: np.ndarray, y: np.ndarray, texts: list[str]) -> None:
        self.prepareGeometryChange()
        self.x, self.y, self.texts = np.asarray(x, dtype=float), np.asarray(y, dtype=float), texts
        self.update()

    def boundingRect(self) -> QRectF:
        if not len(self.x):
            return QRectF()
        return QRectF(float(self.x.min()) - 1, float(self.y.min()) - 1, float(np.ptp(self.x)) + 2,
                      float(np.ptp(self.y)) + 2)

    def paint(self, painter: QPainter, _option: QStyleOptionGraphicsItem, _widget: QWidget | None = None) -> None:
        view = self.getViewBox()
        if not len(self.x) or view is None:
            self.drawn = []
            return
        (left, right), (top, bottom) = view.viewRange()
        shown = np.flatnonzero((self.x >= left) & (self.x <= right) & (self.y >= top - 1) & (self.y <= bottom + 1))
        transform = painter.transform()
        per_event = abs(transform.map(QPointF(1, 0)).x() - transform.map(QPointF(0, 0)).x())
        metrics = QFontMetrics(self.font)
        room = int(2 * per_event) - LABEL_GAP_PX  # neighbours sit on the other line
        drawn: list[str] = []
        if room < metrics.horizontalAdvance("0" * MIN_LABEL_CHARS):
            self.drawn = []
            return
        painter.save()
        painter.resetTransform()
        painter.setFont(self.font)
        painter.setPen(QColor(AXIS_TEXT))
        line = metrics.height()
        for index in shown.tolist():
            text = metrics.elidedText(self.texts[index], Qt.TextElideMode.ElideRight, room)
            point = transform.map(QPointF(self.x[index], self.y[index]))
            far = int(self.x[index]) % 2 == 0
            baseline = point.y() - MARKER_SIZE / 2 - 3 - (line if far else 0) - metrics.descent()
            width = metrics.horizontalAdvance(text)
            painter.drawText(QPointF(point.x() - width / 2, baseline), text)
            drawn.append(text)
        painter.restore()
        self.drawn = drawn


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
        self._pending: tuple[UserSessions, np.ndarray, str, np.ndarray | None] | None = None  # drawn when shown
        self._step_items: list[pg.GraphicsObject] = []
        self._titles: list[str] = []  # the test session's items as hovering shows them
        self.labels = LabelLayer()
        self.history: pg.ScatterPlotItem | None = None
        self.plot_item.getViewBox().sigResized.connect(self._on_resized)
        self.key = QLabel(KEY)
        self.key.setObjectName("mutedLabel")
        self.key.setToolTip(KEY_TIP)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.key)

    def clear(self) -> None:
        self.plot_item.clear()
        self.sessions, self.n_rows, self._step_items, self._pending, self.history = None, 0, [], None, None
        self.labels.set_labels(np.zeros(0), np.zeros(0), [])
        self.plot_item.setTitle(None)

    def show_user(self, sessions: UserSessions, item_ids: np.ndarray, user_id: str,
                  titles: np.ndarray | None = None) -> None:
        """Show ``sessions`` (dense item codes; ``item_ids`` gives their original ids, ``titles``
        what hovering shows, e.g. "1 · Toy Story"): drawn now if the timeline is shown, else when it is."""
        self.clear()
        self.sessions = sessions
        self.n_rows = len(sessions.train_items) + 1
        self.step = 1
        self._pending = (sessions, item_ids, user_id, titles)
        if self.isVisible():
            self._draw_pending()

    def drawn(self) -> bool:
        """Whether the user shown is drawn (not waiting for the timeline to be shown)."""
        return self.sessions is not None and self._pending is None

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._pending is not None:
            self._draw_pending()

    def _draw_pending(self) -> None:
        assert self._pending is not None
        sessions, item_ids, user_id, titles = self._pending
        self._pending = None
        self._draw(sessions, item_ids, user_id, titles if titles is not None else item_ids)

    def _draw(self, sessions: UserSessions, item_ids: np.ndarray, user_id: str, titles: np.ndarray) -> None:
        self._titles = [str(titles[item]) for item in sessions.test_items.tolist()]
        rows = [*sessions.train_items, sessions.test_items]
        starts = [*sessions.train_starts.tolist(), sessions.test_start]
        test_row = self.n_rows - 1
        test_items = set(sessions.test_items.tolist())
        self.plot_item.addItem(pg.LinearRegionItem((test_row - 0.45, test_row + 0.45), orientation="horizontal",
                                                   brush=pg.mkBrush(*TEST_SHADE), pen=pg.mkPen(None), movable=False))
        lengths = np.array([len(items) for items in rows], dtype=np.int64)
        every = np.concatenate(rows) if len(rows) else np.zeros(0, dtype=np.int64)
        ys = np.repeat(np.arange(len(rows)), lengths)
        xs = np.concatenate([np.arange(1, n + 1) for n in lengths]) if len(rows) else np.zeros(0)
        history = ys < test_row
        returning = history.copy()
        returning[history] = np.isin(every[history], list(test_items))
        for mask, colour in ((history & ~returning, HISTORY_COLOUR), (returning, RETURNING_COLOUR)):
            scatter = pg.ScatterPlotItem(  # one brush per item: no brush per point to build
                x=xs[mask], y=ys[mask], size=MARKER_SIZE, pen=None, brush=pg.mkBrush(colour),
                data=[str(titles[item]) for item in every[mask].tolist()], hoverable=True, tip="item {data}".format)
            self.plot_item.addItem(scatter)
            if colour == HISTORY_COLOUR:
                self.history = scatter
        self.labels.set_labels(xs, ys, [str(item_ids[item]) for item in every.tolist()])
        self.plot_item.addItem(self.labels)
        ticks = [(row, _date(start) if start is not None else "") for row, start in enumerate(starts)]
        ticks[-1] = (test_row, f"test · {ticks[-1][1]}")
        self.plot_item.getAxis("left").setTicks([ticks, []])
        longest = int(lengths.max()) if len(lengths) else 1
        self.plot_item.setXRange(0.5, longest + 0.5, padding=0.02)
        self.plot_item.getViewBox().setLimits(yMin=-TOP_MARGIN - 0.05, yMax=test_row + 1, minYRange=1.5)
        self._show_recent_rows()
        self.plot_item.setTitle(f"Sessions of user {user_id}: {len(sessions.train_items)} for training, "
                                f"then the test session", size="10pt")
        self._draw_step()

    def rows_that_fit(self) -> int:
        """How many session rows the plot's height holds with their labels readable."""
        line = QFontMetrics(self.plot_widget.font()).height()
        height = self.plot_item.getViewBox().height()
        return max(2, min(VISIBLE_ROWS, int(height / (ROW_HEIGHT_LINES * line)) if height > 0 else VISIBLE_ROWS))

    def _show_recent_rows(self) -> None:
        """Show the most recent sessions that fit (the test session last; scroll for older ones),
        with room above the first row for its labels and none for a row above it."""
        if self.sessions is None or self._pending is not None:
            return
        test_row = self.n_rows - 1
        first = max(0, test_row - self.rows_that_fit() + 1)
        self.plot_item.setYRange(first - TOP_MARGIN, test_row + 0.5, padding=0)

    def first_row_shown(self) -> float:
        """The top of the view, in rows (a row whose marker lies above it is not in view)."""
        return float(self.plot_item.getViewBox().viewRange()[1][0])

    @Slot()
    def _on_resized(self) -> None:
        self._show_recent_rows()

    def set_step(self, step: int) -> None:
        """Mark the test events consumed at ``step`` (1 = after the first) and the next one."""
        self.step = step
        if self.sessions is not None and self._pending is None:
            self._draw_step()

    def _draw_step(self) -> None:
        assert self.sessions is not None
        for item in self._step_items:
            self.plot_item.removeItem(item)
        step = self.step
        test_row = self.n_rows - 1
        positions = np.arange(1, len(self.sessions.test_items) + 1)
        consumed = positions <= step
        titles = np.asarray(self._titles, dtype=object)
        self._step_items = [
            pg.ScatterPlotItem(x=positions[consumed], y=np.full(consumed.sum(), test_row), size=MARKER_SIZE,
                               pen=None, brush=pg.mkBrush(CONSUMED_COLOUR), data=titles[consumed], hoverable=True,
                               tip="item {data}".format),
            pg.ScatterPlotItem(x=positions[~consumed], y=np.full((~consumed).sum(), test_row), size=MARKER_SIZE,
                               pen=pg.mkPen(CONSUMED_COLOUR, width=1.5), brush=pg.mkBrush("w"),
                               data=titles[~consumed], hoverable=True, tip="item {data}".format),
        ]
        if step < len(positions):
            self._step_items.append(pg.ScatterPlotItem(x=[step + 1], y=[test_row], size=20, brush=None,
                                                       pen=pg.mkPen(TARGET_COLOUR, width=2.5)))
        for item in self._step_items:
            self.plot_item.addItem(item)
