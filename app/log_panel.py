"""The log panel: Python logging records from any thread, shown in the GUI thread."""
from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QColor, QTextCharFormat
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

MAX_LINES = 5000
LEVELS = {"Debug": logging.DEBUG, "Info": logging.INFO, "Warning": logging.WARNING, "Error": logging.ERROR}
LEVEL_COLOURS = {logging.WARNING: "#a15c00", logging.ERROR: "#b00020", logging.CRITICAL: "#b00020"}


class _RecordRelay(QObject):
    record = Signal(str, int)


class QtLogHandler(logging.Handler):
    """A logging handler that forwards formatted records as a Qt signal (queued to the GUI)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.relay = _RecordRelay()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.relay.record.emit(self.format(record), record.levelno)
        except RuntimeError:  # the relay was deleted while the application shuts down
            pass


class LogPanel(QWidget):
    """Read-only text of log records with a minimum-level filter; attach() routes the root logger here."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = QPlainTextEdit(self)
        self._text.setReadOnly(True)
        self._text.setMaximumBlockCount(MAX_LINES)
        self._text.setObjectName("logText")
        self._text.setMinimumHeight(36)  # two lines: the dock stays small on a laptop screen
        self._level = QComboBox(self)
        self._level.addItems(list(LEVELS))
        self._level.setCurrentText("Info")
        self._level.setToolTip("Minimum level of the messages shown")
        clear = QPushButton("Clear", self)
        clear.clicked.connect(self._text.clear)
        bar = QHBoxLayout()
        bar.addWidget(self._level)
        bar.addStretch(1)
        bar.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self._text)
        self._handler = QtLogHandler()
        self._handler.relay.record.connect(self.append_record, Qt.ConnectionType.QueuedConnection)

    def attach(self) -> None:
        logging.getLogger().addHandler(self._handler)

    def detach(self) -> None:
        logging.getLogger().removeHandler(self._handler)

    @property
    def minimum_level(self) -> int:
        return LEVELS[self._level.currentText()]

    def set_minimum_level(self, name: str) -> None:
        if name in LEVELS:
            self._level.setCurrentText(name)

    def level_name(self) -> str:
        return self._level.currentText()

    @Slot(str, int)
    def append_record(self, text: str, level: int) -> None:
        if level < self.minimum_level:
            return
        cursor = self._text.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        text_format = QTextCharFormat()
        if level in LEVEL_COLOURS:
            text_format.setForeground(QColor(LEVEL_COLOURS[level]))
        if not self._text.document().isEmpty():
            cursor.insertBlock()
        cursor.insertText(text, text_format)
        self._text.verticalScrollBar().setValue(self._text.verticalScrollBar().maximum())

    def text(self) -> str:
        return self._text.toPlainText()
