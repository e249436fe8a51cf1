"""The Training panel's widgets and their layout, without behaviour (:class:`TrainingPanel` wires
them): at the left the dataset, the models with their settings (scrolling), the seeds, the device
and Start, always in view; at the right the progress of the running run, its curves, and the runs
table."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.curves_plot import CurvesPlot
from app.model_settings import ModelSettings
from app.runs_table import RunsView

LEFT_WIDTH = 360
MIN_CURVES_HEIGHT = 180  # at 1280 x 720 with the log open the runs table still shows 8 rows


class TrainingLayout(QWidget):
    """Builds the panel's widgets (as attributes) and lays them out."""

    def _build(self, cuda: bool) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._build_choices(cuda))
        splitter.addWidget(self._build_progress_and_runs())
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([LEFT_WIDTH, 700])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

    def _build_choices(self, cuda: bool) -> QWidget:
        self.dataset_combo = QComboBox()
        self.dataset_combo.setToolTip("The dataset the runs train on (and whose runs the table lists)")
        self.models = ModelSettings()
        self.seeds_edit = QLineEdit("0")
        self.seeds_edit.setToolTip("One run per model and seed: 0, 1, 2 or 0-9")
        self.device_combo = QComboBox()
        self.device_combo.setToolTip("Where the networks train (baselines always fit on the CPU)")
        self.device_combo.addItem("CPU", "cpu")
        if cuda:
            self.device_combo.addItem("GPU (CUDA)", "cuda")
            self.device_combo.setCurrentIndex(1)
        self.validation_label = QLabel("")
        self.validation_label.setObjectName("errorLabel")
        self.validation_label.setWordWrap(True)
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("primaryButton")
        self.start_button.setShortcut("Ctrl+Return")
        self.start_button.setToolTip("Queue one run per checked model and seed (Ctrl+Enter)")
        choices = QWidget()
        choices_layout = QVBoxLayout(choices)
        choices_layout.setContentsMargins(0, 0, 4, 0)
        choices_layout.addWidget(self.models)
        choices_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(choices)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)  # never clip a field
        self.settings_scroll = scroll
        top_form = QFormLayout()
        top_form.addRow("Dataset", self.dataset_combo)
        bottom_form = QFormLayout()
        bottom_form.addRow("Seeds", self.seeds_edit)
        bottom_form.addRow("Device", self.device_combo)
        left = QWidget()
        left.setMinimumWidth(300)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(top_form)
        left_layout.addWidget(scroll, 1)
        left_layout.addLayout(bottom_form)  # always in view, with Start
        left_layout.addWidget(self.validation_label)
        left_layout.addWidget(self.start_button)
        return left

    def _build_progress(self) -> QWidget:
        self.progress_label = QLabel("No run in progress.")
        self.progress_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setFormat("%p%")
        self.cancel_button = QPushButton("Cancel run")
        self.cancel_button.setToolTip("Cancel the running run; queued runs go on")
        self.cancel_all_button = QPushButton("Cancel all")
        self.cancel_all_button.setToolTip("Cancel the running run and every queued one")
        self.queue_label = QLabel("")
        self.queue_label.setObjectName("mutedLabel")
        self.curves = CurvesPlot()
        self.curves.plot.setMinimumHeight(MIN_CURVES_HEIGHT)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.cancel_button)
        progress_row.addWidget(self.cancel_all_button)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.progress_label)
        top_layout.addLayout(progress_row)
        top_layout.addWidget(self.queue_label)
        top_layout.addWidget(self.curves, 1)
        return top

    def _build_progress_and_runs(self) -> QSplitter:
        self.runs_view = RunsView()
        self.run_error = QLabel("")
        self.run_error.setObjectName("errorLabel")
        self.run_error.setWordWrap(True)
        self.run_error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.run_error.hide()
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.runs_view, 1)
        bottom_layout.addWidget(self.run_error)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self._build_progress())
        right.addWidget(bottom)
        right.setStretchFactor(0, 0)  # the curves keep their least height, the runs table takes the rest
        right.setStretchFactor(1, 1)
        right.setSizes([1, 1000])
        self.right_splitter = right
        return right
