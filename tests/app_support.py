"""Shared fixtures of the desktop tests: a temporary settings location, a window on a fresh
workspace (the demo dataset imported), helpers to wait and to save screenshots."""
from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QWidget

from app.appearance import apply_appearance
from app.main_window import MainWindow
from app.settings import AppSettings
from tests.conftest import PROJECT_ROOT

FAKE_EXECUTE = [sys.executable, str(PROJECT_ROOT / "tests" / "fake_execute_cli.py"), "execute"]
#: Where the tests save their screenshots: a temporary folder, or the folder HRNN_SCREENSHOTS names
#: (``HRNN_SCREENSHOTS=docs/screenshots python -m pytest tests/test_app_*`` refreshes the README's).
SCREENSHOTS = Path(os.environ.get("HRNN_SCREENSHOTS") or Path(tempfile.gettempdir()) / "hrnn-screenshots")


@pytest.fixture
def app_settings(tmp_path: Path, qapp: QApplication) -> AppSettings:
    """Settings in a temporary folder, never the real user's."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    apply_appearance(qapp)
    return AppSettings()


def open_window(qtbot, settings: AppSettings, workspace: Path, create_demo: bool = True,
                command: list[str] | None = None) -> MainWindow:
    window = MainWindow(settings, workspace, create_demo=create_demo, run_command=command or FAKE_EXECUTE)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    return window


@pytest.fixture
def window(qtbot, app_settings: AppSettings, workspace_path: Path) -> Iterator[MainWindow]:
    """The main window on a fresh workspace; waits until the demo dataset and its figures are shown."""
    main_window = open_window(qtbot, app_settings, workspace_path)
    qtbot.waitUntil(lambda: main_window.data_panel.explorer.last_figures is not None, timeout=20_000)
    yield main_window
    main_window.close()


def wait_idle(qtbot, window: MainWindow, timeout: int = 20_000) -> None:
    qtbot.waitUntil(lambda: not window.jobs.running_jobs(), timeout=timeout)


def save_screenshot(widget: QWidget, name: str, max_bytes: int = 300_000) -> Path:
    """Save ``widget`` as NAME.png in SCREENSHOTS (checks it is a real, reasonably small picture)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert widget.grab().save(str(path), "PNG", 0)
    assert 0 < path.stat().st_size < max_bytes
    return path
