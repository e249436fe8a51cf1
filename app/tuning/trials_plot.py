"""The plots of the Tuning dialog: each trial's validation score against its number with the
best-so-far line, and the parameter importances as horizontal bars."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.plot_text import EmptyPlotText
from engine.workbench.tuning import StudyView

AXIS_TEXT = "#374151"
COMPLETE_BRUSH = pg.mkBrush("#2563eb")
PRUNED_BRUSH = pg.mkBrush("#9ca3af")
BEST_PEN = pg.mkPen("#dc2626", width=2)
IMPORTANCE_BRUSH = pg.mkBrush("#059669")
NO_TRIALS = "No study yet: choose models and press Tune"
#: The key above the trials plot (an in-plot legend covered late trials in a corner).
TRIALS_KEY = ('<span style="color:#2563eb">&#9679;</span>&nbsp;complete&nbsp;&nbsp;&nbsp;'
              '<span style="color:#9ca3af">&#9679;</span>&nbsp;pruned (its best epoch)&nbsp;&nbsp;&nbsp;'
              '<span style="color:#dc2626">&#9472;&#9472;</span>&nbsp;best so far')
NO_IMPORTANCES = "Importances appear once a study has a few complete trials"


def _plot_widget(parent: QWidget) -> tuple[pg.PlotWidget, pg.PlotItem]:
    widget = pg.PlotWidget(parent, background="w")
    item: pg.PlotItem = widget.getPlotItem()
    item.setMenuEnabled(False)
    item.hideButtons()
    item.showGrid(x=False, y=True, alpha=0.25)
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.enableAutoSIPrefix(False)
        axis.setTextPen(AXIS_TEXT)
    return widget, item


class TrialsPlot(QWidget):
    """Score against trial number: complete trials in blue, pruned ones (their best epoch) in grey,
    and the best complete score so far as a red line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget, self.plot_item = _plot_widget(self)
        self.plot_widget.setMinimumHeight(200)
        self.plot_item.setLabel("bottom", "trial")
        self.key = QLabel(TRIALS_KEY)
        self.key.setTextFormat(Qt.TextFormat.RichText)
        self.complete = pg.ScatterPlotItem(size=9, brush=COMPLETE_BRUSH, pen=None, name="complete")
        self.pruned = pg.ScatterPlotItem(size=7, brush=PRUNED_BRUSH, pen=None, name="pruned")
        self.best = pg.PlotDataItem(pen=BEST_PEN, connect="finite", name="best so far")
        for item in (self.best, self.complete, self.pruned):
            self.plot_item.addItem(item)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.key)
        layout.addWidget(self.plot_widget)
        self.empty_text = EmptyPlotText(self.plot_widget, NO_TRIALS)

    def show_study(self, view: StudyView | None) -> None:
        """Plot ``view``'s trials (None: nothing)."""
        if view is None or not view.trials:
            for item in (self.complete, self.pruned):
                item.setData(x=[], y=[])
            self.best.setData(x=[], y=[])
            self.empty_text.show_text(NO_TRIALS if view is None else "No trial has finished yet")
            return
        self.empty_text.show_text(None)
        self.plot_item.setLabel("left", view.spec.metric)
        for item, state in ((self.complete, "complete"), (self.pruned, "pruned")):
            trials = [t for t in view.trials if t.state == state and math.isfinite(t.value)]
            item.setData(x=[t.number for t in trials], y=[t.value for t in trials])
        numbers = np.array([t.number for t in view.trials], dtype=np.float64)
        best = view.best_so_far()
        # a step: the best so far holds from one trial to the next
        self.best.setData(x=np.repeat(numbers, 2)[1:], y=np.repeat(best, 2)[:-1])
        self.plot_item.getAxis("bottom").setTickSpacing(max(1, math.ceil(len(numbers) / 10)), 1)
        self.plot_item.setXRange(-0.5, max(len(numbers), 1) - 0.5, padding=0.02)

    def points(self, state: str) -> int:
        item = self.complete if state == "complete" else self.pruned
        return len(item.data)


class ImportancesPlot(QWidget):
    """Optuna's importance of each searched setting, largest on top."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget, self.plot_item = _plot_widget(self)
        self.plot_widget.setMinimumHeight(160)
        self.plot_item.setMouseEnabled(x=False, y=False)
        self.plot_item.setLabel("bottom", "importance")
        self.bars: pg.BarGraphItem | None = None
        self.names: list[str] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.empty_text = EmptyPlotText(self.plot_widget, NO_IMPORTANCES)

    def show_importances(self, importances: dict[str, float]) -> None:
        """Bars of ``importances`` (setting -> share; empty: nothing)."""
        if self.bars is not None:
            self.plot_item.removeItem(self.bars)
            self.bars = None
        ranked = sorted(importances.items(), key=lambda item: item[1])
        self.names = [name for name, _ in ranked][::-1]
        self.plot_item.getAxis("left").setTicks([[(index, name) for index, (name, _) in enumerate(ranked)]])
        self.empty_text.show_text(None if ranked else NO_IMPORTANCES)
        if not ranked:
            return
        self.bars = pg.BarGraphItem(x0=0, y=np.arange(len(ranked)), height=0.6,
                                    width=[value for _, value in ranked], brush=IMPORTANCE_BRUSH, pen=None)
        self.plot_item.addItem(self.bars)
        self.plot_item.setXRange(0, max(value for _, value in ranked) * 1.05, padding=0)
        self.plot_item.setYRange(-0.6, len(ranked) - 0.4, padding=0)
