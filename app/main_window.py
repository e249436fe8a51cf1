"""The main window: workspace browser, Data / Training / Results / Inspection panels, log panel,
background jobs in the status bar, File menu, shortcuts, drag-and-drop import anywhere, and the
layout remembered between launches."""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMessageBox, QTabWidget, QWidget

from app.data_panel import DataPanel
from app.import_flow import FILE_FILTER, ImportFlow
from app.inspection.inspection_panel import InspectionPanel
from app.jobs import JobManager, JobStatusWidget
from app.log_panel import LogPanel
from app.results.results_panel import ResultsPanel
from app.run_process import RunProcessQueue
from app.settings import AppSettings
from app.training_panel import TrainingPanel
from app.workspace_browser import WorkspaceBrowser
from engine.errors import WorkbenchError
from engine.workbench import workspaces
from engine.workbench.datasets import list_datasets
from engine.workbench.demo import create_demo_dataset
from engine.workbench.importing import ImportOutcome
from engine.workbench.workspaces import Workspace

log = logging.getLogger(__name__)

PANELS = ("Data", "Training", "Results", "Inspection")
WORKSPACE_FILTER = "Workspaces (*.sqlite *.db);;All files (*)"


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings, workspace_location: str | Path, create_demo: bool = False,
                 run_command: list[str] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self._closed = False
        self.setWindowTitle("HRNN Workbench")
        self.setAcceptDrops(True)
        self.jobs = JobManager(parent=self)
        self.workspace = workspaces.open_workspace(workspace_location)
        self.queue = RunProcessQueue(self.workspace, run_command, self)
        self.import_flow = ImportFlow(self.jobs, self)
        self.import_flow.imported.connect(self._on_imported)

        self.browser = WorkspaceBrowser()
        self.browser.setMinimumWidth(200)
        self.browser.dataset_selected.connect(self._on_dataset_selected)
        self.browser.run_selected.connect(self._on_run_selected)
        self.data_panel = DataPanel(self.jobs)
        self.data_panel.explorer.dataset_prepared.connect(self._on_dataset_prepared)
        self.training_panel = TrainingPanel(self.workspace, self.queue)
        self.training_panel.runs_changed.connect(self.refresh)
        self.results_panel = ResultsPanel(self.workspace.url, jobs=self.jobs)
        self.inspection_panel = InspectionPanel(self.workspace.url, jobs=self.jobs)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for name, panel in zip(PANELS, (self.data_panel, self.training_panel, self.results_panel,
                                        self.inspection_panel), strict=True):
            self.tabs.addTab(panel, name)
        self.setCentralWidget(self.tabs)
        self.log_panel = LogPanel()
        self.log_panel.attach()
        self.browser_dock = self._dock("Workspace", "workspaceDock", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.log_dock = self._dock("Log", "logDock", self.log_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.job_status = JobStatusWidget(self.jobs)
        self.statusBar().addPermanentWidget(self.job_status)
        self._build_menus()
        self._route_drops_to_window()
        self._restore_layout()
        self._use_workspace(self.workspace, create_demo)

    # ----- construction -----
    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, shortcut: QKeySequence | str | None, slot, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self._action("&New workspace…", QKeySequence.StandardKey.New, self.new_workspace,
                                         "Create an empty workspace file"))
        file_menu.addAction(self._action("&Open workspace…", QKeySequence.StandardKey.Open, self.choose_workspace,
                                         "Open a workspace file"))
        self.recent_menu = file_menu.addMenu("Recent workspaces")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Import log…", "Ctrl+I", self.choose_logs_to_import,
                                         "Import interaction logs (or drop them on the window)"))
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", QKeySequence.StandardKey.Quit, self.close))
        view_menu = self.menuBar().addMenu("&View")
        for index, name in enumerate(PANELS):
            view_menu.addAction(self._action(f"{name} panel", f"Ctrl+{index + 1}",
                                             lambda _=False, i=index: self.tabs.setCurrentIndex(i)))
        view_menu.addSeparator()
        view_menu.addAction(self._action("&Refresh", QKeySequence.StandardKey.Refresh, self.refresh))
        browser_toggle = self.browser_dock.toggleViewAction()
        browser_toggle.setShortcut(QKeySequence("Ctrl+B"))
        log_toggle = self.log_dock.toggleViewAction()
        log_toggle.setShortcut(QKeySequence("Ctrl+L"))
        view_menu.addAction(browser_toggle)
        view_menu.addAction(log_toggle)
        training_menu = self.menuBar().addMenu("&Training")
        training_menu.addAction(self._action("Cancel current run", "Ctrl+.", self.queue.cancel_current))
        training_menu.addAction(self._action("Cancel all runs", "Ctrl+Shift+.", self.queue.cancel_all))

    def _route_drops_to_window(self) -> None:
        """Drops anywhere on the window import logs: child widgets that would take a drop
        themselves (line edits, plots, text views) pass it on to the window instead."""
        for child in self.findChildren(QWidget):
            if child.acceptDrops():
                child.setAcceptDrops(False)

    # ----- workspace -----
    def _use_workspace(self, workspace: Workspace, create_demo: bool) -> None:
        self.workspace = workspace
        self.queue.set_workspace(workspace)
        self.import_flow.set_workspace(workspace.url)
        self.data_panel.set_workspace(workspace)
        self.training_panel.set_workspace(workspace)
        self.results_panel.set_workspace(workspace.url)
        self.inspection_panel.set_workspace(workspace.url)
        self.setWindowTitle(f"HRNN Workbench — {workspace.display_name}")
        if "://" not in str(workspace.display_name) and workspace.engine.dialect.name == "sqlite":
            self.settings.add_recent_workspace(str(workspace.display_name))
        log.info("opened workspace %s", workspace.display_name)
        self.refresh()
        if create_demo:
            self._create_demo_dataset()
        elif self.browser.dataset_ids():
            self.browser.select("dataset", self.browser.dataset_ids()[0])

    def _create_demo_dataset(self) -> None:
        folder = Path(self.workspace.display_name).parent
        job = self.jobs.submit_in_process("Creating the demo dataset", create_demo_dataset,
                                          (self.workspace.url, folder))
        job.succeeded.connect(self._on_imported)
        job.failed.connect(self._on_demo_failed)

    @Slot(object)
    def _on_demo_failed(self, error: Exception) -> None:
        log.error("could not create the demo dataset: %s", error)

    def open_workspace(self, location: str | Path, create_demo: bool = False) -> bool:
        """Switch to the workspace at ``location`` (stopping background work); False if it cannot be opened."""
        try:
            workspace = workspaces.open_workspace(location)
        except WorkbenchError as exc:
            QMessageBox.critical(self, "Cannot open the workspace", str(exc))
            return False
        self.queue.shutdown()
        self.jobs.shutdown()
        old, self.workspace = self.workspace, workspace
        self._use_workspace(workspace, create_demo)
        old.close()
        return True

    @Slot()
    def new_workspace(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New workspace", str(Path.home() / "workspace.sqlite"),
                                              WORKSPACE_FILTER)
        if path:
            self.open_workspace(path if Path(path).suffix else f"{path}.sqlite")

    @Slot()
    def choose_workspace(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open workspace", str(Path.home()), WORKSPACE_FILTER)
        if path:
            self.open_workspace(path)

    @Slot()
    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for index, location in enumerate(self.settings.recent_workspaces()):
            action = self.recent_menu.addAction(f"&{index + 1} {location}")
            action.triggered.connect(lambda _=False, where=location: self.open_workspace(where))
        self.recent_menu.setEnabled(bool(self.recent_menu.actions()))

    @Slot()
    def refresh(self) -> None:
        self.browser.refresh(self.workspace)
        self.training_panel.set_datasets(list_datasets(self.workspace))
        self.results_panel.refresh()
        self.inspection_panel.refresh()

    # ----- datasets and runs -----
    @Slot(int)
    def _on_dataset_selected(self, dataset_id: int) -> None:
        try:
            self.data_panel.show_dataset(dataset_id)
        except WorkbenchError as exc:
            log.warning("%s", exc)
        self.training_panel.select_dataset(dataset_id)
        self.results_panel.set_dataset(dataset_id)
        self.inspection_panel.set_dataset(dataset_id)

    @Slot(int)
    def _on_run_selected(self, run_id: int) -> None:
        run = next((r for r in self.browser.runs if r.id == run_id), None)
        if run is not None:
            self.training_panel.select_dataset(run.dataset_id)
        self.training_panel.show_run(run_id)
        self.tabs.setCurrentWidget(self.training_panel)

    @Slot(object)
    def _on_imported(self, outcome: ImportOutcome) -> None:
        self.refresh()
        self.browser.select("dataset", outcome.dataset_id)
        self.statusBar().showMessage(f"Dataset '{outcome.dataset_name}' ready", 5000)

    @Slot(int)
    def _on_dataset_prepared(self, dataset_id: int) -> None:
        self.refresh()
        self.browser.select("dataset", dataset_id)

    # ----- import -----
    @Slot()
    def choose_logs_to_import(self) -> None:
        folder = self.settings.value("import/folder", str(Path.home()), str)
        paths, _ = QFileDialog.getOpenFileNames(self, "Import logs", folder, FILE_FILTER)
        if paths:
            self.settings.set_value("import/folder", str(Path(paths[0]).parent))
            self.import_flow.import_paths([Path(p) for p in paths])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.import_flow.import_paths(paths)

    # ----- layout and closing -----
    def _restore_layout(self) -> None:
        geometry = self.settings.bytes_value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        state = self.settings.bytes_value("window/state")
        if state is None or not self.restoreState(state):
            self.resizeDocks([self.log_dock], [110], Qt.Orientation.Vertical)
        self.tabs.setCurrentIndex(self.settings.value("window/panel", 0, int))
        self.log_panel.set_minimum_level(self.settings.value("log/level", "Info", str))
        self.training_panel.restore_state(self.settings)
        for key, combo in (("results/k", self.results_panel.k_combo), ("inspection/k", self.inspection_panel.k_combo)):
            index = self.settings.value(key, combo.currentIndex(), int)
            if 0 <= index < combo.count():
                combo.setCurrentIndex(index)

    def save_layout(self) -> None:
        self.settings.set_value("window/geometry", self.saveGeometry())
        self.settings.set_value("window/state", self.saveState())
        self.settings.set_value("window/panel", self.tabs.currentIndex())
        self.settings.set_value("log/level", self.log_panel.level_name())
        self.training_panel.save_state(self.settings)
        self.settings.set_value("results/k", self.results_panel.k_combo.currentIndex())
        self.settings.set_value("inspection/k", self.inspection_panel.k_combo.currentIndex())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closed:
            event.accept()
            return
        self._closed = True
        self.save_layout()
        self.queue.shutdown()
        self.jobs.shutdown()
        self.log_panel.detach()
        self.workspace.close()
        event.accept()
