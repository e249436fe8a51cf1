"""How the plots tell models (or runs) apart: a palette of ten colours, and once the colours run out,
the same colours again with another fill pattern (bars), line style (curves) and marker shape, so
that at least 30 series stay distinct; and a legend whose entries never break inside a label."""
from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLayout, QLayoutItem, QSizePolicy, QWidget

#: Ten colours that stay apart for most forms of colour blindness (Tableau's order, darker).
COLOURS = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#4b5563", "#db2777",
           "#65a30d")
#: The fill of a bar in each round of the colours: solid, then hatched, then cross-hatched.
PATTERNS = (Qt.BrushStyle.SolidPattern, Qt.BrushStyle.BDiagPattern, Qt.BrushStyle.DiagCrossPattern)
#: The line of a curve in each round: solid, dashed, dotted.
LINE_STYLES = (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine, Qt.PenStyle.DotLine)
#: The marker of a curve's points in each round (pyqtgraph's symbols): circle, square, triangle.
MARKERS = ("o", "s", "t")
SWATCH_PX = 12


@dataclass(frozen=True)
class SeriesStyle:
    """How the series at one index is drawn."""

    colour: str
    pattern: Qt.BrushStyle
    line: Qt.PenStyle
    marker: str

    @property
    def solid(self) -> bool:
        return self.pattern == Qt.BrushStyle.SolidPattern

    def brush(self) -> QBrush:
        """A bar's fill: the colour, hatched from the second round on."""
        return QBrush(QColor(self.colour), self.pattern)

    def bar_pen(self) -> QPen:
        return pg.mkPen(self.colour, width=1.5 if self.solid else 2)

    def line_pen(self, width: float = 2) -> QPen:
        pen = pg.mkPen(self.colour, width=width)
        pen.setStyle(self.line)
        return pen


def series_style(index: int) -> SeriesStyle:
    """The style of the series at ``index``: distinct for the first ``3 × 10`` indices."""
    colour = COLOURS[index % len(COLOURS)]
    round_ = (index // len(COLOURS)) % len(PATTERNS)
    return SeriesStyle(colour, PATTERNS[round_], LINE_STYLES[round_], MARKERS[round_])


def model_colour(index: int) -> str:
    return series_style(index).colour


def swatch(style: SeriesStyle, kind: str = "bar") -> QPixmap:
    """A legend's sample of a series: a filled square (bars) or a short line with its marker (curves)."""
    pixmap = QPixmap(SWATCH_PX * 2 if kind == "line" else SWATCH_PX, SWATCH_PX)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if kind == "line":
        painter.setPen(style.line_pen(2))
        painter.drawLine(1, SWATCH_PX // 2, pixmap.width() - 1, SWATCH_PX // 2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(style.colour))
        centre = QPoint(pixmap.width() // 2, SWATCH_PX // 2)
        painter.drawEllipse(centre, 3, 3)
    else:
        painter.setPen(style.bar_pen())
        painter.setBrush(style.brush())
        painter.drawRect(1, 1, SWATCH_PX - 2, SWATCH_PX - 2)
    painter.end()
    return pixmap


class FlowLayout(QLayout):
    """Lays its items out left to right, starting a new line where the next item does not fit
    (an item itself is never broken)."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 12, line_spacing: int = 2) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing, self._line_spacing = spacing, line_spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size

    def _arrange(self, rect: QRect, move: bool) -> int:
        x, y, line_height = rect.x(), rect.y(), 0
        for item in self._items:
            hint = item.sizeHint()
            if x + hint.width() > rect.right() + 1 and line_height > 0:
                x, y = rect.x(), y + line_height + self._line_spacing
                line_height = 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._spacing
            line_height = max(line_height, hint.height())
        return y + line_height - rect.y()


class LegendEntry(QWidget):
    """A swatch and a label that never wraps."""

    def __init__(self, text: str, pixmap: QPixmap, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.swatch = QLabel()
        self.swatch.setPixmap(pixmap)
        self.label = QLabel(text)
        self.label.setWordWrap(False)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.swatch)
        layout.addWidget(self.label)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)


class PlotLegend(QWidget):
    """The series of a plot, as many per line as fit; each entry whole."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = FlowLayout(self)
        self.entries: list[LegendEntry] = []
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def set_entries(self, entries: list[tuple[str, SeriesStyle]], kind: str = "bar") -> None:
        """(label, style) per series, in order."""
        for entry in self.entries:
            self._layout.removeWidget(entry)
            entry.deleteLater()
        self.entries = []
        for text, style in entries:
            entry = LegendEntry(text, swatch(style, kind), self)
            self._layout.addWidget(entry)
            self.entries.append(entry)
        self.updateGeometry()

    def labels(self) -> list[str]:
        return [entry.label.text() for entry in self.entries]

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._layout.heightForWidth(width)

    def sizeHint(self) -> QSize:
        width = max(self.width(), 200)
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:
        return QSize(0, self.heightForWidth(max(self.width(), 200)) if self.entries else 0)
