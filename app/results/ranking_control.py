"""How the Results panel ranks targets: among all items or among the N most popular (the
dataset's setting), and how ties count (conservative, median or optimistic; always conservative
at launch, the honest default)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from app.results.ties import MODE_ORDER, mode_title
from engine.workbench.results import DEFAULT_TIE_MODE, TIE_MODE_PHRASES, candidates_label

#: The choices offered (None: all items); a dataset's own value is added when it is another one.
CANDIDATE_CHOICES: tuple[int | None, ...] = (None, 1_000, 10_000, 50_000, 100_000)
TOOLTIP = ("Which items each target is ranked against: every training item, or the N most popular "
           "(and the target itself; the paper used 50,000 for its largest dataset). Catalogs of over "
           "200,000 items start at 50,000. Changing it keeps the evaluations already stored; runs without "
           "one under the new setting need evaluating.")
TIES_TOOLTIP = ("How items scored exactly like the target count in its rank. Conservative (the default, as in "
                "the official GRU4Rec evaluation): they all rank above it. Median: half of them do. Optimistic: "
                "none does, which rewards models that score few items (a target they never scored can land in "
                "the top K).\nEvery evaluation stores its ties, so switching needs no new evaluation.")


class RankingControl(QWidget):
    """``Rank among: [all items | top N]`` and ``Ties: [Conservative | Median | Optimistic]``."""

    setting_chosen = Signal(object)  # int | None
    tie_mode_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("Rank among:")
        self.label.setToolTip(TOOLTIP)
        self.combo = QComboBox()
        self.combo.setToolTip(TOOLTIP)
        self.ties_label = QLabel("Ties:")
        self.ties_label.setToolTip(TIES_TOOLTIP)
        self.ties_combo = QComboBox()
        self.ties_combo.setToolTip(TIES_TOOLTIP)
        for mode in MODE_ORDER:
            self.ties_combo.addItem(mode_title(mode), mode)
            self.ties_combo.setItemData(self.ties_combo.count() - 1, TIE_MODE_PHRASES[mode].capitalize(),
                                        Qt.ItemDataRole.ToolTipRole)
        self.ties_combo.setCurrentIndex(MODE_ORDER.index(DEFAULT_TIE_MODE))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.combo)
        layout.addSpacing(12)
        layout.addWidget(self.ties_label)
        layout.addWidget(self.ties_combo)
        self._fill(None)
        self.combo.activated.connect(self._on_activated)
        self.ties_combo.currentIndexChanged.connect(self._on_tie_mode_changed)

    def _fill(self, current: int | None) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        choices: list[int | None] = list(CANDIDATE_CHOICES)
        if current not in choices:
            numbers = sorted([c for c in choices if c is not None] + ([current] if current is not None else []))
            choices = [None, *numbers]
        for value in choices:
            self.combo.addItem(candidates_label(value), value)
        self.combo.setCurrentIndex(choices.index(current))
        self.combo.blockSignals(False)

    def show_setting(self, n_candidates: int | None) -> None:
        """Show the dataset's setting."""
        self._fill(n_candidates)

    def setting(self) -> int | None:
        return self.combo.currentData()

    def tie_mode(self) -> str:
        """The chosen tie mode, as the engine names it ("conservative", "median", "standard")."""
        return str(self.ties_combo.currentData())

    def set_tie_mode(self, tie_mode: str) -> None:
        """Choose a tie mode (``tie_mode_chosen`` follows when it is another one)."""
        index = self.ties_combo.findData(tie_mode)
        if index < 0:
            raise ValueError(f"unknown tie mode {tie_mode!r}; choose one of {', '.join(MODE_ORDER)}")
        self.ties_combo.setCurrentIndex(index)

    @Slot(int)
    def _on_activated(self, index: int) -> None:
        self.setting_chosen.emit(self.combo.itemData(index))

    @Slot(int)
    def _on_tie_mode_changed(self, index: int) -> None:
        self.tie_mode_chosen.emit(str(self.ties_combo.itemData(index)))
