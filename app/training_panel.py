"""The Training panel: choose a dataset, models, a preset or custom hyper-parameters, seeds and
the device; queue runs executed by a child process; live loss curve, progress with ETA, cancel;
the dataset's runs with their status and, for failed ones, why."""
from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.config_form import ConfigForm
from app.run_process import RunProcessQueue
from app.settings import AppSettings
from app.workspace_browser import STATUS_COLOURS
from engine.errors import InputError, WorkbenchError
from engine.workbench.datasets import DatasetSummary
from engine.workbench.training import MODELS, RunSummary, list_runs, model_entry, plan_runs, run_curves, run_label
from engine.workbench.workspaces import Workspace

log = logging.getLogger(__name__)

PRESET_CHOICES = (("Paper small", "small"), ("Paper large", "large"), ("Custom", "custom"))
PROGRESS_REFRESH_MS = 100
MAX_SEEDS = 100
MAX_LABELLED_EPOCHS = 20  # up to this many epochs, every epoch gets a tick


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
            raise InputError(f"seeds: cannot read {part!r}; write e.g. 0, 1, 2 or 0-9") from None
        if first < 0 or last < first:
            raise InputError(f"seeds: {part!r} is not a non-negative number or an increasing range")
        seeds += [s for s in range(first, last + 1) if s not in seeds]
    if not seeds:
        raise InputError("seeds: give at least one seed (e.g. 0)")
    if len(seeds) > MAX_SEEDS:
        raise InputError(f"seeds: {len(seeds)} seeds; at most {MAX_SEEDS} per start")
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


class TrainingPanel(QWidget):
    """Plan runs and watch them train."""

    runs_changed = Signal()

    def __init__(self, workspace: Workspace, queue: RunProcessQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._workspace = workspace
        self.queue = queue
        self._live: dict[int, tuple[list[int], list[float]]] = {}
        self._shown_run: int | None = None
        self._runs: dict[int, RunSummary] = {}
        self._pending_progress: tuple[int, float, str, float] | None = None
        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(PROGRESS_REFRESH_MS)
        self._progress_timer.timeout.connect(self._flush_progress)
        self._build()
        queue.run_started.connect(self._on_run_started)
        queue.run_progress.connect(self._on_run_progress)
        queue.run_epoch.connect(self._on_run_epoch)
        queue.run_finished.connect(self._on_run_finished)
        queue.queue_changed.connect(self._on_queue_changed)
        self._on_preset_changed()

    # ----- layout -----
    def _build(self) -> None:
        self.dataset_combo = QComboBox()
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_changed)
        self.model_list = QListWidget()
        for entry in MODELS:
            item = QListWidgetItem(entry.label)
            item.setData(Qt.ItemDataRole.UserRole, entry.name)
            item.setToolTip(entry.description)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.model_list.addItem(item)
        self.model_list.setMaximumHeight(self.model_list.sizeHintForRow(0) * len(MODELS) + 6)
        self.model_list.itemChanged.connect(self._on_models_changed)
        self.preset_combo = QComboBox()
        for label, name in PRESET_CHOICES:
            self.preset_combo.addItem(label, name)
        self.preset_combo.currentIndexChanged.connect(self._on_preset_changed)
        self.seeds_edit = QLineEdit("0")
        self.seeds_edit.setToolTip("One run per seed: 0, 1, 2 or 0-9")
        self.seeds_edit.textChanged.connect(self._validate)
        self.device_combo = QComboBox()
        self.device_combo.addItem("CPU", "cpu")
        if cuda_available():
            self.device_combo.addItem("GPU (CUDA)", "cuda")
            self.device_combo.setCurrentIndex(1)
        self.neural_form = ConfigForm(model_entry("hrnn-init").config_type)
        self.neural_form.changed.connect(self._validate)
        self.baseline_form = ConfigForm(model_entry("item-knn").config_type, columns=1)
        self.baseline_form.changed.connect(self._validate)
        self.form_caption = QLabel("")
        self.form_caption.setObjectName("mutedLabel")
        self.form_caption.setWordWrap(True)
        self.validation_label = QLabel("")
        self.validation_label.setObjectName("errorLabel")
        self.validation_label.setWordWrap(True)
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("primaryButton")
        self.start_button.setShortcut("Ctrl+Return")
        self.start_button.setToolTip("Queue one run per model and seed (Ctrl+Enter)")
        self.start_button.clicked.connect(self.start)

        choices = QFormLayout()
        choices.addRow("Dataset", self.dataset_combo)
        choices.addRow("Models", self.model_list)
        choices.addRow("Preset", self.preset_combo)
        choices.addRow("Seeds", self.seeds_edit)
        choices.addRow("Device", self.device_combo)
        neural_box = QGroupBox("Neural models (RNN, RNN Concat, HRNN)")
        neural_layout = QVBoxLayout(neural_box)
        neural_layout.addWidget(self.form_caption)
        neural_layout.addWidget(self.neural_form)
        baseline_box = QGroupBox("Baselines")
        QVBoxLayout(baseline_box).addWidget(self.baseline_form)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addLayout(choices)
        left_layout.addWidget(neural_box)
        left_layout.addWidget(baseline_box)
        left_layout.addWidget(self.validation_label)
        left_layout.addWidget(self.start_button)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(left.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4)

        self.progress_label = QLabel("No run in progress.")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setFormat("%p%")
        self.cancel_button = QPushButton("Cancel run")
        self.cancel_button.setToolTip("Cancel the running run; queued runs go on")
        self.cancel_button.clicked.connect(self.queue.cancel_current)
        self.cancel_all_button = QPushButton("Cancel all")
        self.cancel_all_button.setToolTip("Cancel the running run and every queued one")
        self.cancel_all_button.clicked.connect(self.queue.cancel_all)
        self.queue_label = QLabel("")
        self.queue_label.setObjectName("mutedLabel")
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.cancel_button)
        progress_row.addWidget(self.cancel_all_button)
        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setAcceptDrops(False)
        self.loss_plot.setBackground("w")
        self.loss_plot.setMenuEnabled(False)
        self.loss_plot.setLabel("bottom", "Epoch")
        self.loss_plot.setLabel("left", "Training loss")
        self.loss_plot.showGrid(x=True, y=True, alpha=0.2)
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#1d4ed8", width=2), symbol="o", symbolSize=6,
                                              symbolBrush="#1d4ed8")
        self.plot_hint = pg.TextItem("No run selected", color="#9ca3af", anchor=(0.5, 0.5))
        self.plot_hint.setPos(0.5, 0.5)
        self.loss_plot.addItem(self.plot_hint)
        self.plot_title = QLabel("Loss curve: select a run, or start one.")
        self.runs_table = QTableWidget(0, 5)
        self.runs_table.setHorizontalHeaderLabels(["Run", "Status", "Device", "Started", "Error"])
        self.runs_table.verticalHeader().setVisible(False)
        self.runs_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.runs_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.runs_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.runs_table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.runs_table.itemSelectionChanged.connect(self._on_run_row_selected)
        self.run_error = QLabel("")
        self.run_error.setObjectName("errorLabel")
        self.run_error.setWordWrap(True)
        self.run_error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.progress_label)
        right_layout.addLayout(progress_row)
        right_layout.addWidget(self.queue_label)
        right_layout.addWidget(self.plot_title)
        right_layout.addWidget(self.loss_plot, 3)
        right_layout.addWidget(QLabel("Runs of this dataset"))
        right_layout.addWidget(self.runs_table, 2)
        right_layout.addWidget(self.run_error)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self._set_running(False)

    # ----- choices -----
    def set_workspace(self, workspace: Workspace) -> None:
        self._workspace = workspace
        self._live.clear()
        self.show_run(None)

    def set_datasets(self, datasets: list[DatasetSummary]) -> None:
        current = self.dataset_id()
        self.dataset_combo.blockSignals(True)
        self.dataset_combo.clear()
        for dataset in datasets:
            self.dataset_combo.addItem(f"{dataset.name} ({dataset.statistics.get('events', 0):,} events)", dataset.id)
        self.dataset_combo.blockSignals(False)
        self.select_dataset(current if current is not None else (datasets[0].id if datasets else None))

    def select_dataset(self, dataset_id: int | None) -> None:
        index = self.dataset_combo.findData(dataset_id) if dataset_id is not None else -1
        if index >= 0:
            self.dataset_combo.setCurrentIndex(index)
        self._on_dataset_changed()

    def dataset_id(self) -> int | None:
        data = self.dataset_combo.currentData()
        return int(data) if data is not None else None

    def checked_models(self) -> list[str]:
        items = (self.model_list.item(i) for i in range(self.model_list.count()))
        return [item.data(Qt.ItemDataRole.UserRole) for item in items if item.checkState() == Qt.CheckState.Checked]

    def set_checked_models(self, models: list[str]) -> None:
        for i in range(self.model_list.count()):
            item = self.model_list.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in models
                               else Qt.CheckState.Unchecked)

    def preset(self) -> str:
        return self.preset_combo.currentData()

    def set_preset(self, preset: str) -> None:
        self.preset_combo.setCurrentIndex(max(self.preset_combo.findData(preset), 0))

    def _form_model(self) -> str:
        neural = [m for m in self.checked_models() if model_entry(m).neural]
        return neural[0] if neural else "hrnn-init"

    @Slot()
    def _on_models_changed(self) -> None:
        if self.preset() != "custom":
            self._show_preset_values()
        self._validate()

    @Slot()
    def _on_preset_changed(self) -> None:
        custom = self.preset() == "custom"
        self.neural_form.set_read_only(not custom)
        if not custom:
            self._show_preset_values()
        self._validate()

    def _show_preset_values(self) -> None:
        model = self._form_model()
        config = model_entry(model).presets[self.preset()]
        self.neural_form.set_values(dataclasses.asdict(config))
        self.form_caption.setText(f"Showing the paper's {self.preset()} preset of {model_entry(model).label}; each "
                                  "chosen model uses its own. Choose Custom to edit.")

    def _neural_overrides(self) -> dict[str, Any]:
        return self.neural_form.values() if self.preset() == "custom" else {}

    @Slot()
    def _validate(self) -> None:
        problem = self.validation_problem()
        self.validation_label.setText(problem or "")
        self.validation_label.setVisible(bool(problem))
        self.start_button.setEnabled(problem is None and bool(self.checked_models()) and self.dataset_id() is not None)
        if self.preset() == "custom":
            self.form_caption.setText("Custom: these settings apply to every chosen neural model.")

    def validation_problem(self) -> str | None:
        """The first reason the current choices cannot be started (the engine's message), or None."""
        try:
            parse_seeds(self.seeds_edit.text())
            if self.preset() == "custom":
                for model in [m for m in self.checked_models() if model_entry(m).neural] or ["hrnn-init"]:
                    entry = model_entry(model)
                    entry.config_type(**{**self.neural_form.values(), "model": model}).validate()
            model_entry("item-knn").config_type(**self.baseline_form.values()).validate()
        except WorkbenchError as exc:
            return str(exc)
        return None

    # ----- starting -----
    @Slot()
    def start(self) -> list[int]:
        """Plan one run per chosen model and seed and queue them; returns the new run ids."""
        if self.validation_problem() is not None or self.dataset_id() is None or not self.checked_models():
            return []
        seeds = parse_seeds(self.seeds_edit.text())
        device = self.device_combo.currentData()
        run_ids: list[int] = []
        try:
            for model in self.checked_models():
                if not model_entry(model).neural:
                    overrides = self.baseline_form.values() if model == "item-knn" else {}
                    run_ids += plan_runs(self._workspace, self.dataset_id(), model, seeds, None, overrides, device)
                else:
                    preset = "small" if self.preset() == "custom" else self.preset()
                    run_ids += plan_runs(self._workspace, self.dataset_id(), model, seeds, preset,
                                         self._neural_overrides(), device)
        except WorkbenchError as exc:
            self.validation_label.setText(str(exc))
            self.validation_label.show()
            return run_ids
        log.info("queued runs %s", ", ".join(f"#{r}" for r in run_ids))
        self.queue.enqueue(run_ids)
        self.refresh_runs()
        self.runs_changed.emit()
        return run_ids

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
        self.show_run(run_id)
        self.refresh_runs()
        self.runs_changed.emit()

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
        if self._shown_run == run_id:
            self._plot_losses(epochs, losses)

    @Slot(int, str, str)
    def _on_run_finished(self, run_id: int, status: str, error: str) -> None:
        self._flush_progress()
        if status == "finished":
            self.progress_bar.setValue(1000)
        self.progress_label.setText(f"Run #{run_id} {status}." + (f" {error}" if error else ""))
        if status == "failed":
            log.warning("run %d failed: %s", run_id, error)
        self.refresh_runs()
        self.runs_changed.emit()

    @Slot()
    def _on_queue_changed(self) -> None:
        pending = self.queue.pending_runs
        self.queue_label.setText("Queued: " + ", ".join(f"#{r}" for r in pending) if pending else "")
        self._set_running(self.queue.busy())

    # ----- runs of the dataset -----
    @Slot()
    def _on_dataset_changed(self) -> None:
        self.refresh_runs()
        self._validate()

    def refresh_runs(self) -> None:
        dataset_id = self.dataset_id()
        runs = list_runs(self._workspace, dataset_id) if dataset_id is not None else []
        selected = self._shown_run
        self.runs_table.blockSignals(True)
        self.runs_table.setRowCount(len(runs))
        for row, run in enumerate(reversed(runs)):
            started = run.started_at.strftime("%d %b %H:%M") if run.started_at else ""
            cells = [run_label(run), run.status, run.device or "", started, run.error or ""]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, run.id)
                if column == 4 and text:
                    item.setToolTip(text)
                self.runs_table.setItem(row, column, item)
            self.runs_table.item(row, 1).setForeground(QBrush(QColor(STATUS_COLOURS.get(run.status, "#000000"))))
            if run.id == selected:
                self.runs_table.selectRow(row)
        for column in range(4):
            self.runs_table.resizeColumnToContents(column)
        self.runs_table.blockSignals(False)
        self._runs = {run.id: run for run in runs}
        if selected is not None and selected in self._runs:
            self._show_error(self._runs[selected])
        elif runs:  # nothing chosen yet: show the newest loss curve rather than an empty plot
            self.show_run(next((r.id for r in reversed(runs) if model_entry(r.model).neural), runs[-1].id))

    @Slot()
    def _on_run_row_selected(self) -> None:
        items = self.runs_table.selectedItems()
        if items:
            self.show_run(int(items[0].data(Qt.ItemDataRole.UserRole)))

    def show_run(self, run_id: int | None) -> None:
        """Show the loss curve (live or stored) and the error of run ``run_id``."""
        self._shown_run = run_id
        if run_id is None:
            self._plot_losses([], [])
            self.plot_title.setText("Loss curve: select a run, or start one.")
            self.run_error.setText("")
            return
        if run_id in self._live and self._live[run_id][0]:
            epochs, losses = self._live[run_id]
        else:
            curves = run_curves(self._workspace, run_id)
            epochs, losses = curves.epochs.tolist(), curves.losses.tolist()
        self._plot_losses(epochs, losses)
        run = self._runs.get(run_id)
        self.plot_title.setText(f"Loss curve of {run_label(run)}" if run else f"Loss curve of run #{run_id}")
        if run is not None:
            self._show_error(run)

    def _plot_losses(self, epochs: list[int], losses: list[float]) -> None:
        self.loss_curve.setData(epochs, losses)
        axis = self.loss_plot.getAxis("bottom")
        if epochs and max(epochs) <= MAX_LABELLED_EPOCHS:
            axis.setTickSpacing(1, 1)
        else:
            axis.setTickSpacing()
        self.plot_hint.setVisible(not epochs)
        if not epochs:
            self.plot_hint.setText("No epochs yet" if self._shown_run is not None else "No run selected")

    def _show_error(self, run: RunSummary) -> None:
        self.run_error.setText(f"Run #{run.id} failed: {run.error}" if run.status == "failed" and run.error else "")

    def curve_points(self) -> tuple[list[float], list[float]]:
        x, y = self.loss_curve.getData()
        return ([] if x is None else list(x)), ([] if y is None else list(y))

    # ----- remembered choices -----
    def save_state(self, settings: AppSettings) -> None:
        settings.set_value("training/models", self.checked_models())
        settings.set_value("training/preset", self.preset())
        settings.set_value("training/seeds", self.seeds_edit.text())
        settings.set_value("training/device", self.device_combo.currentData())
        settings.set_value("training/custom", json.dumps(self.neural_form.values()))

    def restore_state(self, settings: AppSettings) -> None:
        try:
            custom = json.loads(settings.value("training/custom", "{}", str))
        except json.JSONDecodeError:
            custom = {}
        if isinstance(custom, dict):
            self.neural_form.set_values(custom)
        self.set_preset(settings.value("training/preset", "small", str))
        self.set_checked_models(settings.value("training/models", [], list))
        self.seeds_edit.setText(settings.value("training/seeds", "0", str))
        device_index = self.device_combo.findData(settings.value("training/device", "", str))
        if device_index >= 0:
            self.device_combo.setCurrentIndex(device_index)
        self._on_preset_changed()
