"""Runs in the workspace: execution and records, heartbeat, failures, cancel, the JSON-lines
protocol the desktop app reads, and checkpoints that load without running code."""
from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
import torch
from sqlalchemy import update

from engine.runs import records
from engine.runs.checkpoints import checkpoint_location
from engine.runs.execute import execute_run
from engine.runs.planning import plan_runs
from engine.storage.catalog import load_prepared, now_utc
from engine.storage.schema import Run
from engine.training.checkpoint import load_checkpoint
from tests.conftest import PROJECT_ROOT


def test_neural_run_records_epochs_and_a_loadable_checkpoint(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    (run_id,) = plan_runs(workspace, dataset_id, "hrnn-init", [7], overrides={"epochs": 2}, device="cpu")
    assert records.get_run(workspace, run_id).status == "queued"
    run = execute_run(workspace, run_id)
    assert run.status == "finished" and run.device == "cpu" and run.error is None
    assert run.config["seed"] == 7 and run.config["epochs"] == 2 and run.config["batch_size"] == 50
    epochs, losses = records.metric_series(workspace, run_id, "train_loss")
    assert epochs.tolist() == [1, 2] and all(math.isfinite(v) for v in losses)
    assert len(records.metric_series(workspace, run_id, "epoch_seconds")[1]) == 2
    location = checkpoint_location(workspace, run)
    assert location == workspace.checkpoint_folder / f"run-{run_id}.pt" and run.checkpoint_digest is not None
    checkpoint = load_checkpoint(location)
    prepared = load_prepared(workspace, dataset_id)
    assert checkpoint.config.seed == 7 and list(checkpoint.item_ids) == list(prepared.item_ids)
    raw = torch.load(location, weights_only=True)  # plain tensors and JSON: no code
    assert json.loads(raw["config"])["model"] == "hrnn-init"


def test_baseline_run_finishes_without_checkpoint(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    (run_id,) = plan_runs(workspace, dataset_id, "item-knn", [0])
    run = execute_run(workspace, run_id)
    assert run.status == "finished" and run.checkpoint_path is None


def test_bad_setting_creates_no_run(small_dataset) -> None:
    from engine.errors import InputError

    workspace, dataset_id = small_dataset
    with pytest.raises(InputError, match=r"Session dropout must be in \[0, 1\) \(got 1.5\)"):
        plan_runs(workspace, dataset_id, "rnn", [0, 1], overrides={"dropout_session": 1.5})
    assert records.list_runs(workspace) == []


def test_diverging_run_is_marked_failed_with_the_epoch(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    (run_id,) = plan_runs(workspace, dataset_id, "rnn", [0], overrides={
        "epochs": 2, "learning_rate": 1e38, "loss": "cross-entropy"})
    run = execute_run(workspace, run_id)
    assert run.status == "failed" and "epoch" in run.error and "learning" in run.error


def test_the_issues_diverged_hrnn_fails_instead_of_scoring_well(small_dataset) -> None:
    """``train demo --model hrnn-init --set epochs=2 --set learning_rate=1e38 --set loss=top1`` used
    to finish with recall@5 = MRR@5 above a trained model's; now the run fails with the reason."""
    workspace, dataset_id = small_dataset
    (run_id,) = plan_runs(workspace, dataset_id, "hrnn-init", [0], overrides={
        "epochs": 2, "learning_rate": 1e38, "loss": "top1"}, device="cpu")
    run = execute_run(workspace, run_id)
    assert run.status == "failed" and "epoch 1" in run.error and "lower the learning rate" in run.error
    assert run.checkpoint_path is None


def test_evaluating_a_diverged_model_is_refused_and_stores_nothing(small_dataset) -> None:
    """A checkpoint whose scores overflow (saved before runs failed on it) is never scored."""
    from engine.errors import TrainingDiverged
    from engine.files import file_digest
    from engine.runs.evaluate_run import evaluate_run, find_evaluation
    from engine.training.checkpoint import save_checkpoint

    workspace, dataset_id = small_dataset
    (run_id,) = plan_runs(workspace, dataset_id, "rnn", [0], overrides={"epochs": 1}, device="cpu")
    execute_run(workspace, run_id)
    location = checkpoint_location(workspace, records.get_run(workspace, run_id))
    checkpoint = load_checkpoint(location)
    checkpoint.network.item_out.data[:, :-1] = 3e38  # every score overflows to +-inf
    save_checkpoint(location, checkpoint.network, checkpoint.config, checkpoint.item_ids, checkpoint.user_ids)
    with workspace.session() as session:
        session.execute(update(Run).where(Run.id == run_id).values(checkpoint_digest=file_digest(location)))
    with pytest.raises(TrainingDiverged, match="NaN or infinite: it has diverged"):
        evaluate_run(workspace, run_id)
    assert find_evaluation(workspace, run_id) is None


def test_run_without_heartbeat_is_shown_failed(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    (run_id,) = plan_runs(workspace, dataset_id, "pop", [0])
    records.start_run(workspace, run_id, "cpu")
    assert records.list_runs(workspace)[0].status == "running"
    with workspace.session() as session:
        session.execute(update(Run).where(Run.id == run_id).values(heartbeat_at=now_utc() - timedelta(minutes=5)))
    run = records.list_runs(workspace)[0]
    assert run.status == "failed" and "heartbeat" in run.error


def test_non_finite_metric_values_survive_sqlite(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    (run_id,) = plan_runs(workspace, dataset_id, "pop", [0])
    for step, value in enumerate([1.5, math.nan, math.inf, -math.inf]):
        records.record_metric(workspace, run_id, "x", step, value)
    _, values = records.metric_series(workspace, run_id, "x")
    assert values[0] == 1.5 and math.isnan(values[1]) and values[2] == math.inf and values[3] == -math.inf


def test_jsonl_protocol_and_sigterm_cancel(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    (run_id,) = plan_runs(workspace, dataset_id, "rnn", [0], overrides={"epochs": 500}, device="cpu")
    process = subprocess.Popen(
        [sys.executable, "main.py", "execute", str(run_id), "--jsonl", "--workspace", workspace.display_name],
        stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    assert process.stdout is not None
    events = []
    for line in process.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "epoch":
            process.send_signal(signal.SIGTERM)
            break
    events += [json.loads(line) for line in process.stdout]
    assert process.wait(timeout=20) == 130
    assert events[0] == {"protocol": 1, "event": "started", "device": "cpu", "run": run_id}
    epoch = next(e for e in events if e["event"] == "epoch")
    assert epoch["epoch"] == 1 and epoch["loss"] > 0 and epoch["seconds"] > 0
    assert events[-1] == {"protocol": 1, "event": "finished", "status": "cancelled", "error": "cancelled by the user",
                          "run": run_id}
    assert records.get_run(workspace, run_id).status == "cancelled"


def test_cli_train_several_seeds(small_dataset, capsys) -> None:
    from engine.cli.main import main

    workspace, dataset_id = small_dataset
    code = main(["train", str(dataset_id), "--model", "rnn", "--seeds", "2", "--set", "epochs=1",
                 "--workspace", workspace.display_name])
    assert code == 0
    table = capsys.readouterr().out
    assert table.count("finished") == 2
    runs = records.list_runs(workspace)
    assert [run.seed for run in runs] == [0, 1]


def test_same_seed_same_loss_curve(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    curves = []
    for _ in range(2):
        (run_id,) = plan_runs(workspace, dataset_id, "hrnn-all", [3], overrides={"epochs": 2}, device="cpu")
        execute_run(workspace, run_id)
        curves.append(records.metric_series(workspace, run_id, "train_loss")[1].tolist())
    assert curves[0] == curves[1]
