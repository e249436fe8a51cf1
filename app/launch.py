"""Starting the desktop app (``python main.py`` without arguments, where there is a display)."""
from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)


def has_display() -> bool:
    """Whether Qt can open windows: a display server, an explicit Qt platform, or Windows/macOS."""
    if sys.platform in ("win32", "darwin"):
        return True
    return any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def launch() -> int:
    """Open the main window on the last (or the per-user default) workspace; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter; ours says what matters
    from PySide6.QtWidgets import QApplication

    from app.appearance import apply_appearance
    from app.main_window import MainWindow
    from app.settings import APPLICATION, ORGANIZATION, AppSettings
    from engine.errors import WorkbenchError
    from engine.workbench.workspaces import default_workspace_path

    app = QApplication.instance() or QApplication(sys.argv)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    apply_appearance(app)
    settings = AppSettings()
    last = settings.last_workspace()
    location = last if last is not None and last.exists() else default_workspace_path()
    try:
        window = MainWindow(settings, location, create_demo=not location.exists())
    except WorkbenchError as exc:
        log.error("cannot open the workspace: %s", exc)
        return 2
    window.show()
    return int(app.exec())
