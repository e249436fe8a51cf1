"""Starting the desktop app (``python main.py`` without arguments, where there is a display)."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

#: Qt platforms that draw nowhere a person could see: with one of them, the window would open
#: invisibly and never return, so ``python main.py`` runs the headless demo instead.
INVISIBLE_PLATFORMS = ("offscreen", "minimal", "vnc")


def has_display() -> bool:
    """Whether Qt can open windows a person sees: a display server (or Windows/macOS), and no Qt
    platform that draws nowhere (``QT_QPA_PLATFORM=offscreen``)."""
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if platform in INVISIBLE_PLATFORMS:
        return False
    if sys.platform in ("win32", "darwin"):
        return True
    return any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY")) or bool(platform)


def first_workspace(last: Path | None, default: Path, demo: Path) -> tuple[Path, bool]:
    """The workspace a launch opens, and whether to create the demo dataset in it: the last one
    opened; else the per-user default; at a first launch after the headless demo, the demo's
    workspace (its runs are there); else a new default workspace with the demo dataset."""
    if last is not None and last.exists():
        return last, False
    if default.exists():
        return default, False
    if demo.exists():
        return demo, False
    return default, True


def launch() -> int:
    """Open the main window on the last (or the per-user default) workspace; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter; ours says what matters
    from PySide6.QtWidgets import QApplication

    from app.appearance import apply_appearance
    from app.main_window import MainWindow
    from app.settings import APPLICATION, ORGANIZATION, AppSettings
    from engine.errors import WorkbenchError
    from engine.workbench.demo import demo_workspace_path
    from engine.workbench.workspaces import default_workspace_path

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    apply_appearance(app)
    settings = AppSettings()
    location, create_demo = first_workspace(settings.last_workspace(), default_workspace_path(),
                                            demo_workspace_path())
    try:
        window = MainWindow(settings, location, create_demo=create_demo)
    except WorkbenchError as exc:
        log.error("cannot open the workspace: %s", exc)
        return 2
    window.show()
    return int(app.exec())
