"""The application's look: style sheet, icon and pyqtgraph defaults (from resources/)."""
from __future__ import annotations

import logging
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
STYLE_SHEET = RESOURCES / "style.qss"
ICON = RESOURCES / "icon.svg"

log = logging.getLogger(__name__)


def apply_appearance(app: QApplication) -> None:
    pg.setConfigOptions(antialias=True, background="w", foreground="#374151")
    if ICON.exists():
        app.setWindowIcon(QIcon(str(ICON)))
    try:
        app.setStyleSheet(STYLE_SHEET.read_text(encoding="utf-8"))
    except OSError as exc:
        log.warning("style sheet not loaded: %s", exc)
