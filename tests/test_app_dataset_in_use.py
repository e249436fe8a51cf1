"""Deleting a dataset that a job of the window tunes (issue 20, M3): the window says what holds
it and offers to cancel that job; nothing is deleted."""
from __future__ import annotations

import threading

from PySide6.QtWidgets import QMessageBox, QWidget

from app.jobs import JobManager
from app.workspace_actions import DATASET_PROPERTY, WorkspaceActions
from engine.tuning.storage import close_storage
from engine.tuning.study import claim_trial
from engine.tuning.worker import open_worker
from engine.workbench.datasets import list_datasets
from engine.workbench.tuning import TuningRequest, prepare_study


def test_deleting_a_dataset_being_tuned_offers_to_cancel_the_tuning(qtbot, app_settings, small_dataset,
                                                                  monkeypatch) -> None:
    workspace, dataset_id = small_dataset
    prepare_study(workspace, TuningRequest(dataset_id, "item-knn", 3, study="knn"))
    worker = open_worker(workspace, "knn")
    claim_trial(workspace, worker.storage, worker.study)  # its worker is at work
    jobs, window = JobManager(), QWidget()
    qtbot.addWidget(window)
    release = threading.Event()

    def tuning(progress, cancel) -> None:
        while not cancel.cancelled and not release.wait(0.05):
            pass

    job = jobs.submit("Tuning Item-KNN on small", tuning)
    job.setProperty(DATASET_PROPERTY, dataset_id)
    asked: list[str] = []

    def answer(_parent, title, text, *_args, **_kwargs):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    actions = WorkspaceActions(jobs, window)
    actions.set_workspace(workspace.url)
    try:
        actions.delete("dataset", [dataset_id])
        qtbot.waitUntil(lambda: bool(asked), timeout=20_000)
        assert "study 'knn' is tuning it" in asked[0] and "Cancel Tuning Item-KNN on small?" in asked[0]
        assert "--" not in asked[0]  # the window never names a command-line option
        qtbot.waitUntil(lambda: not job.running, timeout=10_000)
        assert [dataset.id for dataset in list_datasets(workspace)] == [dataset_id]
    finally:
        release.set()
        close_storage(worker.storage)
        assert jobs.shutdown()
