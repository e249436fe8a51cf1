"""The dataset's evaluation setting in the Results panel: rank each target among all items or
among the N most popular, and a button that evaluates the runs that lack an evaluation under it."""
from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from engine.workbench.results import candidates_label

#: The choices offered (None: all items); a dataset's own value is added when it is another one.
CANDIDATE_CHOICES: tuple[int | None, ...] = (None, 1_000, 10_000, 50_000, 100_000)
TOOLTIP = ("Which items each target is ranked against: every training item, or the N most popular "
           "(and the target itself; the paper used 50,000 for its largest dataset). Catalogs of over "
           "200,000 items start at 50,000. Changing it keeps the evaluations already stored; runs without "
           "one under the new setting need evaluating.")


class RankingControl(QWidget):
    """``Rank among: [all items | top N]`` and ``Evaluate N runs``."""

    setting_chosen = Signal(object)  # int | None
    evaluate_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("Rank among:")
        self.label.setToolTip(TOOLTIP)
        self.combo = QComboBox()
        self.combo.setToolTip(TOOLTIP)
        self.evaluate_button = QPushButton()
        self.evaluate_button.setToolTip("Evaluate, in the background, the finished runs that have no evaluation "
                                        "under this setting")
        self.evaluate_button.hide()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.combo)
        layout.addWidget(self.evaluate_button)
        self._fill(None)
        self.combo.activated.connect(self._on_activated)
        self.evaluate_button.clicked.connect(self.evaluate_clicked)

    def _fill(self, current: int | None) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        choices = list(CANDIDATE_CHOICES)
        if current not in choices:
            choices = sorted([c for c in choices if c is not None] + [current])
            choices.insert(0, None)
        for value in choices:
            self.combo.addItem(candidates_label(value), value)
        self.combo.setCurrentIndex(choices.index(current))
        self.combo.blockSignals(False)

    def show_setting(self, n_candidates: int | None, unevaluated: int, evaluating: bool) -> None:
        """Show the dataset's setting and how many finished runs lack an evaluation under it."""
        self._fill(n_candidates)
        if evaluating:
            self.evaluate_button.setText("Evaluating…")
        else:
            self.evaluate_button.setText(f"Evaluate {unevaluated} run{'s' if unevaluated != 1 else ''}")
        self.evaluate_button.setEnabled(not evaluating)
        self.evaluate_button.setVisible(evaluating or unevaluated > 0)

    def setting(self) -> int | None:
        return self.combo.currentData()

    @Slot(int)
    def _on_activated(self, index: int) -> None:
        self.setting_chosen.emit(self.combo.itemData(index))
