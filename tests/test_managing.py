"""Managing a workspace: deleting datasets, runs and stored logs (what goes, what stays, nothing
left dangling), renaming, notes, queueing a failed run again, compacting; and the same from the
command line."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.data.preparation import PrepareSettings
from engine.errors import InputError
from engine.runs import records
from engine.runs.labels import model_label
from engine.storage.catalog import list_datasets, list_logs
from engine.storage.workspace import Workspace
from engine.workbench.datasets import dataset_details
from engine.workbench.exploration import prepare_log
from engine.workbench.managing import (
    compact_workspace,
    delete_dataset,
    delete_log,
    delete_runs,
    plan_dataset_deletion,
    plan_log_deletion,
    plan_run_deletion,
    rename_dataset,
    rename_run,
    retry_runs,
    set_dataset_note,
    set_run_note,
)
from engine.workbench.training import execute_runs, plan_runs


def _table_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                       "AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version'")]
        return {name: connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in tables}


def _dangling(path: Path) -> list:
    with sqlite3.connect(path) as connection:
        return connection.execute("PRAGMA foreign_key_check").fetchall()


def _evaluated_runs(workspace: Workspace, dataset_id: int) -> list[int]:
    """A Pop run (evaluated: stored ranks) and a queued RNN run with a checkpoint file of its own."""
    pop = plan_runs(workspace, dataset_id, "pop", [0])
    execute_runs(workspace, pop, lambda message: None)
    rnn = plan_runs(workspace, dataset_id, "rnn", [0], overrides={"epochs": 1})[0]
    folder = workspace.checkpoint_folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"run-{rnn}.pt").write_bytes(b"weights")
    records.start_run(workspace, rnn, "cpu")
    records.finish_run(workspace, rnn, f"run-{rnn}.pt", None)
    return [*pop, rnn]


def test_deleting_a_dataset_takes_its_runs_evaluations_checkpoints_and_unshared_log(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    path = Path(workspace.display_name)
    empty = {name: 0 for name in _table_counts(path)}
    run_ids = _evaluated_runs(workspace, dataset_id)
    plan = plan_dataset_deletion(workspace, dataset_id)
    assert plan.what == "dataset 'small'" and plan.refusal is None and plan.run_ids == tuple(run_ids)
    text = "; ".join(plan.parts)
    assert "prepared events" in text and "2 runs" in text and "1 evaluation" in text and "stored ranks" in text
    assert "1 checkpoint file" in text and "the raw log small.parquet" in text and "no other dataset uses it" in text
    outcome = delete_dataset(workspace, dataset_id)
    assert outcome.runs == 2 and outcome.files == 1
    assert not (workspace.checkpoint_folder / f"run-{run_ids[1]}.pt").exists()
    counts = _table_counts(path)
    assert {name: count for name, count in counts.items() if name != "saved_presets"} == \
        {name: 0 for name in empty if name != "saved_presets"}
    assert _dangling(path) == []
    with workspace.engine.connect() as connection:  # the pooled connections check foreign keys again
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_log_another_dataset_uses_stays(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    details = dataset_details(workspace, dataset_id)
    other = prepare_log(workspace.url, details.log_id, PrepareSettings(min_item_support=3), "other", lambda *_: None,
                        None)
    plan = plan_dataset_deletion(workspace, dataset_id)
    assert any("stays" in kept for kept in plan.kept) and not any("raw log" in part for part in plan.parts)
    delete_dataset(workspace, dataset_id)
    assert [d.id for d in list_datasets(workspace)] == [other.dataset_id]
    assert len(list_logs(workspace)) == 1 and _dangling(Path(workspace.display_name)) == []


def test_runs_are_deleted_with_what_they_recorded_but_not_while_training(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    pop, rnn = _evaluated_runs(workspace, dataset_id)
    plan = plan_run_deletion(workspace, [pop])
    assert plan.what.startswith(f"run #{pop} Pop") and "1 evaluation" in plan.parts[0]
    running = plan_runs(workspace, dataset_id, "pop", [1])[0]
    records.start_run(workspace, running, "cpu")
    assert "training" in (plan_run_deletion(workspace, [pop, running]).refusal or "")
    with pytest.raises(InputError, match=f"#{running} is training"):
        delete_runs(workspace, [pop, running])
    outcome = delete_runs(workspace, [pop, rnn])
    assert outcome.runs == 2 and outcome.files == 1
    assert [run.id for run in records.list_runs(workspace)] == [running]
    counts = _table_counts(Path(workspace.display_name))
    assert counts["evaluations"] == counts["event_ranks"] == 0 and _dangling(Path(workspace.display_name)) == []


def test_names_and_notes(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    run_id = plan_runs(workspace, dataset_id, "rnn", [0], overrides={"epochs": 2})[0]
    assert model_label(records.get_run(workspace, run_id)) == "RNN, small, epochs=2"
    rename_run(workspace, run_id, "  my best RNN ")
    assert model_label(records.get_run(workspace, run_id)) == "my best RNN"
    rename_run(workspace, run_id, "")
    assert model_label(records.get_run(workspace, run_id)) == "RNN, small, epochs=2"
    set_run_note(workspace, run_id, "lr too high?")
    assert records.get_run(workspace, run_id).note == "lr too high?"
    assert rename_dataset(workspace, dataset_id, " shop 2017 ") == "shop 2017"
    set_dataset_note(workspace, "shop 2017", "from the 2017 export")
    assert dataset_details(workspace, dataset_id).note == "from the 2017 export"
    set_dataset_note(workspace, dataset_id, "  ")
    assert dataset_details(workspace, dataset_id).note is None
    other = prepare_log(workspace.url, dataset_details(workspace, dataset_id).log_id,
                        PrepareSettings(min_item_support=3), "other", lambda *_: None, None)
    with pytest.raises(InputError, match="already named 'shop 2017'"):
        rename_dataset(workspace, other.dataset_id, "shop 2017")
    with pytest.raises(InputError, match="cannot be empty"):
        rename_dataset(workspace, dataset_id, " ")


def test_a_failed_run_is_queued_again_with_its_configuration(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    run_id = plan_runs(workspace, dataset_id, "rnn", [3], overrides={"epochs": 2})[0]
    records.start_run(workspace, run_id, "cpu")
    records.record_metric(workspace, run_id, "train_loss", 1, 0.5)
    records.fail_run(workspace, run_id, "the training process ended unexpectedly (signal 9)")
    config = records.get_run(workspace, run_id).config
    assert retry_runs(workspace, [run_id]) == [run_id]
    run = records.get_run(workspace, run_id)
    assert (run.status, run.error, run.started_at, run.config) == ("queued", None, None, config)
    assert records.metric_series(workspace, run_id, "train_loss")[0].size == 0
    with pytest.raises(InputError, match="only a failed or cancelled run"):
        retry_runs(workspace, [run_id])


def test_compacting_gives_the_deleted_space_back(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    delete_dataset(workspace, dataset_id)
    outcome = compact_workspace(workspace)
    assert outcome.bytes_before is not None and outcome.bytes_after is not None
    assert outcome.bytes_after < outcome.bytes_before


def test_a_stored_log_without_a_dataset_can_be_deleted(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    log_id = dataset_details(workspace, dataset_id).log_id
    assert plan_log_deletion(workspace, log_id).refusal is not None
    with pytest.raises(InputError, match="datasets were prepared from it"):
        delete_log(workspace, log_id)
    with workspace.engine.begin() as connection:  # as a failed preparation leaves it
        connection.exec_driver_sql("DELETE FROM dataset_events")
        connection.exec_driver_sql("DELETE FROM datasets")
    assert [stored.id for stored in list_logs(workspace, unprepared_only=True)] == [log_id]
    delete_log(workspace, log_id)
    assert list_logs(workspace) == [] and _dangling(Path(workspace.display_name)) == []


def test_the_command_line_lists_deletes_renames_and_compacts(small_dataset, capsys, monkeypatch) -> None:
    workspace, dataset_id = small_dataset
    where = ["--workspace", workspace.display_name]
    run_ids = _evaluated_runs(workspace, dataset_id)
    assert main(["runs", *where]) == 0 and main(["runs", "small", *where]) == 0
    assert main(["datasets", *where]) == 0
    listing = capsys.readouterr().out
    assert "Pop" in listing and "small" in listing
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["runs", "delete", str(run_ids[0]), *where]) == 2
    assert "confirm with --yes" in capsys.readouterr().err
    assert main(["rename", "run", str(run_ids[1]), "tuned RNN", *where]) == 0
    assert "is now labelled 'tuned RNN'" in capsys.readouterr().out
    assert main(["note", "dataset", "small", "the shop's 2017 export", *where]) == 0
    assert main(["note", "dataset", "small", *where]) == 0
    assert capsys.readouterr().out.count("the shop's 2017 export") == 2
    assert main(["runs", "delete", str(run_ids[0]), "--yes", *where]) == 0
    assert "1 run with their per-epoch metrics and 1 evaluation" in capsys.readouterr().out
    assert main(["rename", "dataset", "small", "shop", *where]) == 0
    assert main(["datasets", "delete", "shop", "--yes", *where]) == 0
    out = capsys.readouterr().out
    assert "the raw log small.parquet" in out and "deleted dataset 'shop': 1 runs" in out
    assert main(["workspace", "compact", *where]) == 0
    assert "MiB ->" in capsys.readouterr().out
    assert records.list_runs(workspace) == [] and list_datasets(workspace) == []
