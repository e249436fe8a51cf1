"""A panel not built yet: says what will appear there (no fake data)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

RESULTS_TEXT = (
    "<h3>Results</h3><p>Here will appear the comparison of finished runs, in the style of the paper's "
    "Table 3: Recall, MRR and Precision@K per model, mean over seeds, with marks for significant "
    "differences (Wilcoxon signed-rank test), a K selector, breakdowns by user history length and by "
    "position in the session, and CSV / PNG / SVG export.</p>"
    "<p>Train some runs in the Training panel; their evaluation will be shown here.</p>"
)
INSPECTION_TEXT = (
    "<h3>Inspection</h3><p>Here you will pick a user, see their past sessions on a timeline and their "
    "test session, and step through the test session to compare the top-K recommendations of chosen runs "
    "side by side, with the actual next item highlighted and its rank shown.</p>"
)


class PlaceholderPanel(QWidget):
    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setFixedWidth(640)
        self.label.setObjectName("placeholderText")
        self.label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.label)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)
