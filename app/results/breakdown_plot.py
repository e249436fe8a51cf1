"""A breakdown as grouped bars: one group per breakdown group (e.g. short / long history), one bar
per model with its mean over seeds and an error bar of one standard deviation; clicking a bar
selects it. Exports to PNG and SVG through pyqtgraph's exporters."""
from __future__ import annotations

import html
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtCore import QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.plot_text import EmptyPlotText
from app.results.comparison_model import metric_title

log = logging.getLogger(__name__)

MODEL_COLOURS = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#4b5563",
                 "#db2777", "#65a30d")
GROUP_WIDTH = 0.8  # of the unit space between two groups, shared by the group's bars
HEADROOM = 1.1  # room above the highest error bar
RATE_MAX = 1.0  # Recall, MRR and Precision never exceed 1: the axis stops there
EMPTY = "No evaluated runs to break down yet"
SELECTED_PEN = pg.mkPen("#111827", width=2.5)
AXIS_TEXT = "#374151"
BOTTOM_AXIS_HEIGHT = 46  # two lines of tick labels: the group and its number of events


def model_colour(index: int) -> str:
    return MODEL_COLOURS[index % len(MODEL_COLOURS)]


class BreakdownPlot(QWidget):
    """Grouped bars of one metric of one breakdown (see :meth:`show_breakdown`)."""

    bar_selected = Signal(str, object)  # model label, group key (e.g. "short", 3)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget(background="w")
        self.plot_widget.setMinimumHeight(130)
        self.plot_item: pg.PlotItem = self.plot_widget.getPlotItem()
        self.plot_item.setMenuEnabled(False)
        self.plot_item.setMouseEnabled(x=False, y=False)
        self.plot_item.hideButtons()
        self.plot_item.showGrid(y=True, alpha=0.25)
        # the models' colours above the plot: an in-plot legend of many models covers the bars
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        bottom = self.plot_item.getAxis("bottom")
        bottom.setHeight(BOTTOM_AXIS_HEIGHT)
        self.plot_item.getAxis("left").enableAutoSIPrefix(False)
        bottom.enableAutoSIPrefix(False)
        for name in ("left", "bottom"):
            self.plot_item.getAxis(name).setTextPen(AXIS_TEXT)
        self.bars: dict[str, pg.BarGraphItem] = {}
        self.error_bars: dict[str, pg.ErrorBarItem] = {}
        self.groups: list[object] = []
        self.group_labels: list[str] = []
        self._centres: dict[str, np.ndarray] = {}
        self._width = GROUP_WIDTH
        self._highlight: pg.BarGraphItem | None = None
        self.plot_item.scene().sigMouseClicked.connect(self._on_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.legend)
        layout.addWidget(self.plot_widget, 1)
        self.empty_text = EmptyPlotText(self.plot_widget, EMPTY)

    def clear(self, empty: str = EMPTY) -> None:
        """Nothing drawn; ``empty`` says why."""
        self.plot_item.clear()
        self.legend.clear()
        self.legend.hide()
        self.bars, self.error_bars, self._centres = {}, {}, {}
        self.groups, self.group_labels = [], []
        self._highlight = None
        self.plot_item.setTitle(None)
        self.empty_text.show_text(empty)

    def show_breakdown(self, table: pd.DataFrame, metric: str, models: list[str], title: str,
                       caption: str = "") -> None:
        """``table``: per model and group, ``<metric>_mean`` / ``_std``, ``label`` and ``n_events``
        (the Results view's breakdown); ``models``: all models, in order (their colours); ``caption``:
        how the ranks were computed (e.g. "conservative ties, ranked among all items"), in the title
        and so in the exports."""
        self.clear()
        shown = [model for model in models if model in set(table["model"])]
        if not shown:
            self.empty_text.show_text("No model has events in this breakdown")
            return
        self.empty_text.show_text(None)
        first = table.drop_duplicates("group")
        self.groups = first["group"].tolist()
        self.group_labels = [f"{label}\n{n:,} events" for label, n in zip(first["label"], first["n_events"], strict=True)]
        self._width = GROUP_WIDTH / len(shown)
        positions = np.arange(len(self.groups), dtype=float)
        top = 0.0
        for index, model in enumerate(shown):
            rows = table[table["model"] == model].set_index("group").reindex(self.groups)
            means = rows[f"{metric}_mean"].to_numpy(dtype=float)
            stds = rows[f"{metric}_std"].to_numpy(dtype=float)
            centres = positions - GROUP_WIDTH / 2 + self._width * (index + 0.5)
            colour = model_colour(models.index(model))
            bars = pg.BarGraphItem(x=centres, height=np.nan_to_num(means), width=self._width * 0.92,
                                   brush=colour, pen=pg.mkPen(colour), name=model)
            self.plot_item.addItem(bars)
            self.bars[model], self._centres[model] = bars, centres
            spread = np.isfinite(stds) & np.isfinite(means)
            if spread.any():
                errors = pg.ErrorBarItem(x=centres[spread], y=means[spread], top=stds[spread], bottom=stds[spread],
                                         beam=self._width * 0.35, pen=pg.mkPen("#111827", width=1.2))
                self.plot_item.addItem(errors)
                self.error_bars[model] = errors
            top = max(top, float(np.nanmax(np.nan_to_num(means) + np.where(spread, stds, 0.0))))
        self.legend.setText("&nbsp;&nbsp; ".join(
            f'<span style="color:{model_colour(models.index(model))}">&#9632;</span>&nbsp;{html.escape(model)}'
            for model in shown))
        self.legend.show()
        axis = self.plot_item.getAxis("bottom")
        axis.setTicks([list(zip(positions.tolist(), self.group_labels, strict=True)), []])
        self.plot_item.setLabel("left", metric_title(metric))
        self.plot_item.setLabel("bottom", None)
        self.plot_item.setTitle(html.escape(f"{title}: {metric_title(metric)}, mean ± std over seeds"
                                            + (f"; {caption}" if caption else "")), size="10pt")
        self.plot_item.setXRange(-0.6, len(self.groups) - 0.4, padding=0)
        self.plot_item.setYRange(0.0, min(RATE_MAX, (top or RATE_MAX) * HEADROOM), padding=0)

    def bar_values(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        """(heights, error half-lengths aligned with the groups, NaN where none) as drawn for ``model``."""
        heights = np.asarray(self.bars[model].opts["height"], dtype=float)
        errors = np.full(len(self.groups), np.nan)
        if model in self.error_bars:
            drawn = np.asarray(self.error_bars[model].opts["x"], dtype=float)
            where = [int(np.flatnonzero(np.isclose(self._centres[model], x))[0]) for x in drawn]
            errors[where] = np.asarray(self.error_bars[model].opts["top"], dtype=float)
        return heights, errors

    def bar_centre(self, model: str, group: object) -> QPointF:
        """The middle of a bar in view coordinates (at least a little above 0, to click on it)."""
        index = self.groups.index(group)
        height = float(self.bars[model].opts["height"][index])
        return QPointF(float(self._centres[model][index]), max(height / 2, self.plot_item.viewRange()[1][1] * 0.02))

    def select_bar(self, model: str, group: object) -> None:
        index = self.groups.index(group)
        if self._highlight is not None:
            self.plot_item.removeItem(self._highlight)
        height = float(self.bars[model].opts["height"][index])
        self._highlight = pg.BarGraphItem(x=[self._centres[model][index]], height=[height], width=self._width * 0.92,
                                          brush=None, pen=SELECTED_PEN)
        self.plot_item.addItem(self._highlight)
        self.bar_selected.emit(model, group)

    @Slot(object)
    def _on_clicked(self, event: object) -> None:
        if not self.bars or not self.plot_item.sceneBoundingRect().contains(event.scenePos()):
            return
        point = self.plot_item.vb.mapSceneToView(event.scenePos())
        if point.y() < 0:
            return
        for model, centres in self._centres.items():
            hits = np.flatnonzero(np.abs(centres - point.x()) <= self._width / 2)
            if len(hits):
                self.select_bar(model, self.groups[int(hits[0])])
                return

    def export(self, path: Path) -> None:
        """Write the plot as PNG or SVG, by the path's suffix, with the models' legend inside it."""
        legend = self.plot_item.addLegend(offset=(8, 4), labelTextSize="9pt", labelTextColor="#111827",
                                          brush=pg.mkBrush(255, 255, 255, 220))
        for model, bars in self.bars.items():
            legend.addItem(bars, model)
        legend.setColumnCount(min(max(len(self.bars), 1), 4))
        try:
            self._export(Path(path))
        finally:
            self.plot_item.scene().removeItem(legend)
            self.plot_item.legend = None

    def _export(self, path: Path) -> None:
        if path.suffix.lower() == ".svg":
            try:
                pg.exporters.SVGExporter(self.plot_item).export(str(path))
            except ValueError as exc:
                # pyqtgraph 0.14's SVGExporter cannot parse the closing "Z" of the paths written by
                # recent Qt versions (pyqtgraph issue #3485): let Qt's SVG generator draw the plot.
                log.debug("pyqtgraph's SVG exporter failed (%s); using QSvgGenerator", exc)
                self._render_svg(path)
        else:
            exporter = pg.exporters.ImageExporter(self.plot_item)
            exporter.parameters()["width"] = max(1200, int(self.plot_item.sceneBoundingRect().width()))
            exporter.export(str(path))
        log.info("plot exported to %s", path)

    def _render_svg(self, path: Path) -> None:
        source = self.plot_item.sceneBoundingRect()
        target = QRectF(0, 0, source.width(), source.height())
        generator = QSvgGenerator()
        generator.setFileName(str(path))
        generator.setSize(source.size().toSize())
        generator.setViewBox(target)
        generator.setResolution(self.plot_widget.logicalDpiX())  # pyqtgraph sizes its items for the screen
        generator.setTitle(self.plot_item.titleLabel.text or "breakdown")
        painter = QPainter(generator)
        try:
            painter.fillRect(target, QColor("white"))
            self.plot_item.scene().render(painter, target, source)
        finally:
            painter.end()
