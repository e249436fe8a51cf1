"""The Inspection panel: find a user, see their sessions on a timeline, step through their test
session and compare, for up to three runs side by side, the top-K recommendations at each step
with the actual next item highlighted and its rank (and the items tied with it).

Background jobs read the dataset (once), each chosen run's stored ranks (once), and each run's
recommendations for a user (recomputed from its checkpoint once per run and user); all are kept."""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, Slot
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import QWidget

from app.inspection.inspection_layout import PAIR_TIP, InspectionLayout
from app.inspection.user_table import USER_ROLE
from app.jobs import Job, JobManager, JobWork
from app.tab_pages import behind_another_tab
from engine.progress import CancelToken, ProgressCallback
from engine.workbench.inspection import (
    HRNN_MODELS,
    InspectionSnapshot,
    StoredRanks,
    UserRecommendations,
    UserSessions,
    load_inspection,
    load_stored_ranks,
    recommend_for_user,
    user_sessions,
)
from engine.workbench.workspaces import workspace_url

log = logging.getLogger(__name__)

NO_RUN = "(none)"


def stored_tied(ranks: StoredRanks | None, user: int, position: int) -> int | None:
    """The items tied with the next item at that step in the run's stored ranks; None where unknown."""
    if ranks is None or ranks.ranks is None or "tied" not in ranks.ranks:
        return None
    frame = ranks.ranks
    found = frame.loc[(frame["user"] == user) & (frame["position"] == position), "tied"]
    return int(found.iloc[0]) if len(found) and found.notna().iloc[0] else None


class InspectionPanel(InspectionLayout):
    """Inspection of one dataset at a time; call :meth:`set_dataset` and, when runs change, :meth:`refresh`."""

    def __init__(self, workspace_path: str | Path, parent: QWidget | None = None,
                 jobs: JobManager | None = None) -> None:
        super().__init__(parent)
        self._url = workspace_url(workspace_path)
        self._own_jobs = jobs is None
        self.jobs = jobs or JobManager(max_threads=2, parent=self)
        self._dataset_id: int | None = None
        self._snapshots: dict[int, InspectionSnapshot] = {}
        self._ranks: dict[int, StoredRanks] = {}
        self._recommendations: dict[tuple[int, int], UserRecommendations] = {}
        self._pending: dict[tuple, Job] = {}
        self._before_pair: list[int | None] | None = None
        self._reload_wanted = False  # runs changed while the dataset was being read
        self._when_shown = False  # the dataset changed while another tab was shown: read it when shown
        self._refresh_when_shown = False  # and its runs changed: read them again too
        self.snapshot: InspectionSnapshot | None = None
        self.user: int | None = None
        self.sessions: UserSessions | None = None
        self._build(self.jobs)
        self._connect()
        self._show_nothing("Select a dataset to inspect its users.")

    def _connect(self) -> None:
        self.filter_edit.textChanged.connect(self.user_proxy.setFilterFixedString)
        self.user_table.selectionModel().selectionChanged.connect(self._on_user_selected)
        for combo in self.run_combos:
            combo.currentIndexChanged.connect(self._on_runs_changed)
        self.pair_button.toggled.connect(self._on_pair_toggled)
        self.k_combo.currentIndexChanged.connect(self._on_k_changed)
        self.slider.valueChanged.connect(self._on_step_changed)
        self.previous_button.clicked.connect(self.previous_step)
        self.next_button.clicked.connect(self.next_step)

    # ----- public slots -----
    @Slot(int)
    def set_dataset(self, dataset_id: int) -> None:
        """Inspect ``dataset_id``. While another tab of the window is shown, the dataset is only
        noted: it is read and drawn when this panel is shown (a switch costs the window nothing)."""
        self._dataset_id = dataset_id
        if behind_another_tab(self):
            self._when_shown = True
            return
        if dataset_id in self._snapshots:
            self._show_snapshot(self._snapshots[dataset_id])
        else:
            self._show_nothing("Reading the dataset…")
            self._load(dataset_id)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._when_shown:
            self._when_shown, refresh = False, self._refresh_when_shown
            self._refresh_when_shown = False
            if self._dataset_id is not None:
                self.set_dataset(self._dataset_id)
                if refresh:
                    self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Runs changed: list the dataset's runs again (what was read or computed is kept); behind
        another tab, when this panel is next shown."""
        self._snapshots = {key: s for key, s in self._snapshots.items() if key == self._dataset_id}
        if behind_another_tab(self):
            self._when_shown = self._refresh_when_shown = True
            return
        if self._dataset_id is not None:
            loading = self._pending.get(("dataset", self._dataset_id))
            self._reload_wanted = loading is not None and loading.running
            self._load(self._dataset_id)

    def set_workspace(self, workspace_path: str | Path) -> None:
        self.shutdown()
        self._url = workspace_url(workspace_path)
        self._snapshots, self._ranks, self._recommendations = {}, {}, {}
        self.attention.clear()
        self._dataset_id = None
        self._show_nothing("Select a dataset to inspect its users.")

    def shutdown(self) -> None:
        """Stop this panel's background work (waits for it when the panel owns its job manager)."""
        for job in self._pending.values():
            job.discard()
        self._pending = {}
        if self._own_jobs:
            self.jobs.shutdown()

    def busy(self) -> bool:
        return any(job.running for job in self._pending.values())

    def chosen_runs(self) -> list[int]:
        return [combo.currentData() for combo in self.run_combos if combo.currentData() is not None]

    def choose_runs(self, run_ids: Sequence[int | None]) -> None:
        """Show these runs side by side (None: an empty column); releases the RNN-beside-HRNN toggle."""
        self._release_pair()
        self._apply_runs(run_ids)

    def _release_pair(self) -> None:
        self._before_pair = None
        self.pair_button.blockSignals(True)
        self.pair_button.setChecked(False)
        self.pair_button.blockSignals(False)

    def _apply_runs(self, run_ids: Sequence[int | None]) -> None:
        for combo, run_id in zip(self.run_combos, [*run_ids, None, None, None], strict=False):
            combo.blockSignals(True)
            combo.setCurrentIndex(max(0, combo.findData(run_id)) if run_id is not None else 0)
            combo.blockSignals(False)
        self._runs_updated()

    def select_user(self, user: int) -> bool:
        row = self.user_model.row_of(user)
        if row is None:
            return False
        index = self.user_proxy.mapFromSource(self.user_model.index(row, 0))
        if not index.isValid():
            self.filter_edit.clear()
            index = self.user_proxy.mapFromSource(self.user_model.index(row, 0))
        self.user_table.selectRow(index.row())
        self.user_table.scrollTo(index)
        return True

    @property
    def k(self) -> int:
        return int(self.k_combo.currentData())

    @property
    def step(self) -> int:
        return self.slider.value()

    @Slot()
    def next_step(self) -> None:
        self.slider.setValue(self.slider.value() + 1)

    @Slot()
    def previous_step(self) -> None:
        self.slider.setValue(self.slider.value() - 1)

    # ----- jobs -----
    def _submit(self, key: tuple, title: str, work: JobWork, on_success: Callable[[Any], None],
                visible: bool = False) -> None:
        if key in self._pending and self._pending[key].running:
            return
        job = self.jobs.submit(title, work, visible)
        job.succeeded.connect(on_success)
        job.failed.connect(self._on_failed)
        job.finished.connect(self._on_job_finished)
        self._pending[key] = job

    @Slot()
    def _on_job_finished(self) -> None:
        self._pending = {key: job for key, job in self._pending.items() if job.running}
        if self._reload_wanted and self._dataset_id is not None and ("dataset", self._dataset_id) not in self._pending:
            self._reload_wanted = False
            self._load(self._dataset_id)

    @Slot(object)
    def _on_failed(self, error: Exception) -> None:
        log.error("inspection: %s", error)
        self.status.setText(f"Something could not be computed: {error}")

    def _load(self, dataset_id: int) -> None:
        url, previous = self._url, self._snapshots.get(dataset_id)

        def work(progress: ProgressCallback, cancel: CancelToken) -> InspectionSnapshot:
            return load_inspection(url, dataset_id, previous, progress, cancel)

        self._submit(("dataset", dataset_id), f"Reading dataset {dataset_id} for inspection", work,
                     self._on_loaded, visible=True)

    @Slot(object)
    def _on_loaded(self, snapshot: InspectionSnapshot) -> None:
        if self._snapshots.get(snapshot.dataset_id) is snapshot:
            return  # the same runs as before
        self._snapshots[snapshot.dataset_id] = snapshot
        if snapshot.dataset_id == self._dataset_id:
            self._show_snapshot(snapshot)

    def _need_ranks(self, run_id: int) -> None:
        url = self._url

        def work(progress: ProgressCallback, cancel: CancelToken) -> StoredRanks:
            return load_stored_ranks(url, run_id, progress, cancel)

        self._submit(("ranks", run_id), f"Reading the ranks of run {run_id}", work, self._on_ranks)

    @Slot(object)
    def _on_ranks(self, ranks: StoredRanks) -> None:
        self._ranks[ranks.run_id] = ranks
        self._update_hits()
        self._show_columns()

    def _need_recommendations(self, run_id: int, user: int) -> None:
        if self.snapshot is None:
            return
        url, prepared = self._url, self.snapshot.prepared

        def work(progress: ProgressCallback, cancel: CancelToken) -> UserRecommendations:
            return recommend_for_user(url, run_id, user, prepared, progress, cancel)

        self._submit(("recommend", run_id, user), f"Recommendations of run {run_id}", work, self._on_recommendations)

    @Slot(object)
    def _on_recommendations(self, result: UserRecommendations) -> None:
        self._recommendations[(result.run_id, result.user)] = result
        if result.user == self.user and result.run_id in self.chosen_runs():
            self._show_columns()

    # ----- dataset, runs and users -----
    def _show_nothing(self, text: str) -> None:
        self.snapshot, self.user, self.sessions = None, None, None
        self.title.setText("Inspection")
        self.user_model.clear()
        self.timeline.clear()
        self._set_step_range(0)
        for column in self.columns:
            column.hide()
        self.attention.hide()
        self.status.setText(text)

    def _show_snapshot(self, snapshot: InspectionSnapshot) -> None:
        previous_runs = self.chosen_runs()
        same_dataset = self.snapshot is not None and self.snapshot.dataset_id == snapshot.dataset_id
        previous_user = self.user if same_dataset else None
        if not same_dataset:
            self.user, self.sessions = None, None
        self.snapshot = snapshot
        self.title.setText(f"Inspection — {snapshot.dataset_name}")
        for combo in self.run_combos:
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(NO_RUN, None)
            for run in snapshot.runs:
                combo.addItem(snapshot.labels[run.id], run.id)
            combo.blockSignals(False)
        pair = snapshot.rnn_and_hrnn()
        self.pair_button.setEnabled(pair is not None)
        self.pair_button.setToolTip(PAIR_TIP if pair is not None else
                                    f"{PAIR_TIP} (this dataset has no such pair of finished runs)")
        self.user_model.set_users(snapshot.users)
        self.user_table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
        self._fit_user_columns()
        kept = [run_id for run_id in previous_runs if any(run.id == run_id for run in snapshot.runs)]
        self._release_pair()
        if not kept and pair is not None:
            self.pair_button.blockSignals(True)
            self.pair_button.setChecked(True)
            self.pair_button.blockSignals(False)
        self._apply_runs(kept or list(pair or [run.id for run in snapshot.runs[:2]]))
        if not snapshot.runs:
            self.status.setText("No finished runs for this dataset: train some to compare their recommendations.")
        else:
            self.status.setText(f"{len(snapshot.users):,} users with a test session of 2 or more events; "
                                f"{len(snapshot.runs)} finished runs.")
        if previous_user is None or not self.select_user(previous_user):
            if self.user_proxy.rowCount():
                self.user_table.selectRow(0)

    @Slot()
    def _on_runs_changed(self) -> None:
        self._release_pair()
        self._runs_updated()

    def _runs_updated(self) -> None:
        chosen = self.chosen_runs()
        for run_id in chosen:
            if run_id not in self._ranks:
                self._need_ranks(run_id)
        self._update_hits()
        self._show_columns()

    @Slot(bool)
    def _on_pair_toggled(self, checked: bool) -> None:
        if self.snapshot is None:
            return
        if not checked:
            if self._before_pair is not None:
                self._apply_runs(self._before_pair)
            self._before_pair = None
            return
        current = [combo.currentData() for combo in self.run_combos]
        first = self.snapshot.run(current[0]) if current[0] is not None else None
        seed = first.seed if first is not None and first.model in ("rnn", *HRNN_MODELS) else None
        pair = self.snapshot.rnn_and_hrnn(seed, first.model if first is not None else None)
        if pair is None:
            self.pair_button.setChecked(False)
            return
        self._before_pair = current
        self._apply_runs(list(pair))

    def _update_hits(self) -> None:
        if self.snapshot is None:
            return
        columns = []
        for run_id in self.chosen_runs():
            ranks = self._ranks.get(run_id)
            tip = f"Hits@{self.k} of {self.snapshot.labels[run_id]} in the user's test session (stored ranks)"
            columns.append((f"Hits #{run_id}", tip, ranks.hits(self.k) if ranks is not None else None))
        self.user_model.set_hits(columns)
        self._fit_user_columns()
        if self.user is not None:
            self.select_user(self.user)

    def _fit_user_columns(self) -> None:
        """Each column as wide as its longest text (measured on the model's lists: asking every cell
        for its size stalled the window on large datasets)."""
        metrics = self.user_table.fontMetrics()
        header = self.user_table.horizontalHeader()
        for column in range(self.user_model.columnCount()):
            texts = self.user_model.column_texts(column)
            longest = sorted(texts[1:], key=len)[-20:]  # the widest text is among the longest
            width = max([header.fontMetrics().horizontalAdvance(texts[0]) + 24,
                         *(metrics.horizontalAdvance(text) + 16 for text in longest)])
            header.resizeSection(column, width)

    @Slot(QItemSelection, QItemSelection)
    def _on_user_selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        if self.snapshot is None or not selected.indexes():
            return
        user = int(selected.indexes()[0].data(USER_ROLE))
        if user == self.user:
            return
        self.user = user
        self.sessions = user_sessions(self.snapshot.prepared, user)
        self.timeline.show_user(self.sessions, self.snapshot.prepared.item_ids,
                                str(self.snapshot.prepared.user_ids[user]), self.snapshot.item_labels)
        self._set_step_range(len(self.sessions.test_items) - 1)
        self._show_columns()

    # ----- steps and columns -----
    def _set_step_range(self, n_steps: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(1, max(1, n_steps))
        self.slider.setValue(1)
        self.slider.blockSignals(False)
        for widget in (self.slider, self.previous_button, self.next_button):
            widget.setEnabled(n_steps > 1)
        self._update_step_label()

    def _update_step_label(self) -> None:
        if self.sessions is None or self.snapshot is None:
            self.step_label.setText("")
            return
        items = self.snapshot.item_labels
        step, n_steps = self.step, len(self.sessions.test_items) - 1
        consumed = ", ".join(str(items[i]) for i in self.sessions.test_items[:step])
        self.step_label.setText(f"Step {step} of {n_steps}: after the test session's first {step} event(s) "
                                f"({consumed}), predicting event {step + 1}: item "
                                f"<b>{items[self.sessions.test_items[step]]}</b>")
        self.previous_button.setEnabled(step > 1)
        self.next_button.setEnabled(step < n_steps)

    @Slot(int)
    def _on_step_changed(self, _step: int) -> None:
        self.timeline.set_step(self.step)
        self._update_step_label()
        self._show_columns()

    @Slot()
    def _on_k_changed(self) -> None:
        self._update_hits()
        self._show_columns()

    def _show_columns(self) -> None:
        chosen = self.chosen_runs()
        self.attention.show_for(self._url, self.snapshot, chosen, self.user, self.step)
        for index, column in enumerate(self.columns):
            column.setVisible(index < len(chosen) and self.user is not None)
        if self.snapshot is None or self.user is None or self.sessions is None:
            return
        items = self.snapshot.item_labels
        history = {int(i) for items_of_session in self.sessions.train_items for i in items_of_session}
        earlier = {int(i) for i in self.sessions.test_items[:self.step]}
        target = str(items[self.sessions.test_items[self.step]])
        for column, run_id in zip(self.columns, chosen, strict=False):
            title = self.snapshot.labels[run_id]
            result = self._recommendations.get((run_id, self.user))
            if result is None:
                column.show_waiting(title)
                self._need_recommendations(run_id, self.user)
            elif result.steps is None:
                ranks = self._ranks.get(run_id)
                stored = ranks.rank_at(self.user, self.step) if ranks is not None else None
                column.show_error(title, result.error or "unknown error", stored, target,
                                  stored_tied(ranks, self.user, self.step))
            else:
                column.show_step(title, result.steps[self.step - 1], self.k, items, history, earlier)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
