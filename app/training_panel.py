"""The Training panel: choose a dataset, models (any registered one) each with its own preset or
custom settings, seeds and the device; queue runs executed by a child process; live curves,
progress with ETA, cancel; the runs table (parameters, final loss, time, test metrics, status;
sorted, filtered) whose selected runs' curves are drawn together. It reads the workspace only
through background jobs: the window hands it the overview, curves are loaded in the background."""
from __future__ import annotations

import functools
import json
import logging

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QWidget

from app.jobs import Job, JobManager
from app.run_process import RunProcessQueue
from app.settings import AppSettings
from app.training_layout import TrainingLayout
from engine.errors import InputError
from engine.workbench.datasets import WorkspaceOverview
from engine.workbench.saved_presets import SavedPresetInfo
from engine.workbench.studies import is_trial, study_groups
from engine.workbench.training import (
    LOSS_KEY,
    MODELS,
    RunCurves,
    load_curves,
    model_entry,
    model_label,
    plan_runs_at,
    run_label,
)

log = logging.getLogger(__name__)

PROGRESS_REFRESH_MS = 100
MAX_SEEDS = 100


def parse_seeds(text: str) -> list[int]:
    """Seeds from "0", "0, 1, 2" or "0-9" (ranges inclusive); InputError when unreadable."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high) if high else int(low)
        except ValueError:
            raise InputError(f"Seeds: cannot read {part!r}; write e.g. 0, 1, 2 or 0-9") from None
        if first < 0 or last < first:
            raise InputError(f"Seeds: {part!r} is not a non-negative number or an increasing range")
        seeds += [s for s in range(first, last + 1) if s not in seeds]
    if not seeds:
        raise InputError("Seeds: give at least one seed (e.g. 0)")
    if len(seeds) > MAX_SEEDS:
        raise InputError(f"Seeds: {len(seeds)} seeds; at most {MAX_SEEDS} per start")
    return seeds


def format_eta(seconds: float) -> str:
    if seconds < 0:
        return ""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def cuda_available() -> bool:
    import torch  # already loaded by the training configuration

    return bool(torch.cuda.is_available())


class TrainingPanel(TrainingLayout):
    """Plan runs and watch them train."""

    runs_changed = Signal()  # runs were queued: the workspace changed
    rename_requested = Signal(str, int)
    note_requested = Signal(str, int)
    delete_requested = Signal(str, list)
    retry_requested = Signal(list)

    def __init__(self, jobs: JobManager, queue: RunProcessQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._jobs = jobs
        self.queue = queue
        self._url: str | None = None
        self.overview: WorkspaceOverview | None = None
        self._live: dict[int, tuple[list[int], list[float]]] = {}
        self._stored: dict[int, RunCurves] = {}
        self._curves_job: Job | None = None
        self._curves_request = 0
        self._planning: Job | None = None
        self._pending_progress: tuple[int, float, str, float] | None = None
        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(PROGRESS_REFRESH_MS)
        self._progress_timer.timeout.connect(self._flush_progress)
        self._build(cuda_available())
        self._connect()
        self._set_running(False)
        self._validate()

    def _connect(self) -> None:
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_changed)
        self.models.changed.connect(self._validate)
        self.seeds_edit.textChanged.connect(self._validate)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.queue.cancel_current)
        self.cancel_all_button.clicked.connect(self.queue.cancel_all)
        self.runs_view.selection_changed.connect(self._on_runs_selected)
        self.runs_view.all_datasets.toggled.connect(self._show_runs)
        self.runs_view.trials.toggled.connect(self._show_runs)
        for source, target in ((self.runs_view.rename_requested, self.rename_requested),
                               (self.runs_view.note_requested, self.note_requested),
                               (self.runs_view.delete_requested, self.delete_requested),
                               (self.runs_view.retry_requested, self.retry_requested)):
            source.connect(target)
        self.queue.run_started.connect(self._on_run_started)
        self.queue.run_progress.connect(self._on_run_progress)
        self.queue.run_epoch.connect(self._on_run_epoch)
        self.queue.run_finished.connect(self._on_run_finished)
        self.queue.queue_changed.connect(self._on_queue_changed)

    # ----- the workspace -----
    def set_workspace(self, url: str | None) -> None:
        """Another workspace (None: none): what was shown of the previous one goes."""
        self._url, self.overview = url, None
        self._live.clear()
        self._stored.clear()
        if self._curves_job is not None:
            self._curves_job.discard()
        self._curves_job = None
        self.dataset_combo.clear()
        self.runs_view.show_runs(None, None)
        self.progress_label.setText("No run in progress.")
        self.progress_bar.setValue(0)
        self.run_error.hide()
        self._show_curves([])

    def set_saved_presets(self, presets: list[SavedPresetInfo]) -> None:
        """The presets saved in the workspace, offered in their models' preset lists."""
        self.models.set_saved_presets(presets)

    def set_overview(self, overview: WorkspaceOverview) -> None:
        """The workspace changed: its datasets and runs (the selection and live curves stay)."""
        self.overview = overview
        current = self.dataset_id()
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.clear()
        for dataset in overview.datasets:
            self.dataset_combo.addItem(f"{dataset.name} ({dataset.statistics.get('events', 0):,} events)", dataset.id)
            self.dataset_combo.setItemData(self.dataset_combo.count() - 1, dataset.name, Qt.ItemDataRole.ToolTipRole)
        index = self.dataset_combo.findData(current) if current is not None else -1
        self.dataset_combo.setCurrentIndex(index if index >= 0 else 0 if overview.datasets else -1)
        self.dataset_combo.blockSignals(False)
        training = {run.id for run in overview.runs if run.status in ("queued", "running")}
        self._stored = {run_id: curves for run_id, curves in self._stored.items() if run_id not in training}
        self._show_runs()
        self._validate()

    def select_dataset(self, dataset_id: int | None) -> None:
        index = self.dataset_combo.findData(dataset_id) if dataset_id is not None else -1
        if index >= 0 and index != self.dataset_combo.currentIndex():
            self.dataset_combo.setCurrentIndex(index)

    def dataset_id(self) -> int | None:
        data = self.dataset_combo.currentData()
        return int(data) if data is not None else None

    @Slot()
    def _on_dataset_changed(self) -> None:
        self._show_runs()
        self._validate()

    @Slot()
    def _show_runs(self) -> None:
        self.runs_view.show_runs(self.overview, self.dataset_id())
        self._on_runs_selected(self.runs_view.selected_runs())

    # ----- choices -----
    def checked_models(self) -> list[str]:
        return self.models.checked_models()

    def set_checked_models(self, models: list[str]) -> None:
        self.models.set_checked_models(models)

    @Slot()
    def _validate(self) -> None:
        problem = self.validation_problem()
        self.validation_label.setText(problem or "")
        self.validation_label.setVisible(bool(problem))
        ready = problem is None and bool(self.checked_models()) and self.dataset_id() is not None
        self.start_button.setEnabled(ready and self._planning is None)

    def validation_problem(self) -> str | None:
        """The first reason the current choices cannot be started (the engine's message, naming the
        field by its label), or None."""
        try:
            seeds = parse_seeds(self.seeds_edit.text())
        except InputError as exc:
            return str(exc)
        return self.models.problem(seeds, self.device_combo.currentData())

    # ----- starting -----
    @Slot()
    def start(self) -> None:
        """Plan one run per checked model and seed in the background, then queue them."""
        dataset_id = self.dataset_id()
        if self.validation_problem() is not None or dataset_id is None or not self.checked_models() or \
                self._url is None or self._planning is not None:
            return
        work = functools.partial(plan_runs_at, self._url, dataset_id, self.models.plans(),
                                 parse_seeds(self.seeds_edit.text()), self.device_combo.currentData())
        self._planning = self._jobs.submit("Planning runs", work, visible=False)
        self._planning.succeeded.connect(self._on_planned)
        self._planning.failed.connect(self._on_plan_failed)
        self._planning.finished.connect(self._on_planning_finished)
        self.start_button.setEnabled(False)

    @Slot(object)
    def _on_planned(self, run_ids: list[int]) -> None:
        log.info("queued runs %s", ", ".join(f"#{r}" for r in run_ids))
        self.queue.enqueue(run_ids)
        self.runs_changed.emit()

    @Slot(object)
    def _on_plan_failed(self, error: Exception) -> None:
        self.validation_label.setText(str(error))
        self.validation_label.show()

    @Slot()
    def _on_planning_finished(self) -> None:
        self._planning = None
        self._validate()

    # ----- live updates -----
    def _set_running(self, running: bool) -> None:
        self.cancel_button.setEnabled(running)
        self.cancel_all_button.setEnabled(running)
        if running:
            self._progress_timer.start()
        else:
            self._progress_timer.stop()

    @Slot(int, str)
    def _on_run_started(self, run_id: int, device: str) -> None:
        self._live[run_id] = ([], [])
        self._set_running(True)
        self.progress_bar.setValue(0)
        self.progress_label.setText(f"Run #{run_id} started on {device or 'the default device'}.")
        self.runs_changed.emit()
        if not self.runs_view.selected_runs() or self.runs_view.selected_runs() == [self.queue.current_run]:
            self.runs_view.select_runs([run_id])
        self._on_runs_selected(self.runs_view.selected_runs() or [run_id])

    @Slot(int, float, str, float)
    def _on_run_progress(self, run_id: int, fraction: float, message: str, eta_s: float) -> None:
        self._pending_progress = (run_id, fraction, message, eta_s)

    @Slot()
    def _flush_progress(self) -> None:
        if self._pending_progress is None:
            return
        run_id, fraction, message, eta_s = self._pending_progress
        self._pending_progress = None
        self.progress_bar.setValue(int(max(0.0, min(fraction, 1.0)) * 1000))
        eta = format_eta(eta_s)
        self.progress_label.setText(f"Run #{run_id}: {message}" + (f" — about {eta} left" if eta else ""))

    @Slot(int, int, float, float)
    def _on_run_epoch(self, run_id: int, epoch: int, loss: float, _seconds: float) -> None:
        epochs, losses = self._live.setdefault(run_id, ([], []))
        epochs.append(epoch)
        losses.append(loss)
        if run_id in self.runs_view.selected_runs():
            self._draw()

    @Slot(int, str, str)
    def _on_run_finished(self, run_id: int, status: str, error: str) -> None:
        self._flush_progress()
        # a run that failed or was cancelled never reads 100% (its last progress may have been the end)
        self.progress_bar.setValue(1000 if status == "finished" else 0)
        self.progress_label.setText(f"Run #{run_id} {status}." + (f" {error}" if error else ""))
        if status == "failed":
            log.warning("run %d failed: %s", run_id, error)
        self._stored.pop(run_id, None)
        self.runs_changed.emit()

    @Slot()
    def _on_queue_changed(self) -> None:
        pending = self.queue.pending_runs
        self.queue_label.setText("Queued: " + ", ".join(f"#{r}" for r in pending) if pending else "")
        self._set_running(self.queue.busy())

    # ----- curves -----
    @Slot(list)
    def _on_runs_selected(self, run_ids: list[int]) -> None:
        """Draw the curves of the selected runs (reading those not read yet in the background)."""
        missing = [run_id for run_id in run_ids if run_id not in self._stored and run_id not in self._live]
        if missing and self._url is not None:
            self._curves_request += 1
            work = functools.partial(load_curves, self._url, missing)
            if self._curves_job is not None:
                self._curves_job.discard()
            self._curves_job = self._jobs.submit("Reading curves", work, visible=False)
            self._curves_job.succeeded.connect(self._on_curves)
        self._draw()
        self._show_error(run_ids)

    @Slot(object)
    def _on_curves(self, curves: dict[int, RunCurves]) -> None:
        if self.sender() is not self._curves_job:
            return
        self._stored.update(curves)
        self._draw()

    def _draw(self) -> None:
        self._show_curves(self.runs_view.selected_runs())

    def _show_curves(self, run_ids: list[int]) -> None:
        runs = {run.id: run for run in (self.overview.runs if self.overview is not None else [])}
        trials = {run_id: group.trial_label(run_id) for group in study_groups(list(runs.values()))
                  for run_id in group.run_ids if run_id in run_ids}
        curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
        for run_id in run_ids:
            run = runs.get(run_id)
            label = (f"#{run_id} {trials[run_id]}" if run_id in trials else run_label(run)) if run is not None \
                else f"#{run_id}"
            if run_id in self._live and self._live[run_id][0]:
                epochs, losses = self._live[run_id]
                curves[label] = {LOSS_KEY: (np.asarray(epochs), np.asarray(losses, dtype=float))}
            elif run_id in self._stored:
                curves[label] = dict(self._stored[run_id].series)
            else:
                curves[label] = {}
        if len(run_ids) == 1:
            run = runs.get(run_ids[0])
            title = f"Curves of {model_label(run)} (#{run_ids[0]})" if run is not None else "Curves"
        elif run_ids:
            title = f"Curves of {len(run_ids)} runs"
        else:
            title = "Curves: select runs in the table below, or start one."
        baselines_only = run_ids and all(run_id in runs and not _is_network(runs[run_id].model) for run_id in run_ids)
        empty = "Baselines fit in one pass: no epochs" if baselines_only else "No epochs yet"
        self.curves.show_curves(curves, title, empty)

    def _show_error(self, run_ids: list[int]) -> None:
        runs = {run.id: run for run in (self.overview.runs if self.overview is not None else [])}
        failed = [runs[run_id] for run_id in run_ids if run_id in runs and runs[run_id].status == "failed"]
        self.run_error.setText("\n".join(f"Run #{run.id} failed: {run.error}" for run in failed[:3]))
        self.run_error.setVisible(bool(failed))

    def show_run(self, run_id: int) -> None:
        """Select run ``run_id`` (and its dataset) and draw its curves."""
        run = self.overview.run(run_id) if self.overview is not None else None
        if run is not None:
            self.select_dataset(run.dataset_id)
            if is_trial(run) and not self.runs_view.trials.isChecked():
                self.runs_view.trials.setChecked(True)  # a tuning trial chosen in the browser: list the trials
        self.runs_view.select_runs([run_id])
        self._on_runs_selected([run_id])

    def curve_points(self) -> tuple[list[float], list[float]]:
        return self.curves.points()

    # ----- remembered choices -----
    def save_state(self, settings: AppSettings) -> None:
        settings.set_value("training/choices", json.dumps(self.models.state()))
        settings.set_value("training/seeds", self.seeds_edit.text())
        settings.set_value("training/device", self.device_combo.currentData())

    def restore_state(self, settings: AppSettings) -> None:
        try:
            state = json.loads(settings.value("training/choices", "{}", str))
        except json.JSONDecodeError:
            state = {}
        if isinstance(state, dict):
            self.models.restore(state)
        self.seeds_edit.setText(settings.value("training/seeds", "0", str))
        device_index = self.device_combo.findData(settings.value("training/device", "", str))
        if device_index >= 0:
            self.device_combo.setCurrentIndex(device_index)
        self._validate()



def _is_network(model: str) -> bool:
    return model in MODELS and model_entry(model).neural
