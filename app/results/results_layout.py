"""The Results panel's widgets and their layout, without behaviour (:class:`ResultsPanel` wires them):
the title and the status, the controls (K, reference, level, ranking), the notice of runs to
evaluate, and two pages: the comparison table with its footnote above the breakdown plots, and the
verdict as a picture (the forest plot). At 1280 x 720 with the log open, the table shows 8 rows and
the plots keep at least 180 px (tests/test_app_layout.py)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabBar,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.elided_label import ElidedLabel
from app.jobs import JobManager
from app.results.breakdown_plot import BreakdownPlot
from app.results.comparison_model import ComparisonModel
from app.results.evaluation_notice import EvaluationNotice
from app.results.ranking_control import RankingControl
from app.results.selection_details import SelectionDetails
from app.results.titles import LEVEL_TITLES
from app.results.verdict_page import VerdictPage
from engine.workbench.metrics import METRICS
from engine.workbench.results import BREAKDOWNS, DEFAULT_CUTOFFS

LEVEL_TOOLTIP = ("What the Wilcoxon signed-rank test against the reference model pairs: the metric values of "
                 "the two models per test event (events), per test session (sessions: a session's value is "
                 "the mean over its events) or per user (users: the mean over the user's test events), each "
                 "averaged over seeds.\nSessions and users give fewer pairs than events, but pairs that "
                 "depend less on one another.")
TABLE_PAGE, VERDICT_PAGE = "Table and breakdowns", "Verdict (forest plot)"


class ResultsLayout(QWidget):
    """Builds the panel's widgets (as attributes) and lays them out."""

    def _build(self, jobs: JobManager) -> None:
        self.views = QStackedWidget()  # its pages are chosen in the heading's tab bar: the plots need the height
        self.views.addWidget(self._build_table_page())
        self.verdict = VerdictPage(jobs)
        self.views.addWidget(self.verdict)
        self.notice = EvaluationNotice()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 0)
        layout.setSpacing(3)
        layout.addLayout(self._build_heading())
        layout.addLayout(self._build_controls())
        layout.addWidget(self.notice)
        layout.addWidget(self.views, 1)

    def _build_heading(self) -> QHBoxLayout:
        self.title = QLabel("Results")
        self.title.setObjectName("panelTitle")
        self.view_bar = QTabBar()
        self.view_bar.setDrawBase(False)
        self.view_bar.addTab(TABLE_PAGE)
        self.view_bar.addTab(VERDICT_PAGE)
        self.view_bar.setTabToolTip(1, "Each model's relative difference to the reference, with a 95% interval "
                                       "from a paired bootstrap over users")
        self.view_bar.currentChanged.connect(self.views.setCurrentIndex)
        self.views.currentChanged.connect(self.view_bar.setCurrentIndex)
        self.status = ElidedLabel()
        self.status.setObjectName("mutedLabel")
        self.export_table_button = QPushButton("Export table…")
        self.export_table_button.setToolTip("Save the comparison table at this K as CSV")
        heading = QHBoxLayout()
        heading.addWidget(self.title)
        heading.addSpacing(8)
        heading.addWidget(self.view_bar)
        heading.addSpacing(8)
        heading.addWidget(self.status, 1)
        heading.addWidget(self.export_table_button)
        return heading

    def _build_controls(self) -> QHBoxLayout:
        self.k_combo = QComboBox()
        for k in DEFAULT_CUTOFFS:
            self.k_combo.addItem(f"K = {k}", k)
        self.k_combo.setToolTip("Cut-off K of the metrics (Recall@K, MRR@K, …)")
        self.reference_combo = QComboBox()
        self.reference_combo.setMinimumContentsLength(14)
        self.reference_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.reference_combo.setToolTip("The model every other model is tested against (Wilcoxon signed-rank test) "
                                        "and compared with in the verdict; remembered for each dataset")
        self.level_combo = QComboBox()
        for level, title in LEVEL_TITLES.items():
            self.level_combo.addItem(title, level)
        self.level_combo.setToolTip(LEVEL_TOOLTIP)
        self.level_label = QLabel("Test on:")
        self.level_label.setToolTip(LEVEL_TOOLTIP)
        self.ranking = RankingControl()
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Cut-off:"))
        controls.addWidget(self.k_combo)
        controls.addSpacing(12)
        controls.addWidget(QLabel("Reference:"))
        controls.addWidget(self.reference_combo, 1)
        controls.addSpacing(12)
        controls.addWidget(self.level_label)
        controls.addWidget(self.level_combo)
        controls.addSpacing(12)
        controls.addWidget(self.ranking)
        controls.addStretch(1)
        return controls

    def _build_table(self) -> QTableView:
        self.table_model = ComparisonModel(self)
        table = QTableView()
        table.setModel(self.table_model)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setMinimumSectionSize(90)
        table.setAlternatingRowColors(True)
        table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the paper's order first
        table.setSortingEnabled(True)
        table.setToolTip("Click a column's header to sort by it; select a cell to see the runs behind it")
        self.table = table
        return table

    def _build_breakdowns(self) -> QTabWidget:
        self.metric_combo = QComboBox()
        for entry in METRICS:
            self.metric_combo.addItem(entry.label, entry.name)
        self.export_plot_button = QPushButton("Export plot…")
        self.export_plot_button.setToolTip("Save the plot shown as PNG or SVG")
        self.plots = {kind: BreakdownPlot() for kind in BREAKDOWNS.names()}
        self.plot_tabs = QTabWidget()
        self.plot_tabs.setDocumentMode(True)
        for kind, plot in self.plots.items():
            self.plot_tabs.addTab(plot, BREAKDOWNS[kind].title)
        metric_box = QWidget()  # "Breakdown of [Recall]" left of the tabs, "Export plot…" right of them
        metric_layout = QHBoxLayout(metric_box)
        metric_layout.setContentsMargins(0, 0, 12, 0)
        metric_layout.addWidget(QLabel("Breakdown of"))
        metric_layout.addWidget(self.metric_combo)
        self.plot_tabs.setCornerWidget(metric_box, Qt.Corner.TopLeftCorner)
        self.plot_tabs.setCornerWidget(self.export_plot_button, Qt.Corner.TopRightCorner)
        return self.plot_tabs

    def _build_table_page(self) -> QSplitter:
        self.footnote = QLabel()
        self.footnote.setWordWrap(True)
        self.footnote.setObjectName("mutedLabel")
        self.details = SelectionDetails()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(2)
        left_layout.addWidget(self._build_table())
        left_layout.addWidget(self.footnote)
        left_layout.addWidget(self._build_breakdowns(), 1)
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(left)
        body.addWidget(self.details)
        body.setStretchFactor(0, 1)
        body.setCollapsible(1, True)
        self.body = body
        return body
