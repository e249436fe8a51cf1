"""The main window: workspace browser, Data / Training / Results / Inspection panels, log panel,
background jobs in the status bar, menus, shortcuts, drag-and-drop import anywhere, and the
layout remembered between launches.

The window never touches the database itself: opening a workspace, reading what it holds (one
:class:`WorkspaceOverview`, read again whenever something changed and fanned out to the panels)
and every change run as background jobs whose results come back as plain data."""
from __future__ import annotations

import enum
import gc
import logging
import sys
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.file_drops import FileDrops, is_item_names_file
from app.help_dialogs import AboutDialog, UserGuideDialog
from app.import_flow import FILE_FILTER, ImportFlow
from app.jobs import Job, JobManager
from app.main_window_layout import PANELS, MainWindowLayout, MenuSlots, default_size
from app.overview import WorkspaceState
from app.run_process import RunProcessQueue
from app.settings import AppSettings
from app.tuning.tuning_dialog import TuningDialog
from app.workspace_actions import WorkspaceActions
from engine.progress import CancelToken, ProgressCallback
from engine.workbench.datasets import WorkspaceOverview, dataset_warnings
from engine.workbench.demo import create_demo_dataset
from engine.workbench.importing import ImportOutcome
from engine.workbench.workspaces import WorkspaceInfo, check_workspace

log = logging.getLogger(__name__)

__all__ = ["PANELS", "MainWindow", "RunsOnClosing", "ask_about_runs"]

WORKSPACE_FILTER = "Workspaces (*.sqlite *.db);;All files (*)"
#: Seconds a background thread may hold the interpreter before the GUI thread, asking for it, gets
#: it (Python's default is 5 ms; jobs reading a dataset in pure Python kept the window waiting).
GIL_SWITCH_S = 0.001
ITEM_NAMES_FILTER = "Item names (*.item u.item *.csv *.tsv *.txt *.parquet *.jsonl);;All files (*)"


class RunsOnClosing(enum.Enum):
    """What to do with the runs queued or running when the window closes."""

    CANCEL = "cancel"
    LEAVE = "leave"  # let them finish in the background
    STAY = "stay"  # do not close


def ask_about_runs(parent: QWidget, running: int | None, queued: int, doing: str) -> RunsOnClosing:
    """Ask what becomes of the runs before ``doing`` ("quitting", "opening another workspace")."""
    parts = ([f"run #{running} is training"] if running is not None else []) + \
        ([f"{queued} run{'s are' if queued != 1 else ' is'} queued"] if queued else [])
    them = "them" if len(parts) > 1 or queued > 1 else "it"
    box = QMessageBox(QMessageBox.Icon.Question, "Runs in progress",
                      f"{' and '.join(parts).capitalize()}. What becomes of {them} before {doing}?", parent=parent)
    box.setInformativeText("In the background, the headless executor goes on without the window and records "
                           "everything in the workspace; the runs show up when you open it again.")
    leave = box.addButton("Let them finish in the background", QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton("Cancel the runs", QMessageBox.ButtonRole.DestructiveRole)
    stay = box.addButton("Go back", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(stay)
    box.exec()
    clicked = box.clickedButton()
    return RunsOnClosing.LEAVE if clicked is leave else RunsOnClosing.CANCEL if clicked is cancel \
        else RunsOnClosing.STAY


class MainWindow(MainWindowLayout):
    def __init__(self, settings: AppSettings, workspace_location: str | Path, create_demo: bool = False,
                 run_command: list[str] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        sys.setswitchinterval(GIL_SWITCH_S)
        self.settings = settings
        self._closed = False
        self._create_demo = False
        self.info: WorkspaceInfo | None = None
        self.tuning_dialog: TuningDialog | None = None
        self._opening: Job | None = None
        self._select_next: tuple[str, int] | None = None  # what to select once the next overview arrives
        self._runs_signature: tuple = ()
        self.setAcceptDrops(True)
        self._drops = FileDrops(self._on_window_drop)
        self.jobs = JobManager(parent=self)
        self.state = WorkspaceState(self.jobs, self)
        self.queue = RunProcessQueue(self.jobs, run_command, self)
        self.import_flow = ImportFlow(self.jobs, self)
        self.workspace_actions = WorkspaceActions(self.jobs, self)
        self._build(self.jobs, self.queue, workspace_location)
        self._build_menus(self._menu_slots())
        self._connect()
        self.log_panel.attach()
        self._route_drops_to_window()
        self._restore_layout()
        self.open_workspace(workspace_location, create_demo)
        # The modules and widgets of the start live as long as the window: out of the collector's
        # reach, a full collection scans only what came after (full scans of some 400,000 objects
        # stalled the window 0.2 to 0.6 s while a job ran)
        gc.freeze()

    # ----- construction -----
    def _menu_slots(self) -> MenuSlots:
        return MenuSlots(
            new_workspace=self.new_workspace, open_workspace=self.choose_workspace, fill_recent=self._fill_recent_menu,
            import_logs=self.choose_logs_to_import, item_names=self.choose_item_names, demo=self.open_demo_dataset,
            compact=self.workspace_actions.compact, quit=self.close, show_panel=self.tabs.setCurrentIndex,
            refresh=self.refresh, tuning=self.open_tuning, cancel_run=self.queue.cancel_current,
            cancel_all=self.queue.cancel_all, user_guide=self.show_user_guide, about=self.show_about)

    def _connect(self) -> None:
        self.state.changed.connect(self._on_overview)
        self.state.failed.connect(self._on_overview_failed)
        self.queue.run_started.connect(self._on_run_event)
        self.queue.run_finished.connect(self._on_run_event)
        self.import_flow.imported.connect(self._on_imported)
        self.import_flow.log_stored.connect(self._on_log_stored)
        actions = self.workspace_actions
        actions.changed.connect(self.refresh)
        actions.retried.connect(self._on_retried)
        actions.deleted_runs.connect(self.queue.forget)
        actions.message.connect(self._say)
        self.browser.dataset_selected.connect(self._on_dataset_selected)
        self.browser.run_selected.connect(self._on_run_selected)
        self.browser.log_selected.connect(self._on_log_selected)
        self.browser.invitation.demo_requested.connect(self.open_demo_dataset)
        self.browser.files_dropped.connect(self._on_files_dropped)
        self.browser.item_names_requested.connect(self.choose_item_names_for)
        self.data_panel.explorer.dataset_prepared.connect(self._on_dataset_prepared)
        self.data_panel.explorer.dataset_stored.connect(self.refresh)
        self.training_panel.runs_changed.connect(self.refresh)
        for source in (self.browser, self.training_panel):
            source.rename_requested.connect(actions.rename)
            source.note_requested.connect(actions.edit_note)
            source.delete_requested.connect(actions.delete)
            source.retry_requested.connect(actions.retry)

    # ----- workspace -----
    @property
    def url(self) -> str | None:
        """The open workspace's URL (None while none is open)."""
        return self.info.url if self.info is not None else None

    def open_workspace(self, location: str | Path, create_demo: bool = False) -> None:
        """Open the workspace at ``location`` in the background (its schema upgraded if need be),
        then switch to it; the current one stays while it cannot be opened."""
        if self.info is not None and not self._settle_runs("opening another workspace"):
            return
        if self._opening is not None:
            self._opening.discard()
        self._create_demo = create_demo

        def work(progress: ProgressCallback, cancel: CancelToken) -> WorkspaceInfo:
            return check_workspace(location, True, progress, cancel)

        self._opening = self.jobs.submit(f"Opening {Path(str(location)).name}", work)
        self._opening.succeeded.connect(self._on_opened)
        self._opening.failed.connect(self._on_open_failed)

    @Slot(object)
    def _on_opened(self, info: WorkspaceInfo) -> None:
        self._opening = None
        if self.info is not None:  # leave the previous workspace: its work and what was shown of it
            if self.tuning_dialog is not None:
                self.tuning_dialog.close()
                self.tuning_dialog = None
            self.queue.shutdown()
            self.results_panel.shutdown()
            self.inspection_panel.shutdown()
        self.info = info
        location = str(info.file_path) if info.file_path is not None else info.url
        self.queue.set_workspace(info.url, location)
        self.import_flow.set_workspace(info.url)
        self.workspace_actions.set_workspace(info.url)
        self.browser.show_overview(None)
        self.data_panel.set_workspace(info.url)
        self.training_panel.set_workspace(info.url)
        self.results_panel.set_workspace(info.url)
        self.inspection_panel.set_workspace(info.url)
        self._runs_signature = ()
        self._select_next = None
        self.compact_action.setEnabled(not info.read_only)
        self.setWindowTitle(f"HRNN Workbench — {info.display_name}" + (" (read-only)" if info.read_only else ""))
        if info.file_path is not None:
            self.settings.add_recent_workspace(str(info.display_name))
        log.info("opened workspace %s", info.display_name)
        self.state.set_url(info.url)
        if self._create_demo:
            self.open_demo_dataset()

    @Slot(object)
    def _on_open_failed(self, error: Exception) -> None:
        self._opening = None
        log.error("cannot open the workspace: %s", error)
        QMessageBox.critical(self, "Cannot open the workspace", str(error))

    @Slot()
    def open_demo_dataset(self) -> None:
        """Import the synthetic demo log into the open workspace (in the background)."""
        if self.info is None:
            return
        folder = self.info.file_path.parent if self.info.file_path is not None else Path.home()
        job = self.jobs.submit_in_process("Creating the demo dataset", create_demo_dataset, (self.info.url, folder))
        job.succeeded.connect(self._on_imported)
        job.failed.connect(self._on_demo_failed)

    @Slot(object)
    def _on_demo_failed(self, error: Exception) -> None:
        log.error("could not create the demo dataset: %s", error)

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

    # ----- what the workspace holds -----
    @Slot()
    def refresh(self) -> None:
        """Something changed: read the overview again (in the background)."""
        self.state.request()

    @Slot(object)
    def _on_overview(self, overview: WorkspaceOverview) -> None:
        self.browser.show_overview(overview)
        self.workspace_actions.set_overview(overview)
        self.training_panel.set_saved_presets(self.state.saved_presets)
        self.training_panel.set_overview(overview)
        self.data_panel.set_overview(overview)
        signature = (tuple((run.id, run.status, run.name) for run in overview.runs),
                     tuple((dataset.id, dataset.name, dataset.evaluation_candidates) for dataset in overview.datasets))
        if signature != self._runs_signature:
            self._runs_signature = signature
            self.results_panel.refresh()
            self.inspection_panel.refresh()
        shown = self.results_panel.dataset_id
        if shown is not None and overview.dataset(shown) is None and self.url is not None:  # deleted meanwhile
            self.results_panel.set_workspace(self.url)
            self.inspection_panel.set_workspace(self.url)
        if self._select_next is not None:
            kind, identifier = self._select_next
            self._select_next = None
            self.browser.select(kind, identifier)
        elif self.browser.selected_kind_and_id() is None and overview.datasets:
            self.browser.select("dataset", overview.datasets[0].id)

    @Slot(str)
    def _on_overview_failed(self, message: str) -> None:
        self._say(f"Could not read the workspace: {message}")

    @Slot()
    def _on_run_event(self) -> None:
        self.refresh()

    # ----- datasets and runs -----
    @Slot(int)
    def _on_dataset_selected(self, dataset_id: int) -> None:
        overview = self.state.overview
        dataset = overview.dataset(dataset_id) if overview is not None else None
        if dataset is None:
            return
        self.data_panel.show_dataset(dataset)
        self.training_panel.select_dataset(dataset_id)
        self.results_panel.set_dataset(dataset_id)
        self.inspection_panel.set_dataset(dataset_id)

    @Slot(int)
    def _on_run_selected(self, run_id: int) -> None:
        self.training_panel.show_run(run_id)
        self.tabs.setCurrentWidget(self.training_panel)

    @Slot(int)
    def _on_log_selected(self, log_id: int) -> None:
        overview = self.state.overview
        stored = next((s for s in overview.unprepared_logs if s.id == log_id), None) if overview is not None else None
        if stored is not None:
            self.data_panel.show_stored_log(stored)
            self.tabs.setCurrentWidget(self.data_panel)

    def _select_when_read(self, kind: str, identifier: int, announce: str) -> None:
        """Select what was just stored once the overview lists it, unless the user is in the middle
        of an unsaved threshold exploration (then only say so)."""
        if self.data_panel.explorer.is_modified():
            self._say(f"{announce}; your threshold exploration is kept (select it in the workspace browser)")
        else:
            self._select_next = (kind, identifier)
            self._say(announce)
        self.refresh()

    @Slot(object)
    def _on_imported(self, outcome: ImportOutcome) -> None:
        for warning in dataset_warnings(outcome.statistics):
            log.warning("dataset '%s': %s", outcome.dataset_name, warning)
        self._select_when_read("dataset", outcome.dataset_id, f"Dataset '{outcome.dataset_name}' ready")

    @Slot(int)
    def _on_log_stored(self, log_id: int) -> None:
        self._select_when_read("log", log_id, "The log is stored; its settings left no dataset")

    @Slot(int)
    def _on_dataset_prepared(self, dataset_id: int) -> None:
        self._select_next = ("dataset", dataset_id)
        self.refresh()

    @Slot(list)
    def _on_retried(self, run_ids: list[int]) -> None:
        self.queue.enqueue(run_ids)

    def _say(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    # ----- import and item names -----
    @Slot()
    def choose_logs_to_import(self) -> None:
        folder = self.settings.value("import/folder", str(Path.home()), str)
        paths, _ = QFileDialog.getOpenFileNames(self, "Import logs", folder, FILE_FILTER)
        if paths:
            self.settings.set_value("import/folder", str(Path(paths[0]).parent))
            self.import_flow.import_paths([Path(p) for p in paths])

    @Slot()
    def choose_item_names(self) -> None:
        """Choose a file of item names for the selected dataset."""
        dataset_id = self._selected_dataset()
        if dataset_id is None:
            QMessageBox.information(self, "Attach item names", "Select a dataset first: the names are attached to "
                                    "its log.")
            return
        self.choose_item_names_for(dataset_id)

    @Slot(int)
    def choose_item_names_for(self, dataset_id: int) -> None:
        """Choose a file of item names for dataset ``dataset_id``."""
        folder = self.settings.value("import/folder", str(Path.home()), str)
        path, _ = QFileDialog.getOpenFileName(self, "Item names", folder, ITEM_NAMES_FILTER)
        if path:
            self.workspace_actions.attach_item_names(dataset_id, Path(path))

    def _selected_dataset(self) -> int | None:
        selected = self.browser.selected_kind_and_id()
        if selected is None:
            return None
        kind, identifier = selected
        if kind == "dataset":
            return identifier
        run = self.state.overview.run(identifier) if kind == "run" and self.state.overview is not None else None
        return run.dataset_id if run is not None else None

    @Slot(list, object)
    def _on_files_dropped(self, paths: list[Path], dataset_id: int | None) -> None:
        """Files dropped on the browser: item names onto a dataset, logs otherwise."""
        names = [path for path in paths if is_item_names_file(path)]
        logs = [path for path in paths if not is_item_names_file(path)]
        target = dataset_id if dataset_id is not None else self._selected_dataset()
        if logs and dataset_id is not None and len(paths) == 1:
            answer = QMessageBox.question(
                self, "Dropped onto a dataset", f"Attach the item names in {paths[0].name} to this dataset? "
                "(No: import it as an interaction log)",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Cancel)
            if answer == QMessageBox.StandardButton.Cancel:
                return
            if answer == QMessageBox.StandardButton.Yes:
                names, logs = logs, []
        for path in names:
            if target is None:
                QMessageBox.information(self, "Attach item names", f"{path.name} holds item names: drop it onto a "
                                        "dataset of the workspace browser.")
            else:
                self.workspace_actions.attach_item_names(target, path)
        if logs:
            self.import_flow.import_paths(logs)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self._drops.enter(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self._drops.move(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self._drops.drop(event)

    def _on_window_drop(self, paths: list[Path], _position: QPoint) -> None:
        self._on_files_dropped(paths, None)

    # ----- tuning -----
    @Slot()
    def open_tuning(self) -> None:
        """The Tuning dialog for the selected dataset (the one shown when nothing is selected)."""
        dataset_id = self._selected_dataset() or self.data_panel.dataset_id
        if dataset_id is None or self.info is None:
            QMessageBox.information(self, "Tune and compare models", "Select a dataset first: models are tuned on "
                                    "its validation split and compared on its test split.")
            return
        overview = self.state.overview
        dataset = overview.dataset(dataset_id) if overview is not None else None
        name = dataset.name if dataset is not None else None
        if self.tuning_dialog is not None:
            self.tuning_dialog.close()
        self.tuning_dialog = TuningDialog(self.info.url, dataset_id, self.jobs, name, self)
        self.tuning_dialog.finished.connect(self.refresh)
        self.tuning_dialog.resize(min(1200, self.width()), min(700, self.height()))
        self.tuning_dialog.show()

    # ----- help -----
    @Slot()
    def show_user_guide(self) -> None:
        UserGuideDialog(self).open()

    @Slot()
    def show_about(self) -> None:
        AboutDialog(self).open()

    # ----- layout and closing -----
    def _restore_layout(self) -> None:
        geometry = self.settings.bytes_value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*default_size())
        state = self.settings.bytes_value("window/state")
        if state is None or not self.restoreState(state):
            self.resizeDocks([self.log_dock], [90], Qt.Orientation.Vertical)
            self.resizeDocks([self.browser_dock], [230], Qt.Orientation.Horizontal)
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

    def _settle_runs(self, doing: str) -> bool:
        """Before ``doing``, ask what becomes of runs queued or running (nothing to ask: True);
        False when the user goes back."""
        if not self.queue.busy():
            return True
        choice = ask_about_runs(self, self.queue.current_run, len(self.queue.pending_runs), doing)
        if choice is RunsOnClosing.STAY:
            return False
        if choice is RunsOnClosing.LEAVE:
            left = self.queue.leave_to_finish()
            log.info("runs %s left to finish in the background", left)
        else:
            self.queue.cancel_all()
        return True

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closed:
            event.accept()
            return
        if not self._settle_runs("quitting"):
            event.ignore()
            return
        self._closed = True
        if self.tuning_dialog is not None:
            self.tuning_dialog.close()
        self.save_layout()
        self.queue.shutdown()
        self.queue.dispose()
        self.results_panel.shutdown()
        self.inspection_panel.shutdown()
        self.jobs.shutdown()
        self.log_panel.detach()
        event.accept()
