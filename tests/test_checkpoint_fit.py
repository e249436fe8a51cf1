"""A checkpoint that does not fit its run is refused even when its digest was forged too (issue
20): too few item ids, ids of another dataset, or another network than the run's configuration;
the message names the mismatch."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from sqlalchemy import text

from engine.cli.main import main
from engine.errors import CheckpointError
from engine.files import file_digest
from engine.runs import records
from engine.runs.checkpoints import checkpoint_location
from engine.runs.evaluate_run import evaluate_run
from engine.runs.execute import execute_run
from engine.runs.planning import plan_runs


def _forge(workspace, run_id: int, change) -> Path:
    """Rewrite the run's checkpoint through ``change(payload)`` and forge its digest in the run row."""
    path = checkpoint_location(workspace, records.get_run(workspace, run_id))
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)
    with workspace.session() as session:
        session.execute(text(f"UPDATE runs SET checkpoint_digest = '{file_digest(path)}' WHERE id = {run_id}"))
    return path


@pytest.fixture
def trained(small_dataset) -> tuple:
    workspace, dataset_id = small_dataset
    (run_id,) = plan_runs(workspace, dataset_id, "rnn", [0], overrides={"epochs": 1}, device="cpu")
    assert execute_run(workspace, run_id).status == "finished"
    return workspace, run_id


def test_too_few_item_ids_are_refused(trained, capsys) -> None:
    workspace, run_id = trained
    path = _forge(workspace, run_id, lambda payload: payload.update(item_ids=payload["item_ids"][:10]))
    with pytest.raises(CheckpointError, match=r"does not fit the run: it holds 10 item ids for a network of 1\d\d "
                                              "items"):
        evaluate_run(workspace, run_id)
    assert main(["evaluate", str(run_id), "--workspace", str(workspace.file_path)]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: ") and str(path) in error and "does not fit the run" in error, error


def test_item_ids_of_another_dataset_are_refused(trained) -> None:
    workspace, run_id = trained

    def shuffle(payload: dict) -> None:
        payload["item_ids"] = [payload["item_ids"][1], payload["item_ids"][0], *payload["item_ids"][2:]]

    _forge(workspace, run_id, shuffle)
    with pytest.raises(CheckpointError, match="its item 0 is '.*', the dataset's is"):
        evaluate_run(workspace, run_id)


def test_a_network_other_than_the_runs_is_refused(trained) -> None:
    workspace, run_id = trained
    with workspace.session() as session:  # the run says 50 units; the file holds the trained 100
        session.execute(text(f"UPDATE runs SET config = json_set(config, '$.session_units', 50) WHERE id = {run_id}"))
    with pytest.raises(CheckpointError, match=r"its network \(100 session units.*is not the run's \(50"):
        evaluate_run(workspace, run_id)
