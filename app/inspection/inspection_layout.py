"""The Inspection panel's widgets and their layout, without behaviour (:class:`InspectionPanel` wires
them): the title with the status and K, the runs side by side, the users at the left, and at the
right the user's timeline with the steps of the test session above the runs' recommendations (and
SASRec's attention when a SASRec run is shown). At 1280 x 720 with the log open the timeline keeps
180 px and each run's recommendations show 8 rows (tests/test_app_layout.py)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.elided_label import ElidedLabel
from app.inspection.attention_view import AttentionView
from app.inspection.recommendation_column import RecommendationColumn
from app.inspection.session_timeline import SessionTimeline
from app.inspection.user_table import UserFilterProxy, UserTableModel
from app.jobs import JobManager
from engine.workbench.results import DEFAULT_CUTOFFS

N_COLUMNS = 3
USERS_WIDTH = 370  # room for the id, sessions, test length and three runs' hits
DEFAULT_K = 10
PAIR_TIP = "Put the session-only RNN beside HRNN: an HRNN run and an RNN run of the same seed"
TIMELINE_HEIGHT = 180


class InspectionLayout(QWidget):
    """Builds the panel's widgets (as attributes) and lays them out."""

    def _build(self, jobs: JobManager) -> None:
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(self._build_users())
        body.addWidget(self._build_user_view(jobs))
        body.setStretchFactor(1, 1)
        body.setSizes([USERS_WIDTH, 1200 - USERS_WIDTH])
        layout = QVBoxLayout(self)
        layout.setSpacing(4)
        layout.addLayout(self._build_top())
        layout.addLayout(self._build_runs())
        layout.addWidget(body, 1)

    def _build_top(self) -> QHBoxLayout:
        self.title = QLabel("Inspection")
        self.title.setObjectName("panelTitle")
        self.status = ElidedLabel()  # beside the title: the timeline and the recommendations need the height
        self.status.setObjectName("mutedLabel")
        self.k_combo = QComboBox()
        for k in DEFAULT_CUTOFFS:
            self.k_combo.addItem(f"top {k}", k)
        self.k_combo.setCurrentIndex(DEFAULT_CUTOFFS.index(DEFAULT_K))
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addSpacing(12)
        top.addWidget(self.status, 1)
        top.addWidget(QLabel("Recommendations:"))
        top.addWidget(self.k_combo)
        return top

    def _build_runs(self) -> QHBoxLayout:
        self.run_combos = [QComboBox() for _ in range(N_COLUMNS)]
        for combo in self.run_combos:
            combo.setMinimumContentsLength(16)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.pair_button = QPushButton("RNN beside HRNN")
        self.pair_button.setCheckable(True)
        self.pair_button.setToolTip(PAIR_TIP)
        runs = QHBoxLayout()
        runs.addWidget(QLabel("Runs side by side:"))
        for combo in self.run_combos:
            runs.addWidget(combo, 1)
        runs.addWidget(self.pair_button)
        return runs

    def _build_users(self) -> QWidget:
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Find a user by id…")
        self.filter_edit.setClearButtonEnabled(True)
        self.user_model = UserTableModel(self)
        self.user_proxy = UserFilterProxy(self)
        self.user_proxy.setSourceModel(self.user_model)
        table = QTableView()
        table.setModel(self.user_proxy)
        table.setSortingEnabled(True)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        table.setAlternatingRowColors(True)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)  # the panel fits them
        self.user_table = table
        users = QWidget()
        users.setMinimumWidth(USERS_WIDTH)
        users_layout = QVBoxLayout(users)
        users_layout.setContentsMargins(0, 0, 0, 0)
        users_layout.addWidget(self.filter_edit)
        users_layout.addWidget(table, 1)
        return users

    def _build_timeline(self) -> QWidget:
        self.timeline = SessionTimeline()
        self.timeline.plot_widget.setMinimumHeight(TIMELINE_HEIGHT)
        self.previous_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setPageStep(1)
        self.step_label = QLabel()
        self.step_label.setWordWrap(True)
        steps = QHBoxLayout()
        steps.addWidget(self.previous_button)
        steps.addWidget(self.slider, 1)
        steps.addWidget(self.next_button)
        timeline = QWidget()
        timeline_layout = QVBoxLayout(timeline)
        timeline_layout.setContentsMargins(0, 0, 0, 0)
        timeline_layout.setSpacing(2)
        timeline_layout.addWidget(self.timeline, 1)
        timeline_layout.addLayout(steps)
        timeline_layout.addWidget(self.step_label)
        return timeline

    def _build_user_view(self, jobs: JobManager) -> QSplitter:
        self.columns = [RecommendationColumn() for _ in range(N_COLUMNS)]
        self.attention = AttentionView(jobs)  # SASRec's attention, under the columns when one is shown
        columns = QHBoxLayout()
        for column in self.columns:
            columns.addWidget(column, 1)
        recommendations = QWidget()
        recommendations.setLayout(columns)
        columns.setContentsMargins(0, 0, 0, 0)
        right = QSplitter(Qt.Orientation.Vertical)  # the user shares the height between the two
        right.addWidget(self._build_timeline())
        right.addWidget(recommendations)
        right.addWidget(self.attention)
        right.setStretchFactor(0, 0)  # the timeline at its least height, the recommendations take the rest
        right.setStretchFactor(1, 1)
        right.setSizes([1, 1000, 1000])
        self.right_splitter = right
        return right
