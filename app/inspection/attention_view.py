"""Where SASRec's prediction comes from: the attention of its last block (summed over heads, as a
share of the whole) from the prediction at the current step over the events it read, drawn on the
user's timeline across sessions. One bar per event, in time order, sessions side by side (their
start dates above them), the test session shaded as in the sessions timeline; the next item's
prediction reads at most the last L events, and only those carry weight (they sum to 100%).

Shown under the recommendations when a SASRec run (or its twin) is among the runs side by side;
the first such run is the one drawn. The attention of every step of a user is computed once, in
the background, and kept."""
from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.jobs import Job, JobManager
from engine.progress import CancelToken, ProgressCallback
from engine.workbench.attention import SASREC_MODELS, AttentionTimeline, UserAttention, attention_for_user
from engine.workbench.inspection import InspectionSnapshot

HISTORY_COLOUR = "#64748b"
TEST_COLOUR = "#1d4ed8"
OUTSIDE_COLOUR = "#cbd5e1"  # events older than the window: no weight
TARGET_COLOUR = "#dc2626"
TEST_SHADE = (253, 230, 138, 90)
AXIS_TEXT = "#374151"
BAR_WIDTH = 0.8
TOP_SHOWN = 3  # the most attended events named below the plot
MARGIN_EVENTS = 3  # shown before the window's first event
LABEL_EVENTS = 6  # a session's date is written when the previous date written is this many events away
KEY = (f'<span style="color:{HISTORY_COLOUR}">■</span> event of a training session &nbsp; '
       f'<span style="color:{TEST_COLOUR}">■</span> test event consumed &nbsp; '
       f'<span style="color:{OUTSIDE_COLOUR}">■</span> older than the last L events (not read) &nbsp; '
       f'<span style="color:{TARGET_COLOUR}">▼</span> the next item, predicted from them')


def _date(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d")


class AttentionView(QWidget):
    """The attention of a SASRec run for the selected user and step (see the module docstring)."""

    def __init__(self, jobs: JobManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.plot_widget = pg.PlotWidget(background="w")
        self.plot_item: pg.PlotItem = self.plot_widget.getPlotItem()
        self.plot_item.setMenuEnabled(False)
        self.plot_item.hideButtons()
        self.plot_item.setMouseEnabled(x=True, y=False)
        self.plot_item.setLabel("left", "attention (%)")
        self.plot_item.getAxis("left").enableAutoSIPrefix(False)
        self.plot_item.setLabel("bottom", "events read, oldest first (sessions side by side)")
        for name in ("left", "bottom"):
            self.plot_item.getAxis(name).setTextPen(AXIS_TEXT)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.key = QLabel(KEY)
        self.key.setObjectName("mutedLabel")
        self.key.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.key)
        self.results: dict[tuple[int, int], UserAttention] = {}
        self._pending: dict[tuple[int, int], Job] = {}
        self._wanted: tuple[int, int, int] | None = None  # run, user, step
        self._item_labels: np.ndarray = np.zeros(0, dtype=object)
        self._run_label = ""
        self.bars: pg.BarGraphItem | None = None  # the attention of each event read, in percent
        self.hide()

    def clear(self) -> None:
        self.results, self._wanted = {}, None
        for job in self._pending.values():
            job.discard()
        self._pending = {}
        self.hide()

    def show_for(self, url: str, snapshot: InspectionSnapshot | None, run_ids: list[int], user: int | None,
                 step: int) -> None:
        """Show the attention of the first SASRec run of ``run_ids`` for ``user`` at ``step`` (hidden
        when there is none), computing it in the background the first time."""
        run_id = next((run for run in run_ids if snapshot is not None and snapshot.run(run).model in SASREC_MODELS),
                      None)
        if snapshot is None or user is None or run_id is None:
            self._wanted = None
            self.hide()
            return
        self.show()
        self._wanted = (run_id, user, step)
        self._item_labels = snapshot.item_labels
        self._run_label = snapshot.labels[run_id]
        result = self.results.get((run_id, user))
        if result is None:
            self._show_message(f"Computing the attention of {self._run_label}…")
            self._need(url, snapshot, run_id, user)
        elif result.timeline is None:
            self._show_message(f"No attention for {self._run_label}: {result.error}")
        else:
            self.draw(result.timeline, step)

    def _need(self, url: str, snapshot: InspectionSnapshot, run_id: int, user: int) -> None:
        key = (run_id, user)
        if key in self._pending and self._pending[key].running:
            return
        prepared = snapshot.prepared

        def work(progress: ProgressCallback, cancel: CancelToken) -> UserAttention:
            return attention_for_user(url, run_id, user, prepared, progress, cancel)

        job = self.jobs.submit(f"Attention of run {run_id}", work, False)
        job.succeeded.connect(self._on_result)
        self._pending[key] = job

    @Slot(object)
    def _on_result(self, result: UserAttention) -> None:
        self.results[(result.run_id, result.user)] = result
        self._pending.pop((result.run_id, result.user), None)
        if self._wanted is not None and self._wanted[:2] == (result.run_id, result.user):
            if result.timeline is None:
                self._show_message(f"No attention for {self._run_label}: {result.error}")
            else:
                self.draw(result.timeline, self._wanted[2])

    def _show_message(self, text: str) -> None:
        self.plot_item.clear()
        self.bars = None
        self.plot_item.setTitle(None)
        self.summary.setText(text)

    def draw(self, timeline: AttentionTimeline, step: int) -> None:
        """Draw the attention of the prediction after the test session's ``step``-th event."""
        step = min(max(step, 1), timeline.n_predictions)
        weights = timeline.at(step)
        percent = 100.0 * weights
        read = int((~timeline.test).sum()) + step  # events read by this prediction: the history, then `step`
        first_read = max(read - timeline.max_length, 0)
        self.plot_item.clear()
        x = np.arange(read)
        colours = np.where(timeline.test[:read], TEST_COLOUR, HISTORY_COLOUR).astype(object)
        colours[:first_read] = OUTSIDE_COLOUR
        test_start = int(np.argmax(timeline.test)) if timeline.test.any() else read
        self.plot_item.addItem(pg.LinearRegionItem((test_start - 0.5, timeline.test.size + 0.5),
                                                   brush=pg.mkBrush(*TEST_SHADE), pen=pg.mkPen(None), movable=False))
        self.bars = pg.BarGraphItem(x=x, height=percent[:read], width=BAR_WIDTH,
                                    brushes=[pg.mkBrush(c) for c in colours], pens=[pg.mkPen(None)] * read)
        self.plot_item.addItem(self.bars)
        labels = self._item_labels
        tips = [f"{labels[timeline.item[i]]}: {weights[i]:.1%} (session {timeline.session[i] + 1}, "
                f"event {timeline.position[i]})" for i in range(read)]
        self.plot_item.addItem(pg.ScatterPlotItem(x=x, y=percent[:read], size=8, pen=None,
                                                  brush=pg.mkBrush(0, 0, 0, 1), data=tips, hoverable=True,
                                                  tip="{data}".format))
        top = float(percent.max()) if read else 100.0
        self.plot_item.addItem(pg.ScatterPlotItem(x=[read], y=[top * 0.5], symbol="t", size=14, pen=None,
                                                  brush=pg.mkBrush(TARGET_COLOUR)))  # where the next event comes
        starts = np.flatnonzero(np.r_[True, timeline.session[1:read] != timeline.session[: read - 1]])
        labelled = -LABEL_EVENTS
        for start in starts:
            if start > 0:
                self.plot_item.addItem(pg.InfiniteLine(start - 0.5, angle=90,
                                                       pen=pg.mkPen("#9ca3af", style=Qt.PenStyle.DashLine)))
            test = bool(timeline.test[start])
            if start - labelled < LABEL_EVENTS and not test:
                continue  # no room for this session's date next to the previous one's
            labelled = int(start)
            text = pg.TextItem(("test · " if test else "") + _date(timeline.time[start]), color=AXIS_TEXT,
                               anchor=(1, 0) if test else (0, 0))
            text.setPos(read - 0.5 if test else start - 0.4, top * 1.32)
            self.plot_item.addItem(text)
        if first_read:  # the events no longer read: a flat mark each, so that the timeline shows them
            self.plot_item.addItem(pg.BarGraphItem(x=x[:first_read], height=top * 0.02, width=BAR_WIDTH,
                                                   brush=pg.mkBrush(OUTSIDE_COLOUR), pen=pg.mkPen(None)))
        self.plot_item.setYRange(0, top * 1.35, padding=0)
        self.plot_item.getViewBox().setLimits(xMin=-1, xMax=read + 1)
        self.plot_item.setXRange(max(first_read - MARGIN_EVENTS, 0) - 0.5, read + 0.5, padding=0.02)
        ticks = [(int(i), str(labels[timeline.item[i]])) for i in x[first_read:]] if read - first_read <= 30 else []
        self.plot_item.getAxis("bottom").setTicks([ticks, []] if ticks else None)
        self.plot_item.setTitle(f"Where {self._run_label} looks at step {step}: its last block's attention over "
                                f"the last {read - first_read} of {read} events read", size="9pt")
        order = np.argsort(-weights[:read], kind="stable")[:TOP_SHOWN]
        history_share = float(weights[:read][~timeline.test[:read]].sum())
        named = ", ".join(f"{labels[timeline.item[i]]} ({weights[i]:.0%}, "
                          f"{'test session' if timeline.test[i] else f'session {timeline.session[i] + 1}'})"
                          for i in order)
        self.summary.setText(f"Most attended: {named}. Past sessions take <b>{history_share:.0%}</b> of the "
                             f"attention, the test session so far {1 - history_share:.0%}.")
