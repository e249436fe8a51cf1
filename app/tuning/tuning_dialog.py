"""The Tuning dialog: tune models on a dataset's validation split (Optuna studies that worker
processes run), follow the trials live (score against trial number, the best so far, the settings
that matter most), save the best configuration as a preset, and compare the models fairly (each
tuned with the same budget, the best trained with seeds and evaluated on the test split, then a
verdict in plain sentences).

The work runs as jobs of the application's job manager, so that its progress and its cancel sit in
the status bar like every other job; the dialog only reads the studies back every few seconds, in
background jobs as well."""
from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.jobs import Job, JobManager, JobWork
from app.tuning.trials_plot import ImportancesPlot, TrialsPlot
from app.workspace_actions import DATASET_PROPERTY
from engine.errors import InputError
from engine.workbench.compare import (
    CompareOutcome,
    CompareRequest,
    ComparisonRecord,
    compare_in_background,
    load_comparisons,
    resumable_request,
)
from engine.workbench.results import DEFAULT_CUTOFFS, metric_names
from engine.workbench.training import MODELS
from engine.workbench.tuning import (
    BestConfiguration,
    StudySpec,
    StudyView,
    TrialOutcome,
    TuningRequest,
    describe_pruner,
    load_importances,
    load_studies,
    load_study_view,
    save_study_preset,
    search_space_text,
    tune_in_background,
)

log = logging.getLogger(__name__)

#: Milliseconds between two readings of the shown study while work runs.
REFRESH_MS = 1500
#: Models checked when the dialog opens: the question the workbench asks.
DEFAULT_MODELS = ("rnn", "hrnn-init")
BUDGET_KINDS = (("trials", "trials per model"), ("minutes", "minutes per model"))
TABLE_COLUMNS = ("trial", "state", "score", "epoch", "rung", "run", "settings")


def _settings_text(params: dict) -> str:
    return ", ".join(f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}"
                     for key, value in sorted(params.items()))


def _rung_text(trial: TrialOutcome) -> str:
    """The last Hyperband rung a trial reached and the epochs it trained: '1 (3 epochs)'; the
    epochs alone under another pruner; nothing for a baseline."""
    if trial.epochs is None:
        return ""
    epochs = f"{trial.epochs} epoch{'s' if trial.epochs != 1 else ''}"
    return epochs if trial.rung is None else f"{trial.rung} ({epochs})"


def _run_text(trial: TrialOutcome) -> str:
    if trial.run_id is None:
        return ""
    return f"{trial.run_id} (deleted)" if trial.run_deleted else str(trial.run_id)


class TuningDialog(QDialog):
    """Tuning and fair comparison of the models of dataset ``dataset_id`` in the workspace ``url``."""

    def __init__(self, url: str, dataset_id: int, jobs: JobManager, dataset_name: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.url, self.dataset_id, self.jobs = url, dataset_id, jobs
        self.dataset_name = dataset_name or f"dataset {dataset_id}"
        self.setWindowTitle(f"Tuning — {self.dataset_name}")
        self.resize(1280, 720)
        self.view: StudyView | None = None
        self.importances: dict[str, float] = {}
        self.work: Job | None = None  # tuning or comparing
        self._reading: dict[str, Job] = {}  # what is being read back: "studies", "view", "importances", ...
        # a read asked for while one of its kind runs: started when that one ends (else the last read
        # after tuning could be skipped, and the dialog would keep showing a trial short)
        self._pending: dict[str, tuple[JobWork, Callable[[Any], None]]] = {}
        self._closing = False
        self._importances_of: tuple[str, int] | None = None  # (study, complete trials) they were computed for
        self._follow = True  # show the newest study as it appears
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._refresh)
        self._refresh()
        self._read("comparisons", functools.partial(load_comparisons, url, dataset_id), self._on_comparisons)

    # ----- layout -----
    def _build(self) -> None:
        self.models = QListWidget()
        self.models.setToolTip("The models to tune (one study each) or to compare")
        for entry in MODELS:
            item = QListWidgetItem(entry.label)
            item.setData(Qt.ItemDataRole.UserRole, entry.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if entry.name in DEFAULT_MODELS else Qt.CheckState.Unchecked)
            try:
                item.setToolTip(f"{entry.description}\nSearched: {search_space_text(entry.name)}")
            except InputError:
                item.setToolTip(f"{entry.description}\nNothing to tune: a comparison trains its preset")
            self.models.addItem(item)
        self.budget_kind = QComboBox()
        for kind, text in BUDGET_KINDS:
            self.budget_kind.addItem(text, kind)
        self.budget_value = QSpinBox()
        self.budget_value.setRange(1, 100_000)
        self.budget_value.setValue(20)
        self.budget_value.setToolTip("The same budget for every model: trials, or minutes of tuning")
        self.metric_combo = QComboBox()
        self.metric_combo.addItems(metric_names(DEFAULT_CUTOFFS))
        self.metric_combo.setToolTip("What tuning maximises on the validation split (and what the verdict reads)")
        self.workers = QSpinBox()
        self.workers.setRange(1, max(os.cpu_count() or 1, 1))
        self.workers.setToolTip("Worker processes on this machine; workers on other machines join a study with "
                                "python main.py tune-worker STUDY --workspace URL")
        self.seeds = QSpinBox()
        self.seeds.setRange(1, 20)
        self.seeds.setValue(5)
        self.seeds.setToolTip("Seeds of each network's final training in a fair comparison")
        self.tune_button = QPushButton("Tune")
        self.tune_button.setToolTip("Tune each checked model with the budget (resumes its study if there is one)")
        self.tune_button.clicked.connect(self._on_tune_clicked)
        self.compare_button = QPushButton("Compare fairly")
        self.compare_button.setToolTip("Tune every checked model with the same budget, train each one's best with "
                                       "the seeds, evaluate on the test split and give a verdict")
        self.compare_button.clicked.connect(self._on_compare_clicked)
        self.resume_button = QPushButton("Resume comparison")
        self.resume_button.setToolTip("Continue the comparison that was cancelled or stopped: its tuned models and "
                                      "finished runs are kept")
        self.resume_button.clicked.connect(self._on_resume_clicked)
        self.resume_button.setVisible(False)
        self.resumable: ComparisonRecord | None = None

        budget = QHBoxLayout()
        budget.addWidget(self.budget_value)
        budget.addWidget(self.budget_kind, 1)
        form = QFormLayout()
        form.addRow("Budget", budget)
        form.addRow("Metric", self.metric_combo)
        form.addRow("Workers", self.workers)
        form.addRow("Seeds", self.seeds)
        buttons = QHBoxLayout()
        buttons.addWidget(self.tune_button)
        buttons.addWidget(self.compare_button)
        setup = QGroupBox("Models and budget")
        setup_layout = QVBoxLayout(setup)
        setup_layout.addWidget(self.models, 1)
        setup_layout.addLayout(form)
        setup_layout.addLayout(buttons)
        setup_layout.addWidget(self.resume_button)

        self.best_label = QLabel("No study yet")
        self.best_label.setWordWrap(True)
        self.preset_name = QLineEdit()
        self.preset_name.setPlaceholderText("preset name")
        self.preset_name.setToolTip("Train with it later: choose this preset in Training, or train --preset NAME")
        self.preset_button = QPushButton("Use as preset")
        self.preset_button.setToolTip("Save the study's best configuration as a preset of its model")
        self.preset_button.setEnabled(False)
        self.preset_button.clicked.connect(self._on_preset_clicked)
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.preset_name, 1)
        preset_row.addWidget(self.preset_button)
        best = QGroupBox("Best configuration")
        best_layout = QVBoxLayout(best)
        best_layout.addWidget(self.best_label)
        best_layout.addLayout(preset_row)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(setup, 1)
        left_layout.addWidget(best)
        left.setMinimumWidth(300)
        left.setMaximumWidth(380)

        self.study_combo = QComboBox()
        self.study_combo.setToolTip("The study shown (the newest one is followed while work runs)")
        self.study_combo.activated.connect(self._on_study_chosen)
        self.trials_plot = TrialsPlot()
        self.importances_plot = ImportancesPlot()
        self.trials_table = QTableWidget(0, len(TABLE_COLUMNS))
        self.trials_table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        rung_header = self.trials_table.horizontalHeaderItem(TABLE_COLUMNS.index("rung"))
        if rung_header is not None:
            rung_header.setToolTip("Hyperband's last rung the trial reached and the epochs it trained: a trial pruned "
                                   "at rung r trained 1 x 3^r epochs (1, 3, 9 ...); only complete trials can be best")
        self.trials_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.trials_table.setAlternatingRowColors(True)
        self.trials_table.verticalHeader().setVisible(False)
        self.trials_table.verticalHeader().setDefaultSectionSize(22)
        self.trials_table.horizontalHeader().setSectionResizeMode(len(TABLE_COLUMNS) - 1,
                                                                  QHeaderView.ResizeMode.Stretch)
        self.verdict = QTextBrowser()
        self.verdict.setPlaceholderText("No fair comparison of this dataset yet")
        self.status = QLabel("")
        self.status.setObjectName("mutedLabel")
        self.status.setWordWrap(True)

        study_row = QHBoxLayout()
        study_row.addWidget(QLabel("Study"))
        study_row.addWidget(self.study_combo, 1)
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self._titled("Trials: validation score, best so far", self.trials_plot))
        plots.addWidget(self._titled("Parameter importances", self.importances_plot))
        plots.setSizes([560, 340])
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.trials_table)
        lower.addWidget(self._titled("Verdict of the latest fair comparison", self.verdict))
        lower.setSizes([560, 340])
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(plots)
        right.addWidget(lower)
        right.setSizes([330, 300])
        right_widget = QWidget()
        right_layout = QVBoxLayout(right_widget)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(study_row)
        right_layout.addWidget(right, 1)
        right_layout.addWidget(self.status)

        layout = QHBoxLayout(self)
        layout.addWidget(left)
        layout.addWidget(right_widget, 1)

    @staticmethod
    def _titled(title: str, widget: QWidget) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        label = QLabel(title)
        label.setObjectName("sectionLabel")
        layout.addWidget(label)
        layout.addWidget(widget, 1)
        return box

    # ----- what the user asks for -----
    def checked_models(self) -> list[str]:
        return [self.models.item(row).data(Qt.ItemDataRole.UserRole) for row in range(self.models.count())
                if self.models.item(row).checkState() == Qt.CheckState.Checked]

    def set_checked_models(self, names: list[str]) -> None:
        for row in range(self.models.count()):
            item = self.models.item(row)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in names
                               else Qt.CheckState.Unchecked)

    def _budget(self) -> tuple[int | None, float | None]:
        """(trials, seconds) per model."""
        value = self.budget_value.value()
        return (value, None) if self.budget_kind.currentData() == "trials" else (None, value * 60.0)

    @Slot()
    def _on_tune_clicked(self) -> None:
        trials, seconds = self._budget()
        tunable = [model for model in self.checked_models() if MODELS[model].search_space]
        if not tunable:
            self._show_problem("Check at least one model with settings to tune (Pop and Personal Pop have none)")
            return
        requests = [TuningRequest(self.dataset_id, model, trials, seconds, self.metric_combo.currentText())
                    for model in tunable]
        labels = ", ".join(MODELS[model].label for model in tunable)
        # in a child process, as a comparison: its database and study objects would otherwise keep the
        # window waiting for the interpreter and for its collections of garbage
        job = self.jobs.submit_in_process(f"Tuning {labels} on {self.dataset_name}", tune_in_background,
                                          (self.url, requests, self.workers.value()))
        self._start(job, self._on_tuned)

    @Slot()
    def _on_compare_clicked(self) -> None:
        models = self.checked_models()
        if not models:
            self._show_problem("Check the models to compare")
            return
        trials, seconds = self._budget()
        request = CompareRequest(self.dataset_id, tuple(models), trials, seconds, self.seeds.value(),
                                 self.workers.value(), self.metric_combo.currentText())
        self._compare(request, f"Comparing {len(models)} models fairly on {self.dataset_name}")

    @Slot()
    def _on_resume_clicked(self) -> None:
        record = self.resumable
        request = resumable_request(record) if record is not None else None
        if record is None or request is None or self.work is not None:
            return
        self._compare(request, f"Resuming comparison #{record.id} on {self.dataset_name}")

    def _compare(self, request: CompareRequest, title: str) -> None:
        job = self.jobs.submit_in_process(title, compare_in_background, (self.url, request))
        self._start(job, self._on_compared)

    def _start(self, job: Job, on_success: Callable[[Any], None]) -> None:
        self.work = job
        job.setProperty(DATASET_PROPERTY, self.dataset_id)  # the dataset is held: deleting it offers to cancel
        self._follow = True
        job.succeeded.connect(on_success)
        job.failed.connect(self._on_work_failed)
        job.cancelled.connect(self._on_work_cancelled)
        job.progressed.connect(self._on_work_progressed)
        job.finished.connect(self._on_work_finished)
        self.tune_button.setEnabled(False)
        self.compare_button.setEnabled(False)
        self.resume_button.setEnabled(False)
        self._show_status(f"{job.title}: starting (progress and cancel in the status bar)")
        self._timer.start()

    @Slot(float, str)
    def _on_work_progressed(self, fraction: float, message: str) -> None:
        if self.work is not None:
            self._show_status(f"{self.work.title}: {message} ({fraction:.0%})")

    @Slot(object)
    def _on_tuned(self, runs: list) -> None:
        trials = sum(len(run.view.trials) for run in runs)
        self._show_status(f"Tuning done: {len(runs)} stud{'y' if len(runs) == 1 else 'ies'}, {trials} trials")

    @Slot(object)
    def _on_compared(self, outcome: CompareOutcome) -> None:
        self.verdict.setPlainText(f"Comparison #{outcome.comparison_id} ({outcome.metric}, test split)\n\n"
                                  f"{outcome.verdict.text}")
        self._show_status(f"Comparison #{outcome.comparison_id} done: its runs are the 'tuned #"
                          f"{outcome.comparison_id}' rows of Results")

    @Slot(object)
    def _on_work_failed(self, error: Exception) -> None:
        self._show_problem(str(error))

    @Slot()
    def _on_work_cancelled(self) -> None:
        self._show_status("Cancelled: tuning again resumes the studies, and a comparison can be resumed")

    @Slot()
    def _on_work_finished(self) -> None:
        self.work = None
        self.tune_button.setEnabled(True)
        self.compare_button.setEnabled(True)
        self.resume_button.setEnabled(True)
        self._timer.stop()
        self._refresh()
        self._read("comparisons", functools.partial(load_comparisons, self.url, self.dataset_id),
                   self._on_comparisons)

    @Slot()
    def _on_preset_clicked(self) -> None:
        name = self.preset_name.text().strip()
        study = self.study_combo.currentData()
        if not name or study is None:
            self._show_problem("Give the preset a name")
            return
        job = self.jobs.submit(f"Saving preset {name}", functools.partial(save_study_preset, self.url, study, name),
                               visible=False)
        job.succeeded.connect(self._on_preset_saved)
        job.failed.connect(self._on_work_failed)

    @Slot(object)
    def _on_preset_saved(self, best: BestConfiguration) -> None:
        self._show_status(f"Saved the best configuration of {best.study} (trial {best.trial.number}) as preset "
                          f"'{self.preset_name.text().strip()}' of {MODELS[best.model].label}")

    @Slot(int)
    def _on_study_chosen(self, _index: int) -> None:
        self._follow = False
        self._read_view()

    # ----- reading the studies back -----
    def _read(self, key: str, work: JobWork, on_success: Callable[[Any], None]) -> None:
        """Read something back in the background, one read of each kind at a time."""
        if self._closing:
            return
        running = self._reading.get(key)
        if running is not None and running.running:
            self._pending[key] = (work, on_success)
            return
        job = self.jobs.submit(f"Reading {key}", work, visible=False)
        job.succeeded.connect(on_success)
        job.failed.connect(self._on_read_failed)
        job.finished.connect(self._on_read_finished)
        self._reading[key] = job

    @Slot()
    def _on_read_finished(self) -> None:
        """Start the reads asked for while one of their kind ran."""
        for key in [key for key in self._pending if not self._reading[key].running]:
            work, on_success = self._pending.pop(key)
            self._read(key, work, on_success)

    @Slot()
    def _refresh(self) -> None:
        self._read("studies", functools.partial(load_studies, self.url, self.dataset_id), self._on_studies)
        self._read_view()

    def _read_view(self) -> None:
        study = self.study_combo.currentData()
        if study is not None:
            self._read("view", functools.partial(load_study_view, self.url, study), self._on_view)

    @Slot(object)
    def _on_studies(self, specs: list[StudySpec]) -> None:
        names = [spec.name for spec in specs]
        shown = self.study_combo.currentData()
        if names != [self.study_combo.itemData(index) for index in range(self.study_combo.count())]:
            self.study_combo.clear()
            for spec in specs:
                label = MODELS[spec.model].label if spec.model in MODELS else spec.model
                self.study_combo.addItem(f"{spec.name} — {label}, {spec.metric}", spec.name)
        target = names[-1] if names and (self._follow or shown not in names) else shown
        if target is not None and target != self.study_combo.currentData():
            self.study_combo.setCurrentIndex(names.index(target))
        if target != shown:
            self._read_view()
        if not names:
            self.best_label.setText("No study of this dataset yet")

    @Slot(object)
    def _on_view(self, view: StudyView) -> None:
        if view.spec.name != self.study_combo.currentData():
            return
        self.view = view
        self.trials_plot.show_study(view)
        self._fill_table(view)
        best = view.best
        if best is None:
            self.best_label.setText(f"{view.spec.name}: no trial completed yet")
        else:
            deleted = (f"\nIts run #{best.run_id} was deleted: a preset takes the trial's own settings"
                       if best.run_deleted else "")
            self.best_label.setToolTip(describe_pruner(view.spec))
            self.best_label.setText(
                f"{view.spec.name}: trial {best.number}, {view.spec.metric} {best.value:.4f}"
                f"{f' at epoch {best.best_epoch}' if best.best_epoch else ''}\n{_settings_text(best.params)}{deleted}")
            if not self.preset_name.text():
                self.preset_name.setText(f"tuned-{view.spec.model}-{self.dataset_id}")
        self.preset_button.setEnabled(best is not None)
        complete = view.count("complete")
        if (view.spec.name, complete) != self._importances_of:
            self._importances_of = (view.spec.name, complete)
            self._read("importances", functools.partial(load_importances, self.url, view.spec.name),
                       self._on_importances)

    def _fill_table(self, view: StudyView) -> None:
        trials = sorted(view.trials, key=lambda t: -t.number)
        self.trials_table.setRowCount(len(trials))
        for row, trial in enumerate(trials):
            settings = ("the defaults: " if trial.defaults else "") + _settings_text(trial.params)
            cells = (str(trial.number), trial.state, f"{trial.value:.4f}" if math.isfinite(trial.value) else "",
                     str(trial.best_epoch or ""), _rung_text(trial), _run_text(trial), trial.reason or settings)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == len(cells) - 1:
                    item.setToolTip(f"{_settings_text(trial.params)}\n{trial.reason}".strip())
                self.trials_table.setItem(row, column, item)
        self.trials_table.resizeColumnsToContents()

    @Slot(object)
    def _on_importances(self, importances: dict[str, float]) -> None:
        self.importances = importances
        self.importances_plot.show_importances(importances)

    @Slot(object)
    def _on_comparisons(self, records: list[ComparisonRecord]) -> None:
        finished = [record for record in records if record.status == "finished" and record.verdict]
        if finished:
            latest = finished[0]
            deleted = ", ".join(f"#{run_id}" for run_id in latest.deleted_runs)
            note = f"\n\nRuns {deleted} of this comparison have been deleted since." if deleted else ""
            self.verdict.setPlainText(f"Comparison #{latest.id} ({latest.metric}, test split)\n\n{latest.verdict}"
                                      f"{note}")
        self.resumable = records[0] if records and resumable_request(records[0]) is not None else None
        self.resume_button.setVisible(self.resumable is not None)
        if self.resumable is not None:
            how = {"cancelled": "was cancelled", "interrupted": "stopped (its process ended without finishing)",
                   "failed": "failed"}[self.resumable.status]
            self.resume_button.setText(f"Resume comparison #{self.resumable.id}")
            self.resume_button.setToolTip(f"Comparison #{self.resumable.id} {how}; resuming keeps its tuned models "
                                          "and finished runs")

    @Slot(object)
    def _on_read_failed(self, error: Exception) -> None:
        log.warning("tuning dialog: %s", error)
        self._show_problem(str(error))

    def _show_status(self, text: str) -> None:
        self.status.setObjectName("mutedLabel")
        self.status.setText(text)
        self.status.style().polish(self.status)

    def _show_problem(self, text: str) -> None:
        self.status.setObjectName("errorLabel")
        self.status.setText(text)
        self.status.style().polish(self.status)

    def _stop_reading(self) -> None:
        """Closing stops the reading back; tuning and comparing go on (the status bar shows them)."""
        self._timer.stop()
        self._closing = True
        self._pending.clear()
        for job in self._reading.values():
            if job.running:
                job.discard()

    def done(self, result: int) -> None:
        self._stop_reading()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._stop_reading()
        super().closeEvent(event)
