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


def style_sheet() -> str:
    """The style sheet, its images (``@RESOURCES@/…``) found in resources/ wherever the program runs."""
    return STYLE_SHEET.read_text(encoding="utf-8").replace("@RESOURCES@", RESOURCES.as_posix())


def apply_appearance(app: QApplication) -> None:
    pg.setConfigOptions(antialias=True, background="w", foreground="#374151")
    if ICON.exists():
        app.setWindowIcon(QIcon(str(ICON)))
    try:
        app.setStyleSheet(style_sheet())
    except OSError as exc:
        log.warning("style sheet not loaded: %s", exc)
