"""A dataset in use is locked (issue 20, M3): one that a live study tunes, a running comparison
compares or queued runs wait to train on cannot be deleted; the refusal names the job. A study
whose dataset is deleted anyway stops with a clear message instead of pruning every trial."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.cli.main import main
from engine.errors import InputError, NotFoundError
from engine.runs.planning import plan_runs
from engine.tuning.comparisons import create_comparison
from engine.tuning.storage import close_storage, studies_file
from engine.tuning.study import claim_trial
from engine.tuning.worker import open_worker, work
from engine.workbench.managing import delete_dataset, plan_dataset_deletion
from engine.workbench.tuning import TuningRequest, prepare_study
from tests.workspace_state import snapshot


def _refused(workspace, message: str, capsys) -> None:
    path = Path(workspace.file_path)
    before = snapshot(path)
    assert message in (plan_dataset_deletion(workspace, "small").refusal or "")
    with pytest.raises(InputError, match=message):
        delete_dataset(workspace, "small")
    assert main(["datasets", "delete", "small", "--yes", "--workspace", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: dataset 'small' cannot be deleted: {message}", err
    assert snapshot(path) == before


def test_a_dataset_a_live_study_tunes_cannot_be_deleted(small_dataset, capsys) -> None:
    workspace, dataset_id = small_dataset
    prepare_study(workspace, TuningRequest(dataset_id, "item-knn", 3, study="knn"))
    worker = open_worker(workspace, "knn")
    try:
        trial, _ = claim_trial(workspace, worker.storage, worker.study)  # a worker between two epochs
        assert trial is not None
        _refused(workspace, "study 'knn' is tuning it; cancel it first", capsys)
    finally:
        close_storage(worker.storage)
    with sqlite3.connect(studies_file(workspace)) as connection:  # its worker died long ago
        connection.execute("UPDATE trial_heartbeats SET heartbeat = datetime('now', '-1 hour')")
    assert plan_dataset_deletion(workspace, "small").refusal is None


def test_queued_runs_and_a_running_comparison_hold_their_dataset(small_dataset, capsys) -> None:
    workspace, dataset_id = small_dataset
    first, second = plan_runs(workspace, dataset_id, "pop", [0, 1])
    _refused(workspace, f"runs #{first}, #{second} are queued to train on it; cancel or delete them first", capsys)
    with workspace.session() as session:
        session.execute(text("UPDATE runs SET status = 'cancelled'"))
    comparison = create_comparison(workspace, dataset_id, ["pop"], "recall@5", {})
    _refused(workspace, f"comparison #{comparison} is running on it; cancel it first", capsys)


def test_a_study_whose_dataset_was_deleted_stops_saying_so(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    prepare_study(workspace, TuningRequest(dataset_id, "item-knn", 3, study="knn"))
    worker = open_worker(workspace, "knn")
    try:
        delete_dataset(workspace, "small")
        with pytest.raises(NotFoundError, match="dataset 'small' was deleted while study 'knn' tuned it"):
            work(worker)
        assert worker.study.get_trials() == [] or all(t.state.name != "PRUNED" for t in worker.study.get_trials())
    finally:
        close_storage(worker.storage)
