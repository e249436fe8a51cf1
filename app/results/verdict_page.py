"""The Results panel's "Verdict" page: the forest plot of a selection of runs (every evaluated run,
a fair comparison's test runs, the preset runs, and any subset of their models) on a chosen metric
at the panel's K against the panel's reference model. The bootstrap runs in a background job,
only while the page is shown, and each figure is kept until the runs change."""
from __future__ import annotations

import functools
import logging
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.jobs import Job, JobManager
from app.results.forest_plot import ForestPlot
from engine.progress import CancelToken, ProgressCallback
from engine.workbench.comparison_view import ForestPlotData, RunSelection, forest_data, run_selections
from engine.workbench.metrics import METRICS
from engine.workbench.results import ResultsSnapshot

log = logging.getLogger(__name__)

#: What one figure depends on: dataset, snapshot identity, selection, models left out, metric, reference.
FigureKey = tuple[int, int, str, tuple[str, ...], str, str]


def compute_forest(snapshot: ResultsSnapshot, metric: str, reference: str, selection: RunSelection,
                   labels: list[str], progress: ProgressCallback, cancel: CancelToken) -> ForestPlotData:
    """The figure's data (a background job's work)."""
    return forest_data(snapshot, metric, reference, selection, labels, progress=progress, cancel=cancel)


class VerdictPage(QWidget):
    """The forest plot with its choices; the Results panel hands it the context with :meth:`show_context`."""

    def __init__(self, jobs: JobManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._jobs = jobs
        self.snapshot: ResultsSnapshot | None = None
        self._k = 10
        self._reference = ""
        self._caption = ""
        self._selections: list[RunSelection] = []
        self._left_out: set[str] = set()  # models unchecked in the Models menu
        self._figures: dict[FigureKey, ForestPlotData] = {}
        self._job: Job | None = None
        self._job_key: FigureKey | None = None
        self.selection_combo = QComboBox()
        self.selection_combo.setToolTip("Which runs to compare: every evaluated run, the test runs of a fair "
                                        "comparison (its tuned models), or the preset runs")
        self.models_button = QToolButton()
        self.models_button.setText("Models")
        self.models_button.setToolTip("Choose the models the figure shows")
        self.models_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.models_menu = QMenu(self)
        self.models_button.setMenu(self.models_menu)
        self.metric_combo = QComboBox()
        for entry in METRICS:
            self.metric_combo.addItem(entry.label, entry.name)
            self.metric_combo.setItemData(self.metric_combo.count() - 1, entry.description,
                                          Qt.ItemDataRole.ToolTipRole)
        self.metric_combo.setToolTip("The metric compared (at the cut-off K chosen above)")
        self.export_button = QPushButton("Export figure…")
        self.export_button.setToolTip("Save the figure as PNG or SVG")
        self.status = QLabel("")
        self.status.setObjectName("mutedLabel")
        self.status.setWordWrap(True)
        self.plot = ForestPlot()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.plot)
        self.scroll_area = scroll
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Runs:"))
        controls.addWidget(self.selection_combo, 1)
        controls.addWidget(self.models_button)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Metric:"))
        controls.addWidget(self.metric_combo)
        controls.addStretch(1)
        controls.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)
        self.selection_combo.currentIndexChanged.connect(self._on_choice_changed)
        self.metric_combo.currentIndexChanged.connect(self._on_choice_changed)
        self.models_menu.triggered.connect(self._on_model_toggled)
        self.export_button.clicked.connect(self._choose_file)
        self.clear()

    # ----- context -----
    def clear(self, text: str = "No evaluated runs to compare yet.") -> None:
        if self._job is not None:
            self._job.discard()
        self._job, self._job_key, self.snapshot = None, None, None
        self._figures = {}
        self.selection_combo.blockSignals(True)
        self.selection_combo.clear()
        self.selection_combo.blockSignals(False)
        self.models_menu.clear()
        self.plot.clear()
        self.status.setText(text)
        self._set_enabled(False)

    def show_context(self, snapshot: ResultsSnapshot, k: int, reference: str, caption: str) -> None:
        """What the panel shows: its snapshot, K, reference and the ranking protocol in words."""
        if snapshot is not self.snapshot:
            self._figures = {}
        self.snapshot, self._k, self._reference, self._caption = snapshot, k, reference, caption
        current = self.selection_combo.currentData()
        self._selections = run_selections(snapshot)
        self.selection_combo.blockSignals(True)
        self.selection_combo.clear()
        for selection in self._selections:
            self.selection_combo.addItem(f"{selection.title} ({len(selection.run_ids)} runs)", selection.key)
        index = self.selection_combo.findData(current)
        self.selection_combo.setCurrentIndex(index if index >= 0 else 0)
        self.selection_combo.blockSignals(False)
        self._fill_models()
        self._set_enabled(True)
        self._request()

    def selection(self) -> RunSelection | None:
        index = self.selection_combo.currentIndex()
        return self._selections[index] if 0 <= index < len(self._selections) else None

    def select(self, key: str) -> None:
        """Show the selection ``key`` ("all", "compare-3", "preset")."""
        index = self.selection_combo.findData(key)
        if index >= 0:
            self.selection_combo.setCurrentIndex(index)

    def metric_name(self) -> str:
        return f"{self.metric_combo.currentData()}@{self._k}"

    def models(self) -> list[str]:
        """The models of the selection the figure shows."""
        return [action.text() for action in self.models_menu.actions() if action.isChecked()]

    def set_models(self, labels: list[str]) -> None:
        """Show only these models of the selection."""
        self._left_out = {action.text() for action in self.models_menu.actions()} - set(labels)
        for action in self.models_menu.actions():
            action.setChecked(action.text() in labels)
        self._request()

    def _fill_models(self) -> None:
        self.models_menu.clear()
        selection = self.selection()
        if self.snapshot is None or selection is None:
            return
        labels = list(dict.fromkeys(self.snapshot.rows[run_id]["model"] for run_id in selection.run_ids))
        for label in labels:
            action = QAction(label, self.models_menu)
            action.setCheckable(True)
            action.setChecked(label not in self._left_out)
            self.models_menu.addAction(action)
        shown = len(self.models())
        self.models_button.setText(f"Models ({shown} of {len(labels)})")

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.selection_combo, self.models_button, self.metric_combo):
            widget.setEnabled(enabled)
        self.export_button.setEnabled(enabled and self.plot.data is not None)

    # ----- computing, only while shown -----
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._request()

    @Slot()
    def _on_choice_changed(self) -> None:
        self._fill_models()
        self._request()

    @Slot(QAction)
    def _on_model_toggled(self, _action: QAction) -> None:
        self._left_out = {action.text() for action in self.models_menu.actions() if not action.isChecked()}
        self._fill_models()
        self._request()

    def _key(self) -> FigureKey | None:
        selection = self.selection()
        if self.snapshot is None or selection is None:
            return None
        return (self.snapshot.dataset_id, id(self.snapshot), selection.key, tuple(sorted(self._left_out)),
                self.metric_name(), self._reference)

    def _request(self) -> None:
        key = self._key()
        if key is None or not self.isVisible():
            return
        if key in self._figures:
            self._show(self._figures[key])
            return
        if self._job is not None and self._job_key == key and self._job.running:
            return
        if self._job is not None:
            self._job.discard()
        labels = self.models()
        selection = self.selection()
        assert self.snapshot is not None and selection is not None
        if len(labels) < 2:
            self.plot.clear("Choose at least two models to compare")
            self.status.setText("")
            self._set_enabled(True)
            return
        self.status.setText(f"Computing the intervals of {len(labels)} models (a bootstrap over the users)…")
        work = functools.partial(compute_forest, self.snapshot, self.metric_name(), self._reference, selection, labels)
        self._job_key = key
        self._job = self._jobs.submit(f"Comparing {len(labels)} models of {self.snapshot.dataset_name}", work,
                                      visible=False)
        self._job.succeeded.connect(self._on_computed)
        self._job.failed.connect(self._on_failed)

    @Slot(object)
    def _on_computed(self, data: ForestPlotData) -> None:
        key = self._job_key
        self._job, self._job_key = None, None
        if key is None:
            return
        self._figures[key] = data
        if key == self._key():
            self._show(data)

    @Slot(object)
    def _on_failed(self, error: Exception) -> None:
        self._job, self._job_key = None, None
        log.warning("verdict: %s", error)
        self.plot.clear(f"Not computed: {error}")
        self.status.setText("")

    def _show(self, data: ForestPlotData) -> None:
        self.plot.show_data(data, self._caption)
        better = sum(1 for row in data.rows if row.difference is not None and row.difference.above)
        worse = sum(1 for row in data.rows if row.difference is not None and row.difference.below)
        unclear = len(data.rows) - 1 - better - worse
        self.status.setText(f"Against {data.reference}: {better} model{'s' * (better != 1)} better, {worse} worse, "
                            f"{unclear} without a clear difference (95% intervals over {data.n_users:,} users).")
        self._set_enabled(True)

    # ----- export -----
    def export(self, path: str | Path) -> None:
        """The figure shown as PNG or SVG (by the suffix)."""
        self.plot.export(Path(path))

    @Slot()
    def _choose_file(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self, "Export the figure", "verdict.png",
                                                   "PNG image (*.png);;SVG image (*.svg)")
        if not path:
            return
        if not Path(path).suffix:
            path += ".svg" if "svg" in chosen.lower() else ".png"
        try:
            self.export(path)
        except (OSError, RuntimeError) as exc:
            log.error("export to %s failed: %s", path, exc)
            self.status.setText(f"Export failed: {exc}")
        else:
            self.status.setText(f"Saved {path}")
