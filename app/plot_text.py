"""The empty state of a plot: a centred sentence instead of an empty 0–1 frame."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel, QWidget


class EmptyPlotText(QLabel):
    """A sentence over ``plot`` (a pyqtgraph PlotWidget or any widget) while it has nothing to show;
    the plot's axes are hidden meanwhile."""

    def __init__(self, plot: QWidget, text: str | None = None) -> None:
        super().__init__(plot)
        self._plot = plot
        self.setObjectName("placeholderText")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setStyleSheet("background: white;")
        plot.installEventFilter(self)
        self.show_text(text)

    def show_text(self, text: str | None) -> None:
        """Show ``text`` over the plot (None: show the plot)."""
        self.setText(text or "")
        self.setVisible(bool(text))
        self.setGeometry(self._plot.rect())
        self.raise_()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._plot and event.type() == QEvent.Type.Resize:
            self.setGeometry(self._plot.rect())
        return False
