"""Per-epoch curves of one or more runs overlaid (training loss, and any other per-epoch series the
runs recorded, such as a validation metric while tuning), one style per run (its colour; once the
colours run out, also its line style and marker) with a legend; an empty plot says why it is empty."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.plot_style import series_style
from app.plot_text import EmptyPlotText
from engine.workbench.training import LOSS_KEY

MAX_LABELLED_EPOCHS = 20  # up to this many epochs, every epoch gets a tick
SERIES_TITLES = {LOSS_KEY: "Training loss"}


def series_title(key: str) -> str:
    """A per-epoch series as people read it: "Training loss", "valid recall@20"."""
    return SERIES_TITLES.get(key, key.replace("_", " "))


class CurvesPlot(QWidget):
    """``show_curves({label: {key: (epochs, values)}})`` draws the chosen series of every run."""

    series_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Curves: select runs in the table below, or start one.")
        self.series_combo = QComboBox()
        self.series_combo.setToolTip("Which per-epoch series to draw")
        self.series_combo.addItem(series_title(LOSS_KEY), LOSS_KEY)
        self.series_combo.currentIndexChanged.connect(self._redraw)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setAcceptDrops(False)
        self.plot.setMenuEnabled(False)
        self.plot.setMinimumHeight(140)
        self.plot.setLabel("bottom", "Epoch")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.legend = self.plot.addLegend(offset=(-8, 8), labelTextSize="8pt", brush=pg.mkBrush(255, 255, 255, 220))
        self.empty_text = EmptyPlotText(self.plot, "No run selected")
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.series_combo)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)
        self._curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
        self._empty = "No run selected"
        self.items: dict[str, pg.PlotDataItem] = {}

    def series(self) -> str:
        return str(self.series_combo.currentData())

    def show_curves(self, curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], title: str,
                    empty: str = "No epochs yet") -> None:
        """Draw ``curves`` (per run label, per series key, (epochs, values)); ``empty``: what an
        empty plot says."""
        self._curves = curves
        self._empty = empty
        self.title.setText(title)
        keys = [LOSS_KEY, *sorted({key for series in curves.values() for key in series} - {LOSS_KEY})]
        current = self.series()
        self.series_combo.blockSignals(True)
        self.series_combo.clear()
        for key in keys:
            self.series_combo.addItem(series_title(key), key)
        self.series_combo.setCurrentIndex(max(self.series_combo.findData(current), 0))
        self.series_combo.blockSignals(False)
        self.series_combo.setVisible(len(keys) > 1)
        self._redraw()

    @Slot()
    def _redraw(self) -> None:
        self.plot.clear()
        self.legend.clear()
        self.items = {}
        key = self.series()
        longest = 0
        for index, (label, series) in enumerate(self._curves.items()):
            epochs, values = series.get(key, (np.zeros(0), np.zeros(0)))
            if not len(epochs):
                continue
            style = series_style(index)
            name = label if len(self._curves) > 1 else None
            self.items[label] = self.plot.plot(epochs, values, pen=style.line_pen(2), symbol=style.marker,
                                               symbolSize=6, symbolBrush=style.colour, symbolPen=None, name=name)
            longest = max(longest, int(np.max(epochs)))
        self.legend.setVisible(len(self.items) > 1)
        self.plot.setLabel("left", series_title(key))
        axis = self.plot.getAxis("bottom")
        if 0 < longest <= MAX_LABELLED_EPOCHS:
            axis.setTickSpacing(1, 1)
        else:
            axis.setTickSpacing()
        self.empty_text.show_text(None if self.items else self._empty_text())
        self.series_changed.emit()

    def _empty_text(self) -> str:
        return self._empty if self._curves else "No run selected"

    def points(self, label: str | None = None) -> tuple[list[float], list[float]]:
        """(epochs, values) drawn for ``label`` (default: the only or first run)."""
        if not self.items:
            return [], []
        item = self.items[label] if label is not None else next(iter(self.items.values()))
        x, y = item.getData()
        return ([] if x is None else [float(v) for v in x]), ([] if y is None else
                                                              [float(v) if math.isfinite(v) else math.nan for v in y])
