"""Helpers of the desktop tests: opening a window on a workspace, waiting for background work,
saving screenshots (their fixtures are in conftest.py)."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QWidget

from app.main_window import MainWindow
from app.settings import AppSettings
from tests.conftest import PROJECT_ROOT

FAKE_EXECUTE = [sys.executable, str(PROJECT_ROOT / "tests" / "fake_execute_cli.py"), "execute"]
#: Where the tests save their screenshots: a temporary folder, or the folder HRNN_SCREENSHOTS names
#: (``HRNN_SCREENSHOTS=docs/screenshots python -m pytest tests/test_app_*`` refreshes the README's).
SCREENSHOTS = Path(os.environ.get("HRNN_SCREENSHOTS") or Path(tempfile.gettempdir()) / "hrnn-screenshots")


def open_window(qtbot, settings: AppSettings, workspace: Path, create_demo: bool = True,
                command: list[str] | None = None) -> MainWindow:
    window = MainWindow(settings, workspace, create_demo=create_demo, run_command=command or FAKE_EXECUTE)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    return window


def wait_idle(qtbot, window: MainWindow, timeout: int = 20_000) -> None:
    qtbot.waitUntil(lambda: not window.jobs.running_jobs(), timeout=timeout)


def save_screenshot(widget: QWidget, name: str, max_bytes: int = 300_000) -> Path:
    """Save ``widget`` as NAME.png in SCREENSHOTS (checks it is a real, reasonably small picture)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert widget.grab().save(str(path), "PNG", 0)
    assert 0 < path.stat().st_size < max_bytes
    return path
