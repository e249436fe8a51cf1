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
from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent
from PySide6.QtCore import QPointF, Signal, Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.plot_export import export_plot
from app.plot_style import PlotLegend, series_style
from app.plot_text import EmptyPlotText
from app.results.comparison_model import metric_title

log = logging.getLogger(__name__)

GROUP_WIDTH = 0.8  # of the unit space between two groups, shared by the group's bars
HEADROOM = 1.1  # room above the highest error bar
RATE_MAX = 1.0  # Recall, MRR and Precision never exceed 1: the axis stops there
EMPTY = "No evaluated runs to break down yet"
SELECTED_PEN = pg.mkPen("#111827", width=2.5)
AXIS_TEXT = "#374151"
BOTTOM_AXIS_HEIGHT = 46  # two lines of tick labels: the group and its number of events
#: The plot's least height: at 1280 x 720 with the log open it gets more (tests/test_app_layout.py).
MIN_PLOT_HEIGHT = 180


class BreakdownPlot(QWidget):
    """Grouped bars of one metric of one breakdown (see :meth:`show_breakdown`)."""

    bar_selected = Signal(str, object)  # model label, group key (e.g. "short", 3)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget(background="w")
        self.plot_widget.setMinimumHeight(MIN_PLOT_HEIGHT)
        self.plot_item: pg.PlotItem = self.plot_widget.getPlotItem()
        self.plot_item.setMenuEnabled(False)
        self.plot_item.setMouseEnabled(x=False, y=False)
        self.plot_item.hideButtons()
        self.plot_item.showGrid(y=True, alpha=0.25)
        # the models' styles above the plot (an in-plot legend of many models covers the bars); an
        # entry is never broken inside its label
        self.legend = PlotLegend()
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
        self.legend.set_entries([])
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
        self.group_labels = [f"{label}\n{n:,} events"
                             for label, n in zip(first["label"], first["n_events"], strict=True)]
        self._width = GROUP_WIDTH / len(shown)
        positions = np.arange(len(self.groups), dtype=float)
        top = 0.0
        for index, model in enumerate(shown):
            rows = table[table["model"] == model].set_index("group").reindex(self.groups)
            means = rows[f"{metric}_mean"].to_numpy(dtype=float)
            stds = rows[f"{metric}_std"].to_numpy(dtype=float)
            centres = positions - GROUP_WIDTH / 2 + self._width * (index + 0.5)
            style = series_style(models.index(model))
            bars = pg.BarGraphItem(x=centres, height=np.nan_to_num(means), width=self._width * 0.92,
                                   brush=style.brush(), pen=style.bar_pen(), name=model)
            self.plot_item.addItem(bars)
            self.bars[model], self._centres[model] = bars, centres
            spread = np.isfinite(stds) & np.isfinite(means)
            if spread.any():
                errors = pg.ErrorBarItem(x=centres[spread], y=means[spread], top=stds[spread], bottom=stds[spread],
                                         beam=self._width * 0.35, pen=pg.mkPen("#111827", width=1.2))
                self.plot_item.addItem(errors)
                self.error_bars[model] = errors
            top = max(top, float(np.nanmax(np.nan_to_num(means) + np.where(spread, stds, 0.0))))
        self.legend.set_entries([(model, series_style(models.index(model))) for model in shown])
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
    def _on_clicked(self, event: MouseClickEvent) -> None:
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
            export_plot(self.plot_item, Path(path), self.plot_item.titleLabel.text or "breakdown",
                        self.plot_widget.logicalDpiX())
        finally:
            self.plot_item.scene().removeItem(legend)
            self.plot_item.legend = None
