"""Checkpoints belong to their workspace: two workspace files in one folder never share one, a
checkpoint whose content is not the one its run saved is refused, and the checkpoints of a
workspace written before they had a folder of their own move into it on the first open, safely
even if that open is killed."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.cli.main import main
from engine.errors import CheckpointError
from engine.runs import records
from engine.runs.checkpoints import CheckpointMissing, checkpoint_location, open_run_checkpoint
from engine.runs.evaluate_run import evaluate_run
from engine.runs.execute import execute_run
from engine.runs.planning import plan_runs
from engine.storage.workspace import Workspace
from engine.workbench.workspaces import open_workspace


def _train(workspace: Workspace, dataset_id: int, model: str, epochs: int = 1) -> int:
    (run_id,) = plan_runs(workspace, dataset_id, model, [0], overrides={"epochs": epochs}, device="cpu")
    assert execute_run(workspace, run_id).status == "finished"
    return run_id


def test_two_workspaces_in_one_folder_keep_their_own_checkpoints(small_dataset, tmp_path: Path, capsys) -> None:
    """The issue's reproduction: copies a.sqlite and b.sqlite of one workspace, HRNN Init trained in
    a, RNN in b, both as run 1: evaluating run 1 of a scores a's HRNN, not b's RNN."""
    workspace, dataset_id = small_dataset
    workspace.close()
    folder = tmp_path / "shared"
    folder.mkdir()
    for name in ("a", "b"):
        shutil.copy(workspace.file_path, folder / f"{name}.sqlite")
    with Workspace(folder / "a.sqlite") as a:
        run_a = _train(a, dataset_id, "hrnn-init")
    with Workspace(folder / "b.sqlite") as b:
        run_b = _train(b, dataset_id, "rnn")
    assert run_a == run_b == 1
    assert (folder / "a.checkpoints" / "run-1.pt").exists() and (folder / "b.checkpoints" / "run-1.pt").exists()
    with Workspace(folder / "a.sqlite") as a:
        run = records.get_run(a, 1)
        assert open_run_checkpoint(a, run).config.model == "hrnn-init"
    assert main(["evaluate", "1", "--workspace", str(folder / "a.sqlite")]) == 0
    assert "HRNN Init, small" in capsys.readouterr().out


def test_a_checkpoint_overwritten_from_outside_is_refused(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    first = _train(workspace, dataset_id, "rnn")
    second = _train(workspace, dataset_id, "hrnn-init")
    run = records.get_run(workspace, first)
    shutil.copy(checkpoint_location(workspace, records.get_run(workspace, second)), checkpoint_location(workspace, run))
    with pytest.raises(CheckpointError, match=r"run 1's checkpoint .* is not the file the run saved"):
        open_run_checkpoint(workspace, run)
    with pytest.raises(CheckpointError, match="not the file the run saved"):
        evaluate_run(workspace, first)
    checkpoint_location(workspace, run).unlink()
    with pytest.raises(CheckpointMissing, match="stored metrics remain"):
        open_run_checkpoint(workspace, run)


def _legacy_workspace(small_dataset, folder: Path, models: list[str]) -> Path:
    """A workspace as versions before migration 0007 left it: checkpoints in the folder's shared
    ``checkpoints/`` folder, their absolute paths in the run rows, no digests."""
    workspace, dataset_id = small_dataset
    path = folder / "old.sqlite"
    folder.mkdir(exist_ok=True)
    workspace.close()
    shutil.copy(workspace.file_path, path)
    legacy = folder / "checkpoints"
    legacy.mkdir()
    with Workspace(path) as old:
        for model in models:
            run_id = _train(old, dataset_id, model)
            moved = legacy / f"run-{run_id}.pt"
            shutil.move(checkpoint_location(old, records.get_run(old, run_id)), moved)
            with old.engine.begin() as connection:
                connection.execute(text("UPDATE runs SET checkpoint_path = :p, checkpoint_digest = NULL WHERE id = :i"),
                                   {"p": str(moved), "i": run_id})
    shutil.rmtree(folder / "old.checkpoints")
    return path


def _stored(path: Path) -> list[tuple]:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, checkpoint_path, checkpoint_digest, error FROM runs ORDER BY id")).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_legacy_checkpoints_move_into_the_workspaces_folder(small_dataset, tmp_path: Path) -> None:
    path = _legacy_workspace(small_dataset, tmp_path / "w", ["rnn", "hrnn-init"])
    with open_workspace(path) as workspace:
        assert [(run_id, name) for run_id, name, _, _ in _stored(path)] == [(1, "run-1.pt"), (2, "run-2.pt")]
        assert all(digest is not None for _, _, digest, _ in _stored(path))
        assert not any((tmp_path / "w" / "checkpoints").iterdir())
        assert open_run_checkpoint(workspace, records.get_run(workspace, 2)).config.model == "hrnn-init"


def test_legacy_checkpoint_of_another_workspace_is_not_taken(small_dataset, tmp_path: Path) -> None:
    """Run 1's shared file was overwritten by another workspace's run 1 (another model): the run
    keeps its metrics, says why its checkpoint is gone, and the file stays for its owner."""
    path = _legacy_workspace(small_dataset, tmp_path / "w", ["rnn", "hrnn-init"])
    legacy = tmp_path / "w" / "checkpoints"
    shutil.copy(legacy / "run-2.pt", legacy / "run-1.pt")  # an HRNN Init where run 1 (RNN) expects its own
    with open_workspace(path) as workspace:
        (one, two) = _stored(path)
        assert one[1] is None and "overwritten by another workspace" in one[3]
        assert two[1] == "run-2.pt" and two[2] is not None
        assert (legacy / "run-1.pt").exists()
        with pytest.raises(CheckpointMissing):
            open_run_checkpoint(workspace, records.get_run(workspace, 1))


def test_relocation_killed_midway_is_finished_by_the_next_open(small_dataset, tmp_path: Path, monkeypatch) -> None:
    """Killed after copying the first file (before its row was updated), then after updating the
    row (before the old file was removed): the next open leaves one consistent state."""
    from engine.runs import checkpoints

    path = _legacy_workspace(small_dataset, tmp_path / "w", ["rnn", "rnn"])
    legacy = tmp_path / "w" / "checkpoints"

    class Killed(BaseException):
        pass

    real_remove = checkpoints.os.remove

    def remove_then_die(target) -> None:
        raise Killed()  # the row of run 1 is updated, its old file not yet removed

    monkeypatch.setattr(checkpoints.os, "remove", remove_then_die)
    with pytest.raises(Killed):
        open_workspace(path)
    monkeypatch.setattr(checkpoints.os, "remove", real_remove)
    assert (legacy / "run-1.pt").exists() and _stored(path)[0][1] == "run-1.pt"
    # and a copy that exists already while the row still points at the old file (killed before the update)
    shutil.copy(legacy / "run-2.pt", tmp_path / "w" / "old.checkpoints" / "run-2.pt")
    with open_workspace(path) as workspace:
        assert [row[1] for row in _stored(path)] == ["run-1.pt", "run-2.pt"]
        for run_id in (1, 2):
            assert open_run_checkpoint(workspace, records.get_run(workspace, run_id)).config.model == "rnn"
    assert not (legacy / "run-2.pt").exists()
