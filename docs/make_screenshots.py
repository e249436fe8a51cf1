"""Screenshots of the main window's four panels on a workspace with trained runs, for the README,
at a laptop's 1280×720 (name panels after the workspace to take only those):

    python main.py demo --seeds 2 --epochs 4 --workspace /tmp/shots/ws.sqlite
    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py /tmp/shots/ws.sqlite [results inspection]
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.appearance import apply_appearance
from app.main_window import MainWindow
from app.settings import AppSettings

OUT = Path(__file__).resolve().parent / "screenshots"
PANELS = ("data", "training", "results", "inspection")


def settle(app: QApplication, window: MainWindow, seconds: float = 2.0) -> None:
    """Process events until the window's background jobs are done, then a little longer."""
    deadline = time.monotonic() + 60
    while window.jobs.running_jobs() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def main() -> None:
    workspace = Path(sys.argv[1])
    wanted = sys.argv[2:] or PANELS
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    app = QApplication.instance() or QApplication(sys.argv)
    apply_appearance(app)
    window = MainWindow(AppSettings(), workspace)
    window.resize(1280, 720)
    window.show()
    settle(app, window)
    OUT.mkdir(exist_ok=True)
    for index, name in enumerate(PANELS):
        if name not in wanted:
            continue
        window.tabs.setCurrentIndex(index)
        settle(app, window)
        window.grab().save(str(OUT / f"window_{name}.png"))
    window.close()


if __name__ == "__main__":
    main()
