"""The Results panel's notice of finished runs missing from the table, with the one button that
evaluates them in the background: runs never evaluated under the dataset's candidates, and runs
that an earlier version evaluated with other tie handling only (before tie counts were stored),
which cannot serve the chosen tie mode since a table never mixes modes."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from app.results.ties import ties_words
from engine.workbench.results import TIE_MODE_NAMES, candidates_label


def runs_word(n: int) -> str:
    return f"{n:,} run{'s' if n != 1 else ''}"


def notice_text(never: int, other_modes: dict[int, list[str]], tie_mode: str, n_candidates: int | None) -> str:
    """Why ``never`` finished runs (no evaluation under the candidates) and the runs of
    ``other_modes`` (run id -> the tie modes of their old evaluations) are not in the table."""
    parts = []
    if never:
        were = "has" if never == 1 else "have"
        parts.append(f"{never:,} finished run{'s' if never != 1 else ''} {were} no evaluation among "
                     f"{candidates_label(n_candidates)} yet.")
    if other_modes:
        modes = sorted({TIE_MODE_NAMES[mode] for found in other_modes.values() for mode in found})
        one = len(other_modes) == 1
        was = "was" if one else "were"
        parts.append(f"{runs_word(len(other_modes))} {was} evaluated by an earlier version with "
                     f"{' and '.join(modes)} ties only, before tie counts were stored. A table never mixes tie "
                     f"modes, so {'it is' if one else 'they are'} left out of this table ({ties_words(tie_mode)}). "
                     f"Evaluating {'it' if one else 'them'} again stores {'its' if one else 'their'} tie counts, "
                     f"which serve every tie mode.")
    return " ".join(parts)


class EvaluationNotice(QWidget):
    """Hidden while every finished run is in the table; ``evaluate_clicked`` when the user asks
    for the missing evaluations."""

    evaluate_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLabel()
        self.text.setObjectName("warningLabel")
        self.text.setWordWrap(True)
        self.text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.button = QPushButton()
        self.button.setToolTip("Evaluate these runs in the background with the tie handling chosen, among the "
                               "items of the dataset's setting (“Rank among”); their ranks then serve every "
                               "tie mode")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignVCenter)
        self.button.clicked.connect(self.evaluate_clicked)
        self.hide()

    def show_runs(self, unevaluated: int, other_modes: dict[int, list[str]], tie_mode: str,
                  n_candidates: int | None, evaluating: bool) -> None:
        """``unevaluated``: every finished run missing from the table, those of ``other_modes`` included."""
        if not unevaluated and not evaluating:
            self.hide()
            return
        self.text.setText(notice_text(unevaluated - len(other_modes), other_modes, tie_mode, n_candidates)
                          or "Evaluating the runs…")
        self.button.setText("Evaluating…" if evaluating else f"Evaluate {runs_word(unevaluated)} with "
                                                              f"{ties_words(tie_mode)}")
        self.button.setEnabled(not evaluating)
        self.show()
