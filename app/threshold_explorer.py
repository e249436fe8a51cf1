"""Session threshold explorer: the histogram of users' inter-event gaps (log scale) with the
threshold as a draggable line, the session and filter settings, live figures of what the settings
keep (computed off the GUI thread, debounced, latest request only), and "Prepare" to store the
result. What the user explores stays until another log is shown: refreshes of the workspace (runs
starting or finishing, imports) leave it alone; messages belong to the log they concern."""
from __future__ import annotations

import logging
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.duration_axis import DurationAxis, format_duration
from app.jobs import Job, JobManager
from app.plot_text import EmptyPlotText
from app.prepare_form import PrepareForm
from engine.errors import InputError
from engine.progress import CancelToken, ProgressCallback
from engine.workbench.exploration import LoadedLog, SessionFigures, load_log, prepare_log, session_figures
from engine.workbench.importing import ImportOutcome, PrepareSettings

log = logging.getLogger(__name__)

DEBOUNCE_MS = 150
MIN_PLOT_HEIGHT = 180  # at 1280 x 720 with the log open (tests/test_app_layout.py)
FIGURES_PER_ROW = 3
FIGURE_LABELS = (("sessions_cut", "Sessions cut"), ("sessions", "Sessions kept"),
                 ("events_per_session", "Events per session"), ("users", "Users kept"),
                 ("items", "Items kept"), ("events", "Events kept"))
NO_LOG = "Select a dataset in the workspace browser to explore how its log is cut into sessions."


class ThresholdExplorer(QWidget):
    """Explore how the idle threshold and the filters cut one imported log into sessions."""

    dataset_prepared = Signal(int)  # id of the dataset "Prepare" stored from the log shown
    dataset_stored = Signal(int)  # id of a dataset stored from a log shown before

    def __init__(self, jobs: JobManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._jobs = jobs
        self._workspace_url: str | None = None
        self._log_id: int | None = None
        self._log_name = ""
        self._shown_settings: PrepareSettings | None = None  # what the log was shown with (unmodified)
        self._loaded: LoadedLog | None = None
        self._load_job: Job | None = None
        self._figures_job: Job | None = None
        self._request = 0
        self._updating_threshold = False
        self.last_figures: SessionFigures | None = None
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._request_figures)
        self._build()
        self._set_enabled(False)

    # ----- layout -----
    def _build(self) -> None:
        self._title = QLabel(NO_LOG)
        self._title.setObjectName("panelTitle")
        self._title.setWordWrap(True)
        self.plot = pg.PlotWidget(axisItems={"bottom": DurationAxis(orientation="bottom")})
        self.plot.setAcceptDrops(False)
        self.plot.setBackground("w")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMinimumHeight(MIN_PLOT_HEIGHT)
        self.plot.setLabel("bottom", "Idle gap between a user's consecutive events (log scale)")
        self.plot.setLabel("left", "Gaps")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self._bars = pg.PlotDataItem(stepMode="center", fillLevel=0, brush=pg.mkBrush(70, 130, 180, 160),
                                     pen=pg.mkPen(40, 90, 140, width=1))
        self.plot.addItem(self._bars)
        self.threshold_line = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen("#c2410c", width=2),
                                              hoverPen=pg.mkPen("#ea580c", width=3), label="{value}",
                                              labelOpts={"position": 0.92, "color": "#c2410c",
                                                         "fill": pg.mkBrush(255, 255, 255, 200)})
        self.threshold_line.label.setFormat("")
        self.threshold_line.setToolTip("Drag to change the session threshold")
        self.threshold_line.sigPositionChanged.connect(self._on_line_moved)
        self.plot.addItem(self.threshold_line)
        self.empty_text = EmptyPlotText(self.plot, "No log loaded")
        self.log_counts = QCheckBox("Log scale counts")
        self.log_counts.setToolTip("Show the number of gaps on a logarithmic axis (rare long gaps become visible)")
        self.log_counts.toggled.connect(self._on_log_counts)
        self._caption = QLabel("")
        self._caption.setObjectName("mutedLabel")
        self._caption.setWordWrap(True)
        caption_row = QHBoxLayout()
        caption_row.addWidget(self._caption, 1)
        caption_row.addWidget(self.log_counts)

        self.form = PrepareForm()
        self.form.changed.connect(self._schedule)
        self.form.threshold_spin.valueChanged.connect(self._on_spin_changed)

        figures_box = QGroupBox("Result of these settings")
        figures_grid = QGridLayout(figures_box)  # each figure on one line with its caption: the histogram
        figures_grid.setVerticalSpacing(2)      # needs the height
        figures_grid.setContentsMargins(8, 4, 8, 4)
        self.figure_values: dict[str, QLabel] = {}
        for index, (key, label) in enumerate(FIGURE_LABELS):
            value = QLabel("–")
            value.setObjectName("figureValue")
            caption = QLabel(label)
            caption.setObjectName("mutedLabel")
            row, column = divmod(index, FIGURES_PER_ROW)
            figures_grid.addWidget(value, row, 2 * column, Qt.AlignmentFlag.AlignRight)
            figures_grid.addWidget(caption, row, 2 * column + 1, Qt.AlignmentFlag.AlignLeft)
            figures_grid.setColumnStretch(2 * column + 1, 1)
            self.figure_values[key] = value
        self.message = QLabel("")
        self.message.setObjectName("errorLabel")
        self.message.setWordWrap(True)
        self.message.hide()
        figures_grid.addWidget(self.message, 4, 0, 1, FIGURES_PER_ROW)

        self.dataset_name = QLineEdit()
        self.dataset_name.setPlaceholderText("dataset name (default: the log's name)")
        self.dataset_name.setToolTip("The name of the dataset Prepare stores")
        self.prepare_button = QPushButton("Prepare dataset")
        self.prepare_button.setToolTip("Store the dataset prepared with these settings (Ctrl+P)")
        self.prepare_button.setShortcut("Ctrl+P")
        self.prepare_button.clicked.connect(self.prepare)
        self.prepare_status = QLabel("")
        self.prepare_status.setObjectName("mutedLabel")
        self.prepare_status.setWordWrap(True)
        prepare_row = QHBoxLayout()
        prepare_row.addWidget(self.dataset_name, 1)
        prepare_row.addWidget(self.prepare_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self._title)
        layout.addWidget(self.plot, 1)
        layout.addLayout(caption_row)
        layout.addWidget(figures_box)
        layout.addWidget(self.form)
        layout.addLayout(prepare_row)
        layout.addWidget(self.prepare_status)

    def _set_enabled(self, enabled: bool) -> None:
        self.form.set_enabled(enabled)
        for widget in (self.prepare_button, self.dataset_name, self.log_counts):
            widget.setEnabled(enabled)
        self.threshold_line.setMovable(enabled)
        self.form.use_given_sessions.setEnabled(enabled and self._loaded is not None
                                                and self._loaded.raw.session_key is not None)

    # ----- source log -----
    def set_workspace(self, url: str | None) -> None:
        """Another workspace (None: none): forget the log, its figures and its messages."""
        for job in (self._load_job, self._figures_job):
            if job is not None:
                job.discard()
        self._load_job = self._figures_job = None
        self._debounce.stop()
        self._workspace_url = url
        self._log_id, self._log_name, self._loaded, self._shown_settings = None, "", None, None
        self.last_figures = None
        self._bars.setData([], [])
        self._title.setText(NO_LOG)
        self._caption.setText("")
        self.empty_text.show_text("No log loaded")
        self._clear_figures()
        self.message.hide()
        self.prepare_status.setText("")
        self.dataset_name.clear()
        self._set_enabled(False)

    def log_id(self) -> int | None:
        return self._log_id

    def show_log(self, log_id: int, log_name: str, settings: PrepareSettings) -> None:
        """Load log ``log_id`` in the background and start from ``settings`` (a new exploration:
        the previous log's figures and messages go)."""
        self.form.apply(settings)
        self._shown_settings = settings
        self._move_line_to(settings.session_threshold_s)
        self.message.hide()
        if log_id == self._log_id and self._loaded is not None:  # e.g. the dataset just prepared: its status stays
            self._schedule()
            return
        self.prepare_status.setText("")
        self._log_id, self._log_name, self._loaded = log_id, log_name, None
        self.last_figures = None
        self._clear_figures()
        self._bars.setData([], [])
        self.empty_text.show_text("Loading the log…")
        self._title.setText(f"Sessions of <b>{log_name}</b>: loading the log…")
        self._set_enabled(False)
        if self._load_job is not None:
            self._load_job.discard()
        self._load_job = self._jobs.submit_in_process(f"Loading {log_name}", load_log, (self._workspace_url, log_id))
        self._load_job.succeeded.connect(self._on_loaded)
        self._load_job.failed.connect(self._on_load_failed)

    def is_modified(self) -> bool:
        """Whether the user changed the settings from those the log was shown with (unsaved)."""
        if self._shown_settings is None or self._loaded is None:
            return False
        try:
            return self.form.settings() != self._shown_settings
        except InputError:
            return True

    @Slot(object)
    def _on_loaded(self, loaded: LoadedLog) -> None:
        if self.sender() is not self._load_job:
            return
        self._loaded = loaded
        histogram = loaded.histogram
        raw = loaded.raw
        self._title.setText(f"Sessions of <b>{self._log_name}</b>: {raw.n_events:,} events of "
                            f"{len(raw.user_ids):,} users and {len(raw.item_ids):,} items")
        self._show_histogram()
        top = float(histogram.edges_log10[-1])
        self.plot.setXRange(0.0, top, padding=0.02)
        self.threshold_line.setBounds((0.0, top))
        short = f"; {histogram.n_short:,} gaps under 1 s are counted in the first bar" if histogram.n_short else ""
        self._caption.setText(f"{histogram.n_gaps:,} gaps between a user's consecutive events{short}; drag the "
                              "line or type a threshold.")
        self.form.set_event_types(raw.event_types, raw.session_key is not None)
        self._set_enabled(True)
        self._move_line_to(self.form.threshold_seconds())
        self._schedule()

    def _show_histogram(self) -> None:
        if self._loaded is None:
            return
        histogram = self._loaded.histogram
        counts = np.asarray(histogram.counts, dtype=float)
        if self.log_counts.isChecked():
            counts = np.where(counts > 0, counts, np.nan)  # an empty bar has no height on a log axis
        self.plot.setLogMode(y=self.log_counts.isChecked())
        self._bars.setFillLevel(0 if not self.log_counts.isChecked() else None)
        self._bars.setData(histogram.edges_log10, counts)
        self.plot.setLabel("left", "Gaps (log scale)" if self.log_counts.isChecked() else "Gaps")
        self.empty_text.show_text(None if histogram.n_gaps else "No gaps: every user has one event")
        self.plot.enableAutoRange(axis="y")

    @Slot(bool)
    def _on_log_counts(self, _checked: bool) -> None:
        self._show_histogram()

    @Slot(object)
    def _on_load_failed(self, error: Exception) -> None:
        if self.sender() is self._load_job:
            self._title.setText(f"Cannot load the log: {error}")
            self.empty_text.show_text("The log could not be loaded")

    # ----- settings -----
    def current_settings(self) -> PrepareSettings:
        """The settings the controls show (InputError when they are inconsistent)."""
        return self.form.settings()

    def threshold_seconds(self) -> float:
        return self.form.threshold_seconds()

    def _settings_or_message(self) -> PrepareSettings | None:
        """:meth:`current_settings`, or None after showing why they cannot be used."""
        problem = self.form.problem()
        if problem is not None:
            self._show_message(str(problem))
            return None
        return self.form.settings()

    def _move_line_to(self, seconds: float) -> None:
        self._updating_threshold = True
        self.threshold_line.setValue(math.log10(max(seconds, 1e-3)))
        self.threshold_line.label.setFormat(format_duration(seconds))
        self._updating_threshold = False

    @Slot()
    def _on_line_moved(self) -> None:
        if self._updating_threshold:
            return
        seconds = 10 ** float(self.threshold_line.value())
        self.threshold_line.label.setFormat(format_duration(seconds))
        self.form.set_threshold_seconds(seconds, self.form.unit_combo.currentText())
        self._schedule()

    @Slot(float)
    def _on_spin_changed(self, _value: float) -> None:
        self._move_line_to(self.form.threshold_seconds())

    # ----- live figures -----
    @Slot()
    def _schedule(self) -> None:
        if self._loaded is not None:
            self._debounce.start()

    @Slot()
    def _request_figures(self) -> None:
        if self._loaded is None:
            return
        settings = self._settings_or_message()
        if settings is None:
            return
        if self._figures_job is not None:
            self._figures_job.cancel()
        self._request += 1
        request = self._request
        raw = self._loaded.raw

        def compute(progress: ProgressCallback, cancel: CancelToken) -> tuple[int, SessionFigures]:
            cancel.raise_if_cancelled()
            return request, session_figures(raw, settings)

        self._figures_job = self._jobs.submit("Session figures", compute, visible=False)
        self._figures_job.succeeded.connect(self._on_figures)
        self._figures_job.failed.connect(self._on_figures_failed)

    @Slot(object)
    def _on_figures(self, result: tuple[int, SessionFigures]) -> None:
        request, figures = result
        if request != self._request:
            return
        self.last_figures = figures
        self.message.hide()
        self.form.mark_invalid(None)
        values = {
            "sessions_cut": f"{figures.sessions_cut:,}", "sessions": f"{figures.sessions:,}",
            "events_per_session": f"{figures.events_per_session:.2f}",
            "users": f"{figures.users:,} / {figures.total_users:,}",
            "items": f"{figures.items:,} / {figures.total_items:,}",
            "events": f"{figures.events:,} / {figures.total_events:,}",
        }
        for key, text in values.items():
            self.figure_values[key].setText(text)

    @Slot(object)
    def _on_figures_failed(self, error: Exception) -> None:
        if self.sender() is self._figures_job:
            if isinstance(error, InputError):
                self.form.mark_invalid(error.setting)
            self._show_message(str(error))

    def _clear_figures(self) -> None:
        for label in self.figure_values.values():
            label.setText("–")

    def _show_message(self, text: str) -> None:
        self.last_figures = None
        self._clear_figures()
        self.message.setText(text)
        self.message.show()

    def figures_pending(self) -> bool:
        return self._debounce.isActive() or (self._figures_job is not None and self._figures_job.running)

    # ----- prepare -----
    @Slot()
    def prepare(self) -> None:
        if self._log_id is None or self._loaded is None:
            return
        settings = self._settings_or_message()
        if settings is None:
            return
        log_id = self._log_id
        arguments = (self._workspace_url, log_id, settings, self.dataset_name.text().strip() or None)
        self.prepare_button.setEnabled(False)
        self.prepare_status.setText("Preparing…")
        job = self._jobs.submit_in_process(f"Preparing {self._log_name}", prepare_log, arguments)
        job.setProperty("log_id", log_id)
        job.succeeded.connect(self._on_prepared)
        job.failed.connect(self._on_prepare_failed)
        job.cancelled.connect(self._on_prepare_cancelled)

    def _about_this_log(self) -> bool:
        """Whether the finished job that sent the signal concerns the log shown (else its message
        would land on another log's panel: it goes to the log panel only)."""
        job = self.sender()
        return job is not None and job.property("log_id") == self._log_id

    @Slot(object)
    def _on_prepared(self, outcome: ImportOutcome) -> None:
        log.info("prepared dataset %s '%s'", outcome.dataset_id, outcome.dataset_name)
        if not self._about_this_log():
            self.dataset_stored.emit(outcome.dataset_id)
            return
        self.prepare_button.setEnabled(True)
        if outcome.reused_dataset:
            self.prepare_status.setText(f"These settings are already stored as dataset '{outcome.dataset_name}'.")
        else:
            self.prepare_status.setText(f"Stored as dataset '{outcome.dataset_name}'.")
        self._shown_settings = self.form.settings()
        self.dataset_prepared.emit(outcome.dataset_id)

    @Slot(object)
    def _on_prepare_failed(self, error: Exception) -> None:
        log.warning("not prepared: %s", error)
        if not self._about_this_log():
            return
        self.prepare_button.setEnabled(True)
        if isinstance(error, InputError):
            self.form.mark_invalid(error.setting)
        self.prepare_status.setText(f"Not prepared: {error}")

    @Slot()
    def _on_prepare_cancelled(self) -> None:
        if self._about_this_log():
            self.prepare_button.setEnabled(True)
            self.prepare_status.setText("Preparation cancelled.")
