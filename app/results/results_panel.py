"""The Results panel of a dataset: the comparison table at a chosen K with significance marks
against a chosen reference model (Wilcoxon tests paired by event, session or user), the breakdown
plots, the runs behind a selected cell or bar, and export of the table (CSV) and of the plots
(PNG / SVG). Every figure is named with the ranking protocol it was computed under: the items each
target is ranked among (the dataset's setting) and the tie handling ("Ties": conservative at
every launch, the honest default; median or optimistic on demand), and the table shows how often
each model's targets were tied.

Everything comes from the workspace: a background job reads the evaluated runs' per-event ranks
once per dataset and tie mode (later only the new runs), another computes the table and the
breakdowns for each (K, reference, level), and both results are kept, so that switching back is
instant; a new tie mode reads the ranks again (converted from their stored tie counts). The
reference model (per dataset) and the level are remembered in the application's settings."""
from __future__ import annotations

import functools
import hashlib
import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import cast

from PySide6.QtCore import QModelIndex, Slot
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import QFileDialog, QWidget

from app.jobs import Job, JobManager
from app.results.comparison_model import CELL_ROLE
from app.results.results_layout import LEVEL_TOOLTIP, ResultsLayout
from app.results.ties import protocol_caption, protocol_html, ties_words
from app.results.titles import LEVEL_TITLES
from app.settings import AppSettings
from app.tab_pages import behind_another_tab
from engine.progress import CancelToken, ProgressCallback
from engine.workbench.results import (
    BREAKDOWNS,
    DEFAULT_ALPHA,
    DEFAULT_TIE_MODE,
    LEVELS,
    TIE_MODE_NAMES,
    Level,
    ResultsSnapshot,
    ResultsView,
    TieMode,
    analyse,
    candidates_label,
    candidates_phrase,
    evaluate_runs,
    load_results,
    set_dataset_candidates,
    tie_table,
)
from engine.workbench.workspaces import workspace_url

log = logging.getLogger(__name__)

#: What the Wilcoxon test pairs at each level (the engine's levels).
LEVEL_VALUES = {"event": "pairs of per-event values", "session": "pairs of per-session means",
                "user": "pairs of per-user means"}
__all__ = ["LEVEL_TOOLTIP", "ResultsPanel", "evaluation_in_mode", "footnote"]
LEVEL_KEY = "results/level"
REFERENCE_KEY = "results/reference/{}"
DETAILS_WIDTH = 360
TABLE_ROWS = 8  # the table shows this many rows at least (more when the window has room)
NO_RUNS = ("No evaluated runs for this dataset yet. Finished runs are evaluated automatically: "
           "train some models in the Training panel.")


def footnote(level: str, n_candidates: int | None = None, tie_mode: str = DEFAULT_TIE_MODE) -> str:
    """The legend of the table (one line at 1280 px: the plots need the height) with the
    significance tests paired by ``level``, for targets ranked among all items or among the
    ``n_candidates`` most popular, with ``tie_mode`` ties; :func:`footnote_tip` says more."""
    title = LEVEL_TITLES.get(level, level)
    return (f"Ranked among <b>{html.escape(candidates_phrase(n_candidates))}</b> with <b>{ties_words(tie_mode)}</b>. "
            f"Mean ± std over seeds; <b>bold</b>: best of its column; *: p &lt; {DEFAULT_ALPHA:g} against the "
            f"reference (Wilcoxon test on <b>{title}</b>).")


def footnote_tip(level: str, n_candidates: int | None = None, tie_mode: str = DEFAULT_TIE_MODE) -> str:
    """The footnote in full (its tooltip)."""
    title = LEVEL_TITLES.get(level, level)
    values = LEVEL_VALUES.get(level, f"pairs of per-{level} values")
    return (f"{protocol_html(tie_mode, n_candidates)} Mean ± std over seeds; <b>bold</b>: the best mean of its "
            f"column; *: differs from the reference with p &lt; {DEFAULT_ALPHA:g} in a Wilcoxon signed-rank test on "
            f"<b>{title}</b> ({values}). Hover a cell for its p-value.")


def evaluation_in_mode(tie_mode: TieMode) -> Callable[..., int]:
    """:func:`evaluate_runs` ``(url, dataset_id, run_ids, progress, cancel)`` with ``tie_mode`` ties: a
    picklable function for the child process, named like the one it calls."""
    return functools.update_wrapper(functools.partial(evaluate_runs, tie_mode=tie_mode), evaluate_runs)


class ResultsPanel(ResultsLayout):
    """Results of one dataset at a time; call :meth:`set_dataset` and, when runs change, :meth:`refresh`."""

    def __init__(self, workspace_path: str | Path, parent: QWidget | None = None,
                 jobs: JobManager | None = None, settings: AppSettings | None = None) -> None:
        super().__init__(parent)
        self._settings = settings or AppSettings()
        self._url = workspace_url(workspace_path)
        self._own_jobs = jobs is None
        self.jobs = jobs or JobManager(max_threads=2, parent=self)
        self._dataset_id: int | None = None
        self._snapshots: dict[int, ResultsSnapshot] = {}
        self._stale: set[int] = set()
        self._when_shown = False  # the dataset or its runs changed behind another tab: read when shown
        self._views: dict[tuple[int, int, str, str], ResultsView] = {}  # (dataset, K, reference, level)
        self._loading: dict[int, Job] = {}
        self._analysing: Job | None = None
        self._analysing_key: tuple[int, int, str, str] | None = None
        self._evaluating: dict[int, Job] = {}  # dataset id -> job evaluating its runs
        self.view: ResultsView | None = None
        self._build(self.jobs)
        remembered = self.level_combo.findData(self._settings.value(LEVEL_KEY, LEVELS[0], str))
        self.level_combo.setCurrentIndex(max(remembered, 0))
        self._show_footnote(self.level())
        self.details.closed.connect(self._collapse_details)
        self._collapse_details()
        self._connect()
        self._set_controls_enabled(False)
        self._say(NO_RUNS)

    def _connect(self) -> None:
        self.k_combo.currentIndexChanged.connect(self._on_choice_changed)
        self.reference_combo.currentIndexChanged.connect(self._on_reference_changed)
        self.ranking.setting_chosen.connect(self._on_ranking_chosen)
        self.ranking.tie_mode_chosen.connect(self._on_tie_mode_chosen)
        self.notice.evaluate_clicked.connect(self._on_evaluate_clicked)
        self.level_combo.currentIndexChanged.connect(self._on_level_changed)
        self.metric_combo.currentIndexChanged.connect(self._on_metric_changed)
        self.table.selectionModel().currentChanged.connect(self._on_cell_selected)
        self.table.horizontalScrollBar().rangeChanged.connect(self._fit_table_height)
        self.export_table_button.clicked.connect(self._choose_table_file)
        self.export_plot_button.clicked.connect(self._choose_plot_file)
        for plot in self.plots.values():
            plot.bar_selected.connect(self._on_bar_selected)

    # ----- public slots -----
    @Slot(int)
    def set_dataset(self, dataset_id: int) -> None:
        """Show the results of ``dataset_id`` (read in the background the first time). While another
        tab of the window is shown, the dataset is only noted: read and drawn when this panel is."""
        self._dataset_id = dataset_id
        if behind_another_tab(self):
            self._when_shown = True
            return
        snapshot = self._snapshots.get(dataset_id)
        if snapshot is not None:
            self._show_snapshot(snapshot)
        else:
            self.view = None
            self.table_model.set_view(None)
            self._clear_plots()
            self._set_controls_enabled(False)
            self.notice.hide()
            self._say("Reading the results…")
        if snapshot is None or dataset_id in self._stale:
            self._load(dataset_id)

    @Slot()
    def refresh(self) -> None:
        """Runs changed: read the new runs of the dataset shown (and of the others when next shown;
        behind another tab, when this panel is next shown)."""
        self._stale.update(self._snapshots)
        if behind_another_tab(self):
            self._when_shown = True
            return
        if self._dataset_id is not None:
            self._load(self._dataset_id)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._when_shown:
            self._when_shown = False
            if self._dataset_id is not None:
                self.set_dataset(self._dataset_id)

    def set_workspace(self, workspace_path: str | Path) -> None:
        """Another workspace: forget everything read so far."""
        self.shutdown()
        self._url = workspace_url(workspace_path)
        self._snapshots, self._views, self._stale = {}, {}, set()
        self._dataset_id, self.view = None, None
        self.table_model.set_view(None)
        self._clear_plots()
        self._clear_details()
        self.verdict.clear()
        self._set_controls_enabled(False)
        self.notice.hide()
        self._say(NO_RUNS)

    def shutdown(self) -> None:
        """Stop this panel's background work (waits for it when the panel owns its job manager)."""
        for job in [*self._loading.values(), self._analysing, *self._evaluating.values()]:
            if job is not None:
                job.discard()
        self._loading, self._analysing, self._analysing_key, self._evaluating = {}, None, None, {}
        self.verdict.clear()
        if self._own_jobs:
            self.jobs.shutdown()

    @property
    def dataset_id(self) -> int | None:
        """The dataset shown."""
        return self._dataset_id

    def busy(self) -> bool:
        return any(job.running for job in self._loading.values()) or (
            self._analysing is not None and self._analysing.running)

    def snapshot(self) -> ResultsSnapshot | None:
        """What was read of the dataset shown."""
        return self._snapshots.get(self._dataset_id) if self._dataset_id is not None else None

    def level(self) -> str:
        """What the significance tests pair values by: ``"event"``, ``"session"`` or ``"user"``."""
        return str(self.level_combo.currentData())

    def set_level(self, level: str) -> None:
        index = self.level_combo.findData(level)
        if index < 0:
            raise ValueError(f"unknown level {level!r}; choose one of {', '.join(LEVEL_TITLES)}")
        self.level_combo.setCurrentIndex(index)

    def tie_mode(self) -> TieMode:
        """How ties count in every rank shown: ``"conservative"``, ``"median"`` or ``"standard"``."""
        return cast(TieMode, self.ranking.tie_mode())

    def set_tie_mode(self, tie_mode: str) -> None:
        """Show the results with ``tie_mode`` ties (read again in the background)."""
        self.ranking.set_tie_mode(tie_mode)

    # ----- loading -----
    def _load(self, dataset_id: int) -> None:
        if dataset_id in self._loading and self._loading[dataset_id].running:
            self._stale.add(dataset_id)  # read again once this load is done
            return
        url, previous, tie_mode = self._url, self._snapshots.get(dataset_id), self.tie_mode()

        def work(progress: ProgressCallback, cancel: CancelToken) -> ResultsSnapshot:
            return load_results(url, dataset_id, previous, progress, cancel, tie_mode=tie_mode)

        self._stale.discard(dataset_id)
        job = self.jobs.submit(f"Reading the results of dataset {dataset_id} ({TIE_MODE_NAMES[tie_mode]} ties)",
                               work)
        job.succeeded.connect(self._on_loaded)
        job.failed.connect(self._on_failed)
        job.finished.connect(self._on_load_finished)
        self._loading[dataset_id] = job

    @Slot()
    def _on_load_finished(self) -> None:
        self._loading = {key: job for key, job in self._loading.items() if job.running}
        if self._dataset_id in self._stale and self._dataset_id not in self._loading:
            self._load(self._dataset_id)

    @Slot(object)
    def _on_loaded(self, snapshot: ResultsSnapshot) -> None:
        if self._snapshots.get(snapshot.dataset_id) is snapshot or snapshot.settings.tie_mode != self.tie_mode():
            return  # nothing changed, or read for the tie mode chosen before
        self._snapshots[snapshot.dataset_id] = snapshot
        self._views = {key: view for key, view in self._views.items() if key[0] != snapshot.dataset_id}
        if self._analysing is not None and self._analysing_key is not None and \
                self._analysing_key[0] == snapshot.dataset_id:  # computed from the runs read before
            self._analysing.discard()
            self._analysing, self._analysing_key = None, None
        if snapshot.dataset_id == self._dataset_id:
            self._show_snapshot(snapshot)

    @Slot(object)
    def _on_failed(self, error: Exception) -> None:
        log.error("results: %s", error)
        self.status.setObjectName("errorLabel")
        self.status.setText(f"Could not read the results: {error}")
        self.status.style().polish(self.status)

    def _show_snapshot(self, snapshot: ResultsSnapshot) -> None:
        self.title.setText(f"Results — {snapshot.dataset_name}")
        self._show_ranking(snapshot)
        models = snapshot.models
        remembered = self._settings.value(self._reference_key(snapshot), "", str)
        self.reference_combo.blockSignals(True)
        self.reference_combo.clear()
        self.reference_combo.addItems(models)
        wanted = remembered if remembered in models else snapshot.default_reference()
        self.reference_combo.setCurrentIndex(models.index(wanted) if wanted in models else -1)
        self.reference_combo.blockSignals(False)
        if not models:
            self.view = None
            self.table_model.set_view(None)
            self._clear_plots()
            self._clear_details()
            self.verdict.clear()
            self._set_controls_enabled(False)
            self._say(NO_RUNS if not snapshot.unevaluated_runs() else
                      f"No run has an evaluation among {candidates_label(snapshot.settings.n_candidates)} with "
                      f"{TIE_MODE_NAMES[snapshot.settings.tie_mode]} ties to compare yet.")
            return
        self._set_controls_enabled(True)
        self._request_view()

    # ----- the dataset's evaluation setting and the tie mode -----
    def _show_ranking(self, snapshot: ResultsSnapshot) -> None:
        evaluating = snapshot.dataset_id in self._evaluating and self._evaluating[snapshot.dataset_id].running
        self.ranking.show_setting(snapshot.settings.n_candidates)
        self.notice.show_runs(len(snapshot.unevaluated_runs()), snapshot.other_modes, snapshot.settings.tie_mode,
                              snapshot.settings.n_candidates, evaluating)

    @Slot(str)
    def _on_tie_mode_chosen(self, _tie_mode: str) -> None:
        """Every snapshot and view was of the other tie mode: forget them, read the dataset shown again."""
        for job in [*self._loading.values(), self._analysing]:
            if job is not None:
                job.discard()
        self._loading, self._analysing, self._analysing_key = {}, None, None
        self._snapshots, self._views, self._stale = {}, {}, set()
        self._clear_details()
        if self._dataset_id is not None:
            self.set_dataset(self._dataset_id)

    @Slot(object)
    def _on_ranking_chosen(self, n_candidates: int | None) -> None:
        dataset_id, url = self._dataset_id, self._url
        if dataset_id is None:
            return

        def work(progress: ProgressCallback, cancel: CancelToken) -> None:
            set_dataset_candidates(url, dataset_id, n_candidates, progress, cancel)

        job = self.jobs.submit("Changing the evaluation setting", work, visible=False)
        job.succeeded.connect(self.refresh)
        job.failed.connect(self._on_failed)

    @Slot()
    def _on_evaluate_clicked(self) -> None:
        snapshot = self.snapshot()
        if snapshot is None or not snapshot.unevaluated_runs():
            return
        run_ids, tie_mode = snapshot.unevaluated_runs(), snapshot.settings.tie_mode
        job = self.jobs.submit_in_process(
            f"Evaluating {len(run_ids)} runs of {snapshot.dataset_name} ({TIE_MODE_NAMES[tie_mode]} ties)",
            evaluation_in_mode(tie_mode), (self._url, snapshot.dataset_id, run_ids))
        job.failed.connect(self._on_failed)
        job.finished.connect(self._on_evaluation_finished)
        self._evaluating[snapshot.dataset_id] = job
        self._show_ranking(snapshot)

    @Slot()
    def _on_evaluation_finished(self) -> None:
        self._evaluating = {key: job for key, job in self._evaluating.items() if job.running}
        self.refresh()

    def _reference_key(self, snapshot: ResultsSnapshot) -> str:
        """The settings key of the reference model chosen for the snapshot's dataset."""
        identity = snapshot.identity or f"{self._url}#{snapshot.dataset_id}"
        return REFERENCE_KEY.format(hashlib.sha1(identity.encode()).hexdigest()[:16])

    # ----- analysis -----
    def _current_key(self) -> tuple[int, int, str, str] | None:
        if self._dataset_id not in self._snapshots or self.reference_combo.currentIndex() < 0:
            return None
        return self._dataset_id, int(self.k_combo.currentData()), self.reference_combo.currentText(), self.level()

    @Slot()
    def _on_choice_changed(self) -> None:
        self._request_view()

    @Slot()
    def _on_reference_changed(self) -> None:
        snapshot = self.snapshot()
        if snapshot is not None and self.reference_combo.currentIndex() >= 0:
            self._settings.set_value(self._reference_key(snapshot), self.reference_combo.currentText())
        self._request_view()

    @Slot()
    def _on_level_changed(self) -> None:
        self._settings.set_value(LEVEL_KEY, self.level())
        self._request_view()

    def _request_view(self) -> None:
        key = self._current_key()
        if key is None:
            return
        if key in self._views:
            self._show_view(self._views[key])
            return
        if self._analysing is not None:
            self._analysing.discard()
        snapshot = self._snapshots[key[0]]
        # the breakdowns depend on neither the reference nor the level: those of any view at this K
        same_k = next((view for other, view in self._views.items() if other[:2] == key[:2]), None)
        self._say("Computing the comparison…" if same_k is not None
                  else "Computing the comparison and the breakdowns…")

        level_key = cast(Level, key[3])

        def work(progress: ProgressCallback, cancel: CancelToken) -> ResultsView:
            return analyse(snapshot, key[1], key[2], progress, cancel, level=level_key, breakdowns_of=same_k)

        self._analysing_key = key
        level = LEVEL_TITLES.get(key[3], key[3])
        self._analysing = self.jobs.submit(
            f"Comparing the runs of {snapshot.dataset_name} at K = {key[1]} on {level}", work)
        self._analysing.succeeded.connect(self._on_analysed)
        self._analysing.failed.connect(self._on_failed)
        self._analysing.finished.connect(self._on_analysis_finished)

    @Slot()
    def _on_analysis_finished(self) -> None:
        if self._analysing is not None and not self._analysing.running:
            self._analysing, self._analysing_key = None, None

    @Slot(object)
    def _on_analysed(self, view: ResultsView) -> None:
        if view.dataset_id not in self._snapshots:
            return
        key = (view.dataset_id, view.k, view.reference, view.level)
        self._views[key] = view
        if self._current_key() == key:
            self._show_view(view)

    def _show_view(self, view: ResultsView) -> None:
        self.view = view
        snapshot = self._snapshots[view.dataset_id]
        self.table_model.set_view(view, tie_table(snapshot.results()))
        self._show_footnote(view.level, snapshot.settings.n_candidates, snapshot.settings.tie_mode)
        self._fit_table()
        self._clear_details()
        self._draw_plots()
        self.verdict.show_context(snapshot, view.k, view.reference,
                                  protocol_caption(snapshot.settings.tie_mode, snapshot.settings.n_candidates))
        runs, models = len(snapshot.rows), len(snapshot.models)
        parts = [f"{runs} evaluated run{'s' * (runs != 1)} of {models} model{'s' * (models != 1)}"]  # others: notice
        if snapshot.missing_checkpoints:
            parts.append(f"{len(snapshot.missing_checkpoints)} run(s) without their checkpoint (stored metrics shown)")
        self._say("; ".join(parts) + "." + "".join(f" {note}." for note in view.notes))

    def _show_footnote(self, level: str, n_candidates: int | None = None, tie_mode: str = DEFAULT_TIE_MODE) -> None:
        self.footnote.setText(footnote(level, n_candidates, tie_mode))
        self.footnote.setToolTip(footnote_tip(level, n_candidates, tie_mode))

    def _fit_table(self) -> None:
        """Give the table the height of its rows, at least :data:`TABLE_ROWS` of them (the plots
        take the rest)."""
        self.table.resizeColumnsToContents()
        self._fit_table_height()

    @Slot()
    def _fit_table_height(self) -> None:
        """The rows' height, and the horizontal scroll bar's while the columns are wider than the
        table (with "Behind the selection" open), so that it never covers the last row."""
        row_height = self.table.verticalHeader().defaultSectionSize()
        header = self.table.horizontalHeader().sizeHint().height()
        frame = 2 * self.table.frameWidth() + 2
        bar = self.table.horizontalScrollBar()
        if bar.maximum() > 0:
            frame += bar.sizeHint().height()
        self.table.setMinimumHeight(row_height * min(TABLE_ROWS, max(1, self.table_model.rowCount())) + header + frame)
        self.table.setMaximumHeight(row_height * max(TABLE_ROWS, self.table_model.rowCount()) + header + frame)

    def _show_details(self) -> None:
        """Open the "Behind the selection" pane (it stays collapsed until something is selected)."""
        sizes = self.body.sizes()
        if sizes[1] == 0:
            total = sum(sizes)
            self.body.setSizes([total - DETAILS_WIDTH, DETAILS_WIDTH])

    def _clear_details(self) -> None:
        self.details.clear()
        self._collapse_details()

    @Slot()
    def _collapse_details(self) -> None:
        self.body.setSizes([1, 0])

    def details_open(self) -> bool:
        return self.body.sizes()[1] > 0

    # ----- plots -----
    def plot_metric(self) -> str:
        """The metric of the breakdown plots, e.g. ``recall@10``."""
        return f"{self.metric_combo.currentData()}@{self.k_combo.currentData()}"

    def _clear_plots(self) -> None:
        for plot in self.plots.values():
            plot.clear()

    def _draw_plots(self) -> None:
        if self.view is None:
            return
        snapshot = self._snapshots[self.view.dataset_id]
        caption = protocol_caption(snapshot.settings.tie_mode, snapshot.settings.n_candidates)
        for kind, plot in self.plots.items():
            table = self.view.breakdowns.get(kind)
            if table is None:
                plot.clear()
            else:
                plot.show_breakdown(table, self.plot_metric(), snapshot.models, BREAKDOWNS[kind].title, caption)

    @Slot()
    def _on_metric_changed(self) -> None:
        self._draw_plots()
        self._clear_details()

    # ----- selection -----
    @Slot(QModelIndex, QModelIndex)
    def _on_cell_selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self.view is None or not current.isValid():
            return
        model, metric = current.data(CELL_ROLE)
        self.details.show_cell(self._snapshots[self.view.dataset_id], self.view, model, metric)
        self._show_details()

    @Slot(str, object)
    def _on_bar_selected(self, model: str, group: object) -> None:
        if self.view is None:
            return
        kind = next(kind for kind, plot in self.plots.items() if plot is self.sender())
        self.details.show_bar(self._snapshots[self.view.dataset_id], self.view, kind, model, group, self.plot_metric())
        self._show_details()

    # ----- export -----
    def export_table(self, path: str | Path) -> None:
        """The comparison table at the current K as CSV: one row per (model, metric) with the model's
        tie statistics and the ranking protocol (``ties``: the tie mode as the command line names it,
        ``candidates``), the columns of ``report --csv``."""
        if self.view is None:
            raise RuntimeError("no results to export")
        snapshot = self._snapshots[self.view.dataset_id]
        table = self.view.table.merge(tie_table(snapshot.results()), on="model", how="left")
        table.assign(ties=snapshot.settings.tie_mode, candidates=candidates_label(snapshot.settings.n_candidates)
                     ).to_csv(path, index=False)
        log.info("comparison table written to %s", path)

    def export_plot(self, path: str | Path, kind: str | None = None) -> None:
        """The breakdown plot ``kind`` (default: the one shown) as PNG or SVG, by the suffix."""
        kind = kind or BREAKDOWNS.names()[self.plot_tabs.currentIndex()]
        self.plots[kind].export(Path(path))

    @Slot()
    def _choose_table_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the comparison table", "comparison.csv",
                                              "CSV files (*.csv)")
        if path:
            self._export(self.export_table, path)

    @Slot()
    def _choose_plot_file(self) -> None:
        kind = BREAKDOWNS.names()[self.plot_tabs.currentIndex()]
        path, chosen = QFileDialog.getSaveFileName(self, "Export the plot", f"breakdown-{kind}.png",
                                                   "PNG image (*.png);;SVG image (*.svg)")
        if path:
            if not Path(path).suffix:
                path += ".svg" if "svg" in chosen.lower() else ".png"
            self._export(self.export_plot, path)

    def _export(self, export: Callable[[str], None], path: str) -> None:
        try:
            export(path)
        except (OSError, RuntimeError) as exc:
            log.error("export to %s failed: %s", path, exc)
            self._say(f"Export failed: {exc}")
        else:
            self._say(f"Saved {path}")

    # ----- helpers -----
    def _say(self, text: str) -> None:
        if self.status.objectName() != "mutedLabel":
            self.status.setObjectName("mutedLabel")
            self.status.style().polish(self.status)
        self.status.setText(text)

    def _set_controls_enabled(self, enabled: bool) -> None:
        for widget in (self.k_combo, self.reference_combo, self.level_combo, self.metric_combo,
                       self.export_table_button, self.export_plot_button):
            widget.setEnabled(enabled)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
