"""compare resumes (issue 20, M4): running the same comparison again after a cancel or after its
process died continues its studies and keeps its tuned models and finished runs; a comparison
whose process died is marked interrupted after the heartbeat timeout, and its running trial is
failed and retried as a dead worker's is."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.cli.main import main
from engine.errors import Cancelled, InputError
from engine.progress import CancelToken
from engine.runs import records
from engine.storage.catalog import now_utc
from engine.tuning.comparisons import (
    create_comparison,
    get_comparison,
    list_comparisons,
    request_key,
)
from engine.workbench.compare import CompareRequest, compare, request_fields
from engine.workbench.tuning import study_view

PROJECT = Path(__file__).resolve().parents[1]


def test_a_cancelled_comparison_resumes_without_tuning_again(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    request = CompareRequest(dataset_id, ("item-knn", "sknn"), n_trials=3, seeds=1, validation_users=30,
                             sampler="random")
    cancel, seen = CancelToken(), []

    def cancel_in_sknn(model: str, trial) -> None:
        seen.append(model)
        if model == "sknn":
            cancel.cancel()

    with pytest.raises(Cancelled, match="running the same comparison again resumes it"):
        compare(workspace, request, cancel=cancel, on_trial=cancel_in_sknn)
    (first,) = list_comparisons(workspace, dataset_id)
    assert first.status == "cancelled" and first.best_runs["item-knn"]["tuned"]
    assert seen == ["item-knn"] * 3 + ["sknn"]
    resumed: list[str] = []
    outcome = compare(workspace, request, on_trial=lambda model, trial: resumed.append(model))
    assert outcome.comparison_id == first.id and outcome.resumed
    assert resumed == ["sknn"] * 2  # item-knn kept; sknn's study continued to its 3 trials
    assert [t.state for t in study_view(workspace, f"compare-{first.id}-sknn").trials] == ["complete"] * 3
    assert get_comparison(workspace, first.id).status == "finished"
    assert len(list_comparisons(workspace, dataset_id)) == 1


def test_a_running_comparison_of_the_same_request_is_refused(small_dataset, capsys) -> None:
    workspace, dataset_id = small_dataset
    request = CompareRequest(dataset_id, ("pop",), n_trials=1, seeds=1)
    running = create_comparison(workspace, dataset_id, ["pop"], "recall@5", {},
                                request_key(request_fields(request, dataset_id, ["pop"])))
    with pytest.raises(InputError, match=f"comparison #{running} of these models with this budget is running"):
        compare(workspace, request)
    assert main(["compare", "small", "--models", "pop", "--trials", "1", "--seeds", "1",
                 "--workspace", str(workspace.file_path)]) == 2
    assert "wait for it to end or cancel it first" in capsys.readouterr().err
    assert not [run for run in records.list_runs(workspace) if not run.validation]
    with workspace.session() as session:  # its process died long ago
        session.execute(text(f"UPDATE comparisons SET heartbeat_at = '2020-01-01' WHERE id = {running}"))
    assert get_comparison(workspace, running).status == "running"
    assert list_comparisons(workspace)[0].status == "interrupted"


def _training_trial(path: Path, study: str) -> bool:
    """Whether a trial of ``study`` is training its run (the run is running)."""
    try:
        with sqlite3.connect(path, timeout=1) as connection:
            return connection.execute("SELECT count(*) FROM runs WHERE study = ? AND status = 'running'",
                                      (study,)).fetchone()[0] > 0
    except sqlite3.OperationalError:
        return False


@pytest.mark.slow
def test_a_killed_comparison_is_interrupted_then_resumed(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    path = Path(workspace.file_path)
    studies = path.with_name(f"{path.stem}.optuna.sqlite")
    arguments = ["compare", "small", "--models", "item-knn", "rnn", "--trials", "2", "--seeds", "1", "--set",
                 "epochs=3", "--validation-users", "30", "--device", "cpu", "--sampler", "random", "--patience", "0",
                 "--pruner", "none", "--workspace", str(path)]
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    child = subprocess.Popen([sys.executable, "-m", "engine.cli.main", *arguments], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not _training_trial(path, "compare-1-rnn") and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child.poll() is None, "the comparison ended before its rnn trial could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    # the heartbeat timeout passes (its heartbeats are moved back instead of waiting)
    with workspace.session() as session:
        session.execute(text("UPDATE comparisons SET heartbeat_at = '2020-01-01'"))
        session.execute(text("UPDATE runs SET heartbeat_at = '2020-01-01' WHERE status = 'running'"))
    with sqlite3.connect(studies) as connection:
        connection.execute("UPDATE trial_heartbeats SET heartbeat = datetime('now', '-1 hour')")
    (stored,) = list_comparisons(workspace, dataset_id)
    assert stored.status == "interrupted" and "no heartbeat" in (stored.error or "")
    assert stored.best_runs["item-knn"]["tuned"] and "rnn" not in stored.best_runs
    tuned: list[str] = []
    request = CompareRequest(dataset_id, ("item-knn", "rnn"), n_trials=2, seeds=1, fixed={"epochs": 3},
                             validation_users=30, device="cpu", sampler="random", patience=0, pruner="none")
    started = now_utc()
    outcome = compare(workspace, request, on_trial=lambda model, trial: tuned.append(model))
    assert outcome.comparison_id == stored.id and outcome.resumed and set(tuned) == {"rnn"}
    states = [t.state for t in study_view(workspace, "compare-1-rnn").trials]
    assert states.count("failed") == 1 and states.count("complete") == 2, states
    dead = [t for t in study_view(workspace, "compare-1-rnn").trials if t.state == "failed"][0]
    assert records.get_run(workspace, dead.run_id).status == "failed"
    ended = get_comparison(workspace, stored.id)
    assert ended.status == "finished" and ended.verdict and ended.finished_at >= started
