"""Session threshold explorer: the histogram of users' inter-event gaps (log scale) with the
threshold as a draggable line, the filter settings, live figures of what the settings keep
(computed off the GUI thread, debounced, latest request only), and "Prepare" to store the result."""
from __future__ import annotations

import logging
import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.duration_axis import DurationAxis, format_duration
from app.jobs import Job, JobManager
from engine.errors import WorkbenchError
from engine.progress import CancelToken, ProgressCallback
from engine.workbench.exploration import LoadedLog, SessionFigures, load_log, prepare_log, session_figures
from engine.workbench.importing import ImportOutcome, PrepareSettings

log = logging.getLogger(__name__)

DEBOUNCE_MS = 150
FIGURES_PER_ROW = 3
SPIN_WIDTH = 110
EVENT_TYPES_PER_ROW = 3
UNITS_S = {"s": 1.0, "min": 60.0, "h": 3600.0}
FIGURE_LABELS = (("sessions_cut", "Sessions cut"), ("sessions", "Sessions kept"),
                 ("events_per_session", "Events per session"), ("users", "Users kept"),
                 ("items", "Items kept"), ("events", "Events kept"))


class ThresholdExplorer(QWidget):
    """Explore how the idle threshold and the filters cut one imported log into sessions."""

    dataset_prepared = Signal(int)  # id of the dataset stored by "Prepare"

    def __init__(self, jobs: JobManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._jobs = jobs
        self._workspace_url: str | None = None
        self._log_id: int | None = None
        self._log_name = ""
        self._loaded: LoadedLog | None = None
        self._load_job: Job | None = None
        self._figures_job: Job | None = None
        self._request = 0
        self._updating_threshold = False
        self._pending_drop: set[str] = set()
        self.last_figures: SessionFigures | None = None
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._request_figures)
        self._build()
        self._set_enabled(False)

    # ----- layout -----
    def _build(self) -> None:
        self._title = QLabel("Select a dataset in the workspace browser to explore how its log is cut into sessions.")
        self._title.setObjectName("panelTitle")
        self._title.setWordWrap(True)
        self.plot = pg.PlotWidget(axisItems={"bottom": DurationAxis(orientation="bottom")})
        self.plot.setAcceptDrops(False)
        self.plot.setBackground("w")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setLabel("bottom", "Idle gap between a user's consecutive events (log scale)")
        self.plot.setLabel("left", "Gaps")
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
        self._caption = QLabel("")
        self._caption.setObjectName("mutedLabel")

        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setDecimals(2)
        self.threshold_spin.setRange(0.01, 100_000.0)
        self.threshold_spin.setValue(30.0)
        self.threshold_spin.setMaximumWidth(SPIN_WIDTH)
        self.threshold_spin.setToolTip("A gap strictly greater than this starts a new session")
        self.threshold_spin.valueChanged.connect(self._on_spin_changed)
        self.unit_combo = QComboBox()
        self.unit_combo.addItems(list(UNITS_S))
        self.unit_combo.setCurrentText("min")
        self._unit = "min"
        self.unit_combo.currentTextChanged.connect(self._on_unit_changed)
        threshold_row = QHBoxLayout()
        threshold_row.addWidget(self.threshold_spin)
        threshold_row.addWidget(self.unit_combo)
        threshold_row.addStretch(1)

        self.use_given_sessions = QCheckBox("Use the log's session column")
        self.drop_repeats = QCheckBox("Drop repeats of (item, type) in a session")
        self.min_item_support = self._spin(1, 1_000_000, "Keep items with at least this many events")
        self.min_session_length = self._spin(2, 10_000, "Keep sessions with at least this many events")
        self.min_user_sessions = self._spin(2, 100_000, "Keep users with at least this many sessions")
        self.max_user_sessions = self._spin(0, 1_000_000, "Keep users with at most this many sessions (0: no limit)")
        self.max_user_sessions.setSpecialValueText("no limit")
        self.repeat_until_stable = QCheckBox("Repeat the filters until stable")
        self._event_types_box = QWidget()
        self._event_types_layout = QGridLayout(self._event_types_box)
        self._event_types_layout.setContentsMargins(0, 0, 0, 0)
        self._event_type_checks: list[QCheckBox] = []
        for check in (self.use_given_sessions, self.drop_repeats, self.repeat_until_stable):
            check.toggled.connect(self._schedule)

        threshold_box = QGroupBox("Sessions")
        threshold_form = QFormLayout(threshold_box)
        threshold_form.addRow("Idle threshold", threshold_row)
        threshold_form.addRow(self.use_given_sessions)
        threshold_form.addRow("Drop event types", self._event_types_box)
        threshold_form.addRow(self.drop_repeats)
        filter_box = QGroupBox("Filters (in the paper's order)")
        filter_form = QFormLayout(filter_box)
        filter_form.addRow("Min item support", self.min_item_support)
        filter_form.addRow("Min session length", self.min_session_length)
        filter_form.addRow("Min sessions per user", self.min_user_sessions)
        filter_form.addRow("Max sessions per user", self.max_user_sessions)
        filter_form.addRow(self.repeat_until_stable)

        figures_box = QGroupBox("Result of these settings")
        figures_grid = QGridLayout(figures_box)
        self.figure_values: dict[str, QLabel] = {}
        for index, (key, label) in enumerate(FIGURE_LABELS):
            value = QLabel("–")
            value.setObjectName("figureValue")
            caption = QLabel(label)
            caption.setObjectName("mutedLabel")
            row, column = divmod(index, FIGURES_PER_ROW)
            figures_grid.addWidget(value, 2 * row, column, Qt.AlignmentFlag.AlignHCenter)
            figures_grid.addWidget(caption, 2 * row + 1, column, Qt.AlignmentFlag.AlignHCenter)
            self.figure_values[key] = value
        self.message = QLabel("")
        self.message.setObjectName("errorLabel")
        self.message.setWordWrap(True)
        self.message.hide()
        figures_grid.addWidget(self.message, 4, 0, 1, FIGURES_PER_ROW)

        self.dataset_name = QLineEdit()
        self.dataset_name.setPlaceholderText("dataset name (default: the log's name)")
        self.prepare_button = QPushButton("Prepare dataset")
        self.prepare_button.setToolTip("Store the dataset prepared with these settings (Ctrl+P)")
        self.prepare_button.setShortcut("Ctrl+P")
        self.prepare_button.clicked.connect(self.prepare)
        self.prepare_status = QLabel("")
        self.prepare_status.setObjectName("mutedLabel")
        prepare_row = QHBoxLayout()
        prepare_row.addWidget(self.dataset_name, 1)
        prepare_row.addWidget(self.prepare_button)

        controls = QHBoxLayout()
        controls.addWidget(threshold_box, 1)
        controls.addWidget(filter_box, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self._title)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self._caption)
        layout.addWidget(figures_box)
        layout.addLayout(controls)
        layout.addLayout(prepare_row)
        layout.addWidget(self.prepare_status)

    def _spin(self, low: int, high: int, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setToolTip(tip)
        spin.setKeyboardTracking(False)
        spin.setMaximumWidth(SPIN_WIDTH)
        spin.valueChanged.connect(self._schedule)
        return spin

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.threshold_spin, self.unit_combo, self.min_item_support, self.min_session_length,
                       self.min_user_sessions, self.max_user_sessions, self.drop_repeats, self.repeat_until_stable,
                       self.prepare_button, self.dataset_name):
            widget.setEnabled(enabled)
        self.threshold_line.setMovable(enabled)
        self.use_given_sessions.setEnabled(enabled and self._loaded is not None
                                           and self._loaded.raw.session_key is not None)

    # ----- source log -----
    def set_workspace(self, url: str | None) -> None:
        self._workspace_url = url
        self._log_id = None
        self._loaded = None
        self._bars.setData([], [])
        self._set_enabled(False)

    def show_log(self, log_id: int, log_name: str, settings: PrepareSettings) -> None:
        """Load log ``log_id`` in the background and start from ``settings``."""
        self.apply_settings(settings)
        if log_id == self._log_id and self._loaded is not None:
            self._schedule()
            return
        self._log_id, self._log_name, self._loaded = log_id, log_name, None
        self._title.setText(f"Sessions of <b>{log_name}</b>: loading the log…")
        self._set_enabled(False)
        if self._load_job is not None:
            self._load_job.cancel()
        self._load_job = self._jobs.submit_in_process(f"Loading {log_name}", load_log, (self._workspace_url, log_id))
        self._load_job.succeeded.connect(self._on_loaded)
        self._load_job.failed.connect(self._on_load_failed)

    @Slot(object)
    def _on_loaded(self, loaded: LoadedLog) -> None:
        if self.sender() is not self._load_job:
            return
        self._loaded = loaded
        histogram = loaded.histogram
        raw = loaded.raw
        self._title.setText(f"Sessions of <b>{self._log_name}</b>: {raw.n_events:,} events of "
                            f"{len(raw.user_ids):,} users and {len(raw.item_ids):,} items")
        self._bars.setData(histogram.edges_log10, histogram.counts)
        top = float(histogram.edges_log10[-1])
        self.plot.setXRange(0.0, top, padding=0.02)
        self.threshold_line.setBounds((0.0, top))
        short = f"; {histogram.n_short:,} gaps under 1 s are counted in the first bar" if histogram.n_short else ""
        self._caption.setText(f"{histogram.n_gaps:,} gaps between consecutive events of the same user{short}. "
                              "Drag the line or type a threshold.")
        self._rebuild_event_types(raw.event_types)
        self._set_enabled(True)
        self._move_line_to(self.threshold_seconds())
        self._schedule()

    @Slot(object)
    def _on_load_failed(self, error: Exception) -> None:
        if self.sender() is self._load_job:
            self._title.setText(f"Cannot load the log: {error}")

    def _rebuild_event_types(self, names: list[str]) -> None:
        wanted = {check.text() for check in self._event_type_checks if check.isChecked()} | self._pending_drop
        for check in self._event_type_checks:
            check.deleteLater()
        self._event_type_checks = []
        for index, name in enumerate(names if len(names) > 1 else []):
            check = QCheckBox(name)
            check.setChecked(name in wanted)
            check.toggled.connect(self._schedule)
            self._event_types_layout.addWidget(check, *divmod(index, EVENT_TYPES_PER_ROW))
            self._event_type_checks.append(check)
        if len(names) <= 1:
            note = QCheckBox("(one event type)")
            note.setEnabled(False)
            self._event_types_layout.addWidget(note, 0, 0)
            self._event_type_checks.append(note)

    # ----- settings -----
    def apply_settings(self, settings: PrepareSettings) -> None:
        """Show ``settings`` in the controls (without recomputing)."""
        widgets = (self.threshold_spin, self.unit_combo, self.min_item_support, self.min_session_length,
                   self.min_user_sessions, self.max_user_sessions, self.drop_repeats, self.repeat_until_stable,
                   self.use_given_sessions)
        for widget in widgets:
            widget.blockSignals(True)
        unit = "h" if settings.session_threshold_s >= 3600 * 3 else "min" if settings.session_threshold_s >= 60 else "s"
        self.unit_combo.setCurrentText(unit)
        self._unit = unit
        self.threshold_spin.setValue(settings.session_threshold_s / UNITS_S[unit])
        self.min_item_support.setValue(settings.min_item_support)
        self.min_session_length.setValue(settings.min_session_length)
        self.min_user_sessions.setValue(settings.min_user_sessions)
        self.max_user_sessions.setValue(settings.max_user_sessions or 0)
        self.drop_repeats.setChecked(settings.drop_repeats)
        self.repeat_until_stable.setChecked(settings.repeat_until_stable)
        self.use_given_sessions.setChecked(settings.use_given_sessions)
        self._pending_drop = set(settings.drop_event_types)
        for check in self._event_type_checks:
            check.setChecked(check.text() in self._pending_drop)
        for widget in widgets:
            widget.blockSignals(False)
        self._move_line_to(settings.session_threshold_s)

    def threshold_seconds(self) -> float:
        return self.threshold_spin.value() * UNITS_S[self.unit_combo.currentText()]

    def current_settings(self) -> PrepareSettings:
        """The settings the controls show (InputError when they are inconsistent)."""
        return PrepareSettings(
            session_threshold_s=self.threshold_seconds(),
            use_given_sessions=self.use_given_sessions.isChecked(),
            drop_event_types=tuple(c.text() for c in self._event_type_checks if c.isChecked() and c.isEnabled()),
            drop_repeats=self.drop_repeats.isChecked(),
            min_item_support=self.min_item_support.value(),
            min_session_length=self.min_session_length.value(),
            min_user_sessions=self.min_user_sessions.value(),
            max_user_sessions=self.max_user_sessions.value() or None,
            repeat_until_stable=self.repeat_until_stable.isChecked(),
        )

    def _settings_or_message(self) -> PrepareSettings | None:
        """:meth:`current_settings`, or None after showing why they are inconsistent."""
        try:
            return self.current_settings()
        except WorkbenchError as exc:
            self._show_message(str(exc))
            return None

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
        self.threshold_spin.blockSignals(True)
        self.threshold_spin.setValue(seconds / UNITS_S[self.unit_combo.currentText()])
        self.threshold_spin.blockSignals(False)
        self._schedule()

    @Slot(float)
    def _on_spin_changed(self, _value: float) -> None:
        self._move_line_to(self.threshold_seconds())
        self._schedule()

    @Slot(str)
    def _on_unit_changed(self, unit: str) -> None:
        seconds = self.threshold_spin.value() * UNITS_S[self._unit]
        self._unit = unit
        self.threshold_spin.blockSignals(True)
        self.threshold_spin.setValue(seconds / UNITS_S[unit])
        self.threshold_spin.blockSignals(False)

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
            self._show_message(str(error))

    def _show_message(self, text: str) -> None:
        self.last_figures = None
        for label in self.figure_values.values():
            label.setText("–")
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
        arguments = (self._workspace_url, self._log_id, settings, self.dataset_name.text().strip() or None)
        self.prepare_button.setEnabled(False)
        self.prepare_status.setText("Preparing…")
        job = self._jobs.submit_in_process(f"Preparing {self._log_name}", prepare_log, arguments)
        job.succeeded.connect(self._on_prepared)
        job.failed.connect(self._on_prepare_failed)
        job.cancelled.connect(self._on_prepare_cancelled)

    @Slot(object)
    def _on_prepared(self, outcome: ImportOutcome) -> None:
        self.prepare_button.setEnabled(True)
        if outcome.reused_dataset:
            self.prepare_status.setText(f"These settings are already stored as dataset '{outcome.dataset_name}'.")
        else:
            self.prepare_status.setText(f"Stored as dataset '{outcome.dataset_name}'.")
            log.info("prepared dataset %s '%s'", outcome.dataset_id, outcome.dataset_name)
        self.dataset_prepared.emit(outcome.dataset_id)

    @Slot(object)
    def _on_prepare_failed(self, error: Exception) -> None:
        self.prepare_button.setEnabled(True)
        self.prepare_status.setText(f"Not prepared: {error}")

    @Slot()
    def _on_prepare_cancelled(self) -> None:
        self.prepare_button.setEnabled(True)
        self.prepare_status.setText("Preparation cancelled.")
