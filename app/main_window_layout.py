"""The main window's widgets and their layout, without behaviour (:class:`MainWindow` wires them):
the four panels as tabs, the workspace browser and the log as docks, the background jobs in the
status bar, and the menus (their actions call the slots the window hands over)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QTabWidget, QWidget

from app.data_panel import DataPanel
from app.inspection.inspection_panel import InspectionPanel
from app.jobs import JobManager, JobStatusWidget
from app.log_panel import LogPanel
from app.results.results_panel import ResultsPanel
from app.run_process import RunProcessQueue
from app.training_panel import TrainingPanel
from app.workspace_browser import WorkspaceBrowser

PANELS = ("Data", "Training", "Results", "Inspection")
#: The window's size at a first launch: a laptop's 1280 x 720, less where the screen is smaller.
DEFAULT_SIZE = (1280, 720)
MINIMUM_SIZE = (960, 600)  # set, so that what the panels hold never makes the window grow
TITLE_BAR_PX = 32  # room the window manager's title bar takes above the window
Slot_ = Callable[..., object]


@dataclass(frozen=True)
class MenuSlots:
    """What the menus' actions call."""

    new_workspace: Slot_
    open_workspace: Slot_
    fill_recent: Slot_
    import_logs: Slot_
    item_names: Slot_
    demo: Slot_
    compact: Slot_
    quit: Slot_
    show_panel: Callable[[int], object]
    refresh: Slot_
    tuning: Slot_
    cancel_run: Slot_
    cancel_all: Slot_
    user_guide: Slot_
    about: Slot_


def default_size() -> tuple[int, int]:
    """:data:`DEFAULT_SIZE`, within the primary screen's room (less its title bar)."""
    width, height = DEFAULT_SIZE
    screen = QGuiApplication.primaryScreen()
    if screen is not None:
        room = screen.availableGeometry()
        width, height = min(width, room.width()), min(height, room.height() - TITLE_BAR_PX)
    return max(width, MINIMUM_SIZE[0]), max(height, MINIMUM_SIZE[1])


class MainWindowLayout(QMainWindow):
    """Builds the window's widgets (as attributes) and lays them out."""

    def _build(self, jobs: JobManager, queue: RunProcessQueue, location: str | Path) -> None:
        self.setWindowTitle("HRNN Workbench")
        self.setMinimumSize(*MINIMUM_SIZE)
        self.browser = WorkspaceBrowser()
        self.browser.setMinimumWidth(160)
        self.data_panel = DataPanel(jobs)
        self.training_panel = TrainingPanel(jobs, queue)
        self.results_panel = ResultsPanel(str(location), jobs=jobs)
        self.inspection_panel = InspectionPanel(str(location), jobs=jobs)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for name, panel in zip(PANELS, (self.data_panel, self.training_panel, self.results_panel,
                                        self.inspection_panel), strict=True):
            self.tabs.addTab(panel, name)
        self.setCentralWidget(self.tabs)
        self.log_panel = LogPanel()
        self.browser_dock = self._dock("Workspace", "workspaceDock", self.browser,
                                       Qt.DockWidgetArea.LeftDockWidgetArea)
        self.log_dock = self._dock("Log", "logDock", self.log_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.job_status = JobStatusWidget(jobs)
        self.statusBar().addPermanentWidget(self.job_status)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, shortcut: QKeySequence | QKeySequence.StandardKey | str | None, slot: Slot_,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_menus(self, slots: MenuSlots) -> None:
        self._build_file_menu(slots)
        edit_menu = self.menuBar().addMenu("&Edit")
        for action in (self.browser.rename_action, self.browser.note_action, self.browser.retry_action,
                       self.browser.delete_action):
            edit_menu.addAction(action)
        view_menu = self.menuBar().addMenu("&View")
        for index, name in enumerate(PANELS):
            view_menu.addAction(self._action(f"{name} panel", f"Ctrl+{index + 1}",
                                             lambda _=False, i=index: slots.show_panel(i)))
        view_menu.addSeparator()
        view_menu.addAction(self._action("&Refresh", QKeySequence.StandardKey.Refresh, slots.refresh))
        browser_toggle = self.browser_dock.toggleViewAction()
        browser_toggle.setShortcut(QKeySequence("Ctrl+B"))
        log_toggle = self.log_dock.toggleViewAction()
        log_toggle.setShortcut(QKeySequence("Ctrl+L"))
        view_menu.addAction(browser_toggle)
        view_menu.addAction(log_toggle)
        training_menu = self.menuBar().addMenu("&Training")
        training_menu.addAction(self._action("&Tune and compare models…", "Ctrl+T", slots.tuning,
                                             "Tune each model on the selected dataset's validation split with the "
                                             "same budget, then compare the best fairly on its test split"))
        training_menu.addSeparator()
        training_menu.addAction(self._action("Cancel current run", "Ctrl+.", slots.cancel_run))
        training_menu.addAction(self._action("Cancel all runs", "Ctrl+Shift+.", slots.cancel_all))
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("&User guide", QKeySequence.StandardKey.HelpContents, slots.user_guide))
        help_menu.addAction(self._action("&About HRNN Workbench", None, slots.about))

    def _build_file_menu(self, slots: MenuSlots) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self._action("&New workspace…", QKeySequence.StandardKey.New, slots.new_workspace,
                                         "Create an empty workspace file"))
        file_menu.addAction(self._action("&Open workspace…", QKeySequence.StandardKey.Open, slots.open_workspace,
                                         "Open a workspace file"))
        self.recent_menu: QMenu = file_menu.addMenu("Recent workspaces")
        self.recent_menu.aboutToShow.connect(slots.fill_recent)
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Import log…", "Ctrl+I", slots.import_logs,
                                         "Import interaction logs (or drop them on the window)"))
        file_menu.addAction(self._action("Attach item &names…", None, slots.item_names,
                                         "Attach readable item names (e.g. MovieLens u.item) to the selected dataset"))
        file_menu.addAction(self._action("Open the &demo dataset", None, slots.demo,
                                         "Import the seeded synthetic demo log"))
        file_menu.addSeparator()
        self.compact_action = self._action("&Compact workspace", None, slots.compact,
                                           "Give the space of deleted datasets and runs back to the disk")
        file_menu.addAction(self.compact_action)
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", QKeySequence.StandardKey.Quit, slots.quit))

    def _route_drops_to_window(self) -> None:
        """Drops anywhere on the window import logs: child widgets that would take a drop
        themselves (line edits, plots, text views) pass it on to the window instead. The
        workspace browser keeps its own: an item-names file dropped onto a dataset names its items."""
        for child in self.findChildren(QWidget):
            if child.acceptDrops():
                child.setAcceptDrops(False)
        self.browser.setAcceptDrops(True)
