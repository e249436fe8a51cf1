"""The workspace browser: datasets, under each the runs the analyst trained with their status, then
the tuning studies, each with its trials under it (collapsed, with short labels), and the stored
logs that wait for settings (their preparation left nothing). A context menu and the Delete and F2 keys
manage them; an item-names file dropped onto a dataset attaches its titles. An empty workspace
invites the user to drop a log or to open the demo dataset."""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
    QPainter,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.file_drops import FileDrops
from engine.workbench.datasets import WorkspaceOverview
from engine.workbench.studies import StudyGroup, is_trial, study_groups, trial_status
from engine.workbench.training import RETRYABLE, RunSummary, run_label

log = logging.getLogger(__name__)

STATUS_COLOURS = {"queued": "#6b7280", "running": "#1d4ed8", "finished": "#15803d", "failed": "#b00020",
                  "cancelled": "#a15c00", "stopped early": "#15803d", "pruned": "#9ca3af"}
WAITING_COLOUR = "#a15c00"
KIND_ROLE = Qt.ItemDataRole.UserRole
ID_ROLE = Qt.ItemDataRole.UserRole + 1
STATUS_ROLE = Qt.ItemDataRole.UserRole + 2
STUDY_ROLE = Qt.ItemDataRole.UserRole + 3  # a study's name
STUDY_COLOUR = "#7c3aed"
NOTE_MARK = " ✎"
DOT_PX = 10


def status_icon(colour: str) -> QIcon:
    """A round dot of ``colour``: a run's status at a glance, beside its whole name."""
    pixmap = QPixmap(DOT_PX, DOT_PX)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(colour))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, DOT_PX - 2, DOT_PX - 2)
    painter.end()
    return QIcon(pixmap)


class EmptyWorkspaceInvitation(QWidget):
    """What an empty workspace shows: drop a log, or open the demo."""

    demo_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text_label = QLabel("<b>This workspace is empty.</b><br><br>Drop an interaction log here (CSV, TSV, "
                                 "Parquet or JSON lines; user, item and time columns), or use File › Import log…"
                                 "<br><br>Or explore the synthetic demo log first:")
        self.text_label.setWordWrap(True)
        self.text_label.setObjectName("mutedLabel")
        self.demo_button = QPushButton("Open the demo dataset")
        self.demo_button.setToolTip("Import the seeded synthetic demo log into this workspace")
        self.demo_button.clicked.connect(self.demo_requested)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text_label)
        layout.addWidget(self.demo_button)
        layout.addStretch(1)



class WorkspaceBrowser(QTreeWidget):
    """Tree of the workspace's datasets, runs and waiting logs; emits what the user selects and
    what the user asks to do with it."""

    dataset_selected = Signal(int)
    run_selected = Signal(int)
    log_selected = Signal(int)
    rename_requested = Signal(str, int)  # kind ("dataset" or "run"), id
    note_requested = Signal(str, int)
    delete_requested = Signal(str, list)  # kind ("dataset", "run", "study" or "log"), ids (a study's: its first run)
    retry_requested = Signal(list)  # run ids
    item_names_requested = Signal(int)  # dataset id: choose a file of item names
    files_dropped = Signal(list, object)  # paths, the dataset dropped onto (or None)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["Datasets and their runs"])
        header = self.header()
        # Names fit the dock's width, a long one ending in "…" ("#2 Personal Pop, popul…") rather than cut
        # at the edge; its tooltip and a wider dock show it whole. (Sizing the column to its contents also
        # measured every item at each rebuild.)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setUniformRowHeights(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._show_menu)
        self.itemSelectionChanged.connect(self._on_selection)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(False)
        self._drops = FileDrops(self._on_dropped)
        self.overview: WorkspaceOverview | None = None
        self.studies: list[StudyGroup] = []
        self.invitation = EmptyWorkspaceInvitation(self.viewport())
        self.invitation.hide()
        self.delete_action = self._action("Delete…", QKeySequence.StandardKey.Delete, self.request_delete)
        self.rename_action = self._action("Rename…", QKeySequence(Qt.Key.Key_F2), self.request_rename)
        self.note_action = self._action("Note…", None, self.request_note)
        self.retry_action = self._action("Retry", None, self.request_retry)
        self.names_action = self._action("Attach item names…", None, self.request_item_names)

    def _action(self, text: str, shortcut: QKeySequence | QKeySequence.StandardKey | None,
                slot: Callable[[], None]) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        action.triggered.connect(slot)
        return action

    @property
    def runs(self) -> list[RunSummary]:
        return self.overview.runs if self.overview is not None else []

    # ----- contents -----
    def show_overview(self, overview: WorkspaceOverview | None) -> None:
        """Show ``overview`` (None: no workspace), keeping the selection, the collapsed datasets and
        the expanded studies (a study's trials are collapsed at first). An overview that lists the
        same datasets, runs and logs as the one shown changes nothing (no rebuild, no selection
        announced again: the panels keep what they show)."""
        if overview is not None and self.overview is not None and _listed(overview) == _listed(self.overview):
            self.overview = overview
            return
        selected = self.selected()
        collapsed = {item.data(0, ID_ROLE) for item in self._top_items() if not item.isExpanded()}
        expanded_studies = {item.data(0, STUDY_ROLE) for item in self._items()
                            if item.data(0, KIND_ROLE) == "study" and item.isExpanded()}
        self.overview = overview
        self.studies = study_groups(overview.runs) if overview is not None else []
        self.blockSignals(True)
        self.clear()
        datasets = overview.datasets if overview is not None else []
        runs = {run.id: run for run in self.runs}
        for dataset in datasets:
            item = QTreeWidgetItem(self, [dataset.name + (NOTE_MARK if dataset.note else "")])
            item.setData(0, KIND_ROLE, "dataset")
            item.setData(0, ID_ROLE, dataset.id)
            events = f"{dataset.statistics.get('events', 0):,} events of {dataset.statistics.get('users', 0):,} users"
            item.setToolTip(0, "\n".join(part for part in (dataset.name, events, dataset.source_path, dataset.note)
                                         if part))
            for run in (r for r in self.runs if r.dataset_id == dataset.id and not is_trial(r)):
                self._run_item(item, run, run_label(run))
            for group in (g for g in self.studies if g.dataset_id == dataset.id):
                self._study_item(item, group, [runs[run_id] for run_id in group.run_ids],
                                 group.name in expanded_studies)
            item.setExpanded(dataset.id not in collapsed)
        for stored in overview.unprepared_logs if overview is not None else []:
            item = QTreeWidgetItem(self, [f"{stored.name} (no dataset yet)"])
            item.setData(0, KIND_ROLE, "log")
            item.setData(0, ID_ROLE, stored.id)
            item.setForeground(0, QBrush(QColor(WAITING_COLOUR)))
            item.setToolTip(0, f"{stored.source_path}\n{stored.n_events:,} events stored; its preparation left "
                               "nothing: choose other settings in the Data panel and Prepare")
        self.blockSignals(False)
        self.invitation.setVisible(overview is not None and not datasets and not overview.unprepared_logs)
        self._place_invitation()
        if selected:
            self.select(*selected[0], extend=[(kind, identifier) for kind, identifier in selected[1:]])

    def _run_item(self, parent: QTreeWidgetItem, run: RunSummary, label: str) -> QTreeWidgetItem:
        status = trial_status(run)
        child = QTreeWidgetItem(parent, [label + (NOTE_MARK if run.note else "")])
        child.setData(0, KIND_ROLE, "run")
        child.setData(0, ID_ROLE, run.id)
        child.setData(0, STATUS_ROLE, run.status)
        child.setIcon(0, status_icon(STATUS_COLOURS.get(status.status, "#000000")))
        child.setToolTip(0, "\n".join(part for part in (run_label(run), status.status, status.reason, status.error,
                                                          run.note) if part))
        return child

    def _study_item(self, parent: QTreeWidgetItem, group: StudyGroup, trials: list[RunSummary],
                    expanded: bool) -> None:
        """A study with its trials under it (collapsed unless the user opened it)."""
        counts: dict[str, int] = {}
        for run in trials:
            status = trial_status(run).status
            counts[status] = counts.get(status, 0) + 1
        summary = ", ".join(f"{count} {status}" for status, count in counts.items())
        item = QTreeWidgetItem(parent, [f"{group.title}: {len(trials)} trial{'s' * (len(trials) != 1)}"])
        item.setData(0, KIND_ROLE, "study")
        item.setData(0, ID_ROLE, group.run_ids[0])
        item.setData(0, STUDY_ROLE, group.name)
        item.setIcon(0, status_icon(STUDY_COLOUR))
        item.setToolTip(0, f"Tuning study {group.name}: {len(trials)} trials on the validation split ({summary}). "
                           "Open it to see its trials; Delete removes the study with its trials.")
        for run in trials:
            self._run_item(item, run, group.trial_label(run.id))
        item.setExpanded(expanded)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_invitation()

    def _place_invitation(self) -> None:
        self.invitation.setGeometry(self.viewport().rect().adjusted(8, 8, -8, -8))

    def selected(self) -> list[tuple[str, int]]:
        """(kind, id) of every selected item, in tree order."""
        chosen = set(map(id, self.selectedItems()))
        return [(item.data(0, KIND_ROLE), int(item.data(0, ID_ROLE))) for item in self._items() if id(item) in chosen]

    def selected_kind_and_id(self) -> tuple[str, int] | None:
        current = self.currentItem()
        if current is not None and current.isSelected():
            return current.data(0, KIND_ROLE), int(current.data(0, ID_ROLE))
        selected = self.selected()
        return selected[0] if selected else None

    def select(self, kind: str, identifier: int, extend: list[tuple[str, int]] | None = None) -> None:
        """Make (kind, identifier) the current item (and select the ``extend`` ones too)."""
        for item in self._items():
            if (item.data(0, KIND_ROLE), item.data(0, ID_ROLE)) == (kind, identifier):
                self.setCurrentItem(item)
                break
        for item in self._items():
            if extend and (item.data(0, KIND_ROLE), item.data(0, ID_ROLE)) in extend:
                item.setSelected(True)

    def dataset_ids(self) -> list[int]:
        return [int(item.data(0, ID_ROLE)) for item in self._items() if item.data(0, KIND_ROLE) == "dataset"]

    def run_status(self, run_id: int) -> str | None:
        for item in self._items():
            if item.data(0, KIND_ROLE) == "run" and item.data(0, ID_ROLE) == run_id:
                return str(item.data(0, STATUS_ROLE))
        return None

    def item_text(self, kind: str, identifier: int) -> str | None:
        for item in self._items():
            if (item.data(0, KIND_ROLE), item.data(0, ID_ROLE)) == (kind, identifier):
                return item.text(0)
        return None

    def _top_items(self) -> list[QTreeWidgetItem]:
        return [item for item in (self.topLevelItem(i) for i in range(self.topLevelItemCount())) if item is not None]

    def _items(self) -> list[QTreeWidgetItem]:
        """Every item, depth first: datasets, their runs, their studies and the studies' trials."""
        found: list[QTreeWidgetItem] = []

        def walk(item: QTreeWidgetItem) -> None:
            found.append(item)
            for index in range(item.childCount()):
                child = item.child(index)
                if child is not None:
                    walk(child)

        for top in self._top_items():
            walk(top)
        return found

    def study_names(self, first_run_ids: list[int]) -> list[str]:
        """The names of the studies whose items carry these ids (their first trial's run)."""
        return [group.name for group in self.studies if group.run_ids[0] in first_run_ids]

    @Slot()
    def _on_selection(self) -> None:
        current = self.selected_kind_and_id()
        if current is None:
            return
        kind, identifier = current
        signal = {"dataset": self.dataset_selected, "run": self.run_selected, "log": self.log_selected}.get(kind)
        if signal is not None:
            signal.emit(identifier)

    # ----- managing -----
    def _kinds(self) -> dict[str, list[int]]:
        grouped: dict[str, list[int]] = {}
        for kind, identifier in self.selected():
            grouped.setdefault(kind, []).append(identifier)
        return grouped

    @Slot()
    def request_delete(self) -> None:
        """Delete the selected runs, or the selected dataset or stored log (one at a time)."""
        grouped = self._kinds()
        if len(grouped) == 1 and ("run" in grouped or "study" in grouped):
            kind = next(iter(grouped))
            self.delete_requested.emit(kind, grouped[kind])
        elif (current := self.selected_kind_and_id()) is not None:
            self.delete_requested.emit(current[0], [current[1]])

    @Slot()
    def request_rename(self) -> None:
        current = self.selected_kind_and_id()
        if current is not None and current[0] in ("dataset", "run"):
            self.rename_requested.emit(*current)

    @Slot()
    def request_note(self) -> None:
        current = self.selected_kind_and_id()
        if current is not None and current[0] in ("dataset", "run"):
            self.note_requested.emit(*current)

    @Slot()
    def request_retry(self) -> None:
        retryable = [run.id for run in self.runs if run.id in self._kinds().get("run", []) and run.status in RETRYABLE]
        if retryable:
            self.retry_requested.emit(retryable)

    @Slot()
    def request_item_names(self) -> None:
        current = self.selected_kind_and_id()
        if current is not None and current[0] == "dataset":
            self.item_names_requested.emit(current[1])

    def menu_for_selection(self) -> QMenu | None:
        """The context menu of the selected items (None when nothing is selected)."""
        grouped = self._kinds()
        if not grouped:
            return None
        menu = QMenu(self)
        single = len(self.selected()) == 1
        kind = next(iter(grouped)) if len(grouped) == 1 else None
        if kind in ("dataset", "run") and single:
            menu.addAction(self.rename_action)
            menu.addAction(self.note_action)
        if kind == "dataset" and single:
            menu.addAction(self.names_action)
        if kind == "run":
            self.retry_action.setEnabled(any(run.status in RETRYABLE for run in self.runs if run.id in grouped["run"]))
            menu.addAction(self.retry_action)
        if kind is not None:
            menu.addSeparator()
            menu.addAction(self.delete_action)
        return menu

    @Slot(QPoint)
    def _show_menu(self, position: QPoint) -> None:
        item = self.itemAt(position)
        if item is not None and not item.isSelected():
            self.setCurrentItem(item)
        menu = self.menu_for_selection()
        if menu is not None:
            menu.exec(self.viewport().mapToGlobal(position))

    # ----- dropping files -----
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self._drops.enter(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self._drops.move(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self._drops.drop(event)

    def _on_dropped(self, paths: list[Path], position: QPoint) -> None:
        """Files dropped: onto a dataset (or one of its runs), or elsewhere (None)."""
        item = self.itemAt(position)
        dataset_id = None
        if item is not None:
            top = item if item.parent() is None else item.parent()
            if top is not None and top.data(0, KIND_ROLE) == "dataset":
                dataset_id = int(top.data(0, ID_ROLE))
        self.files_dropped.emit(paths, dataset_id)


def _listed(overview: WorkspaceOverview) -> tuple:
    """What the tree shows of an overview (its items, labels, icons and tooltips come from these)."""
    return overview.datasets, overview.runs, overview.unprepared_logs
