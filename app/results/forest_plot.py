"""The verdict as a picture: a forest plot of each model's relative difference to the reference model
on one metric, with its 95% interval from a paired bootstrap over users. One row per model, the
largest difference on top; a point and its interval, green where the whole interval lies above 0
(better than the reference), red where it lies below (worse), grey where it crosses 0 (no clear
difference). A personalized model and its session-only twin (HRNN Init and RNN) are linked by a
dashed purple line, with the personalized model's own difference to its twin written beside it.
The figures are written at the right; the plot exports as PNG or SVG with everything inside."""
from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.plot_export import export_plot
from app.plot_text import EmptyPlotText
from engine.workbench.comparison_view import ForestPlotData, ForestRow, TwinLink
from engine.workbench.training import MODELS

BETTER = "#15803d"
WORSE = "#b91c1c"
UNCLEAR = "#6b7280"
REFERENCE = "#111827"
LINK = "#7c3aed"
AXIS_TEXT = "#374151"
ROW_PX = 18  # each model's row at least: the plot grows with the models (its scroll area scrolls)
MIN_HEIGHT = 220
CHROME_PX = 120  # title, axis and key around the rows
GUTTER = 0.05  # of the x range: the room of one link at the left
EMPTY = "Select runs to compare: the verdict as a picture appears once two models are evaluated"
KEY = (f'<span style="color:{BETTER}">&#9679;</span>&nbsp;better than the reference (its whole 95% interval '
       f'above 0)&nbsp;&nbsp; <span style="color:{WORSE}">&#9679;</span>&nbsp;worse&nbsp;&nbsp; '
       f'<span style="color:{UNCLEAR}">&#9679;</span>&nbsp;no clear difference (the interval crosses 0)'
       f'<br><span style="color:{LINK}">&#9474;</span>&nbsp;a personalized model and its session-only twin '
       f'(in purple: the personalized model against its twin)')


def percent(value: float) -> str:
    return f"{value * 100:+.1f}%" if math.isfinite(value) else "n/a"


def row_colour(row: ForestRow) -> str:
    if row.difference is None:
        return REFERENCE
    return BETTER if row.difference.above else WORSE if row.difference.below else UNCLEAR


def row_figures(row: ForestRow) -> str:
    """What the right axis says of a row: "+12.3% (+8.1% to +16.4%)", or "reference"."""
    if row.difference is None:
        return f"reference ({row.mean:.4f})"
    difference = row.difference
    if not math.isfinite(difference.low):
        return percent(difference.relative)
    return f"{percent(difference.relative)} ({percent(difference.low)} to {percent(difference.high)})"


def short_name(row: ForestRow) -> str:
    """The model's own label ("RNN") for the texts beside the points."""
    return MODELS[row.model_name].label if row.model_name in MODELS else row.label


def link_text(link: TwinLink, twin: ForestRow) -> str:
    """"vs RNN: +5.2% (+1.0% to +9.3%)": a personalized model against its session-only twin."""
    difference = link.difference
    interval = (f" ({percent(difference.low)} to {percent(difference.high)})"
                if math.isfinite(difference.low) else "")
    return f"vs {short_name(twin)}: {percent(difference.relative)}{interval}"


def title_of(data: ForestPlotData, caption: str = "") -> str:
    """The figure's title (in the exports too): what is compared with what, and how."""
    first = (f"{data.metric_title} relative to {data.reference}: "
             f"{data.confidence:.0%} intervals from a paired bootstrap over {data.n_users:,} users")
    second = "; ".join(part for part in (data.dataset_name, data.selection, caption) if part)
    return f"{html.escape(first)}<br><span style='font-size:9pt'>{html.escape(second)}</span>"


class ForestPlot(QWidget):
    """Draws a :class:`ForestPlotData` (see :meth:`show_data`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget(background="w")
        self.plot_widget.setMinimumHeight(MIN_HEIGHT)
        self.plot_item: pg.PlotItem = self.plot_widget.getPlotItem()
        self.plot_item.setMenuEnabled(False)
        self.plot_item.setMouseEnabled(x=False, y=False)
        self.plot_item.hideButtons()
        self.plot_item.showAxis("right")
        self.plot_item.invertY(True)
        for name in ("left", "bottom", "right"):
            axis = self.plot_item.getAxis(name)
            axis.setTextPen(AXIS_TEXT)
            axis.enableAutoSIPrefix(False)
        self.plot_item.showGrid(x=True, y=False, alpha=0.2)
        # the key under the axis, inside the plot item: the exports carry it
        self.key = pg.LabelItem(KEY, size="9pt", color=AXIS_TEXT)
        self.plot_item.layout.addItem(self.key, 4, 0, 1, 3)
        self._span = 10.0
        self.data: ForestPlotData | None = None
        self.points: dict[str, tuple[float, float]] = {}  # label -> (x, y) of its point
        self.link_items: list[pg.PlotDataItem] = []
        self.link_labels: list[pg.TextItem] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.plot_widget, 1)
        self.empty_text = EmptyPlotText(self.plot_widget, EMPTY)

    def clear(self, empty: str = EMPTY) -> None:
        self.plot_item.clear()
        self.plot_item.setTitle(None)
        self.data, self.points, self.link_items, self.link_labels = None, {}, [], []
        for name in ("left", "right"):
            self.plot_item.getAxis(name).setTicks([[], []])
        self.empty_text.show_text(empty)

    def show_data(self, data: ForestPlotData, caption: str = "") -> None:
        """Draw ``data``; ``caption``: how the ranks were computed (in the title, and so in the exports)."""
        self.clear()
        self.data = data
        if len(data.rows) < 2:
            self.empty_text.show_text("One model only: nothing to compare it with")
            return
        self.empty_text.show_text(None)
        rows = data.rows
        self.plot_item.addItem(pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen(REFERENCE, width=1.2)))
        for index, row in enumerate(rows):
            self._draw_row(index, row)
        low, high = self._set_x_range(rows)
        for index, link in enumerate(data.links):
            self._draw_link(link, low + GUTTER * (high - low) * (0.6 + index % 3))
        left = self.plot_item.getAxis("left")
        labels = [row.label for row in rows]
        left.setTicks([list(enumerate(labels)), []])
        right = self.plot_item.getAxis("right")
        figures = [row_figures(row) for row in rows]
        right.setTicks([list(enumerate(figures)), []])
        metrics = [QFontMetrics(font) for font in (right.font(), self.plot_widget.font())]
        # both axes as wide as their longest text (an offscreen export draws before they would grow)
        left.setWidth(max(m.horizontalAdvance(text) for m in metrics for text in labels) + 16)
        right.setWidth(max(m.horizontalAdvance(text) for m in metrics for text in figures) + 28)
        self.plot_item.setLabel("bottom", f"{data.metric_title}: difference to {data.reference} (%)")
        self.plot_item.setYRange(-0.7, len(rows) - 0.3, padding=0)
        self.plot_item.setTitle(title_of(data, caption), size="10pt")
        self.plot_widget.setMinimumHeight(max(MIN_HEIGHT, ROW_PX * len(rows) + CHROME_PX))

    def _draw_row(self, index: int, row: ForestRow) -> None:
        colour = row_colour(row)
        if row.difference is None:
            self.points[row.label] = (0.0, float(index))
            self.plot_item.addItem(pg.ScatterPlotItem(
                x=[0.0], y=[index], symbol="d", size=13, brush=pg.mkBrush(colour), pen=None, hoverable=True,
                data=[f"{row.label}: the reference, {row.mean:.4f}"], tip="{data}".format))
            return
        difference = row.difference
        x = difference.relative * 100
        if math.isfinite(difference.low):
            self.plot_item.addItem(pg.PlotDataItem([difference.low * 100, difference.high * 100], [index, index],
                                                   pen=pg.mkPen(colour, width=3)))
        if math.isfinite(x):
            self.points[row.label] = (x, float(index))
            tip = (f"{row.label}: {row.mean:.4f}, {row_figures(row)} against the reference "
                   f"({row.n_seeds} seed{'s' * (row.n_seeds != 1)})")
            self.plot_item.addItem(pg.ScatterPlotItem(x=[x], y=[index], symbol="o", size=11,
                                                      brush=pg.mkBrush(colour), pen=pg.mkPen("w", width=1),
                                                      hoverable=True, data=[tip], tip="{data}".format))

    def _draw_link(self, link: TwinLink, x: float) -> None:
        """A bracket in the left margin from the twin's row to the personalized model's, and the
        personalized model against its twin written after its interval."""
        assert self.data is not None
        rows = {row.label: (index, row) for index, row in enumerate(self.data.rows)}
        if link.model not in rows or link.twin not in rows:
            return
        (y_twin, twin), (y_model, model) = rows[link.twin], rows[link.model]
        tick = GUTTER * 0.5 * self._span
        line = pg.PlotDataItem([x + tick, x, x, x + tick], [y_twin, y_twin, y_model, y_model],
                               pen=pg.mkPen(LINK, width=1.5))
        self.plot_item.addItem(line)
        self.link_items.append(line)
        if self.data.reference == link.twin:
            return  # its difference to the reference is its difference to the twin: written already
        end = max(v for v in (model.difference.relative if model.difference else 0.0,
                              model.difference.high if model.difference else 0.0, 0.0) if math.isfinite(v)) * 100
        label = pg.TextItem(link_text(link, twin), color=LINK, anchor=(0.0, 0.5))
        label.setPos(end + 0.02 * self._span, y_model)
        self.plot_item.addItem(label)
        self.link_labels.append(label)

    def _set_x_range(self, rows: tuple[ForestRow, ...]) -> tuple[float, float]:
        """Every interval and 0, with room at the left for the links and at the right for their texts."""
        values = [0.0]
        for row in rows:
            if row.difference is not None:
                values += [v * 100 for v in (row.difference.relative, row.difference.low, row.difference.high)
                           if math.isfinite(v)]
        low, high = float(np.min(values)), float(np.max(values))
        self._span = max(high - low, 10.0)
        room = 0.5 * self._span if self.data is not None and any(
            link.twin != self.data.reference for link in self.data.links) else 0.05 * self._span
        left = low - (GUTTER * 3.2 + 0.03) * self._span
        self.plot_item.setXRange(left, high + room, padding=0)
        return left, high + room

    def export(self, path: Path) -> None:
        """Write the figure as PNG or SVG, by the path's suffix (title, axes and figures inside)."""
        if self.data is None:
            raise RuntimeError("no comparison to export")
        export_plot(self.plot_item, Path(path), f"{self.data.metric_title} relative to {self.data.reference}",
                    self.plot_widget.logicalDpiX())
