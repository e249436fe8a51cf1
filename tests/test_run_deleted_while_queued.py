"""A queued run deleted while ``train --seeds 3`` works (issue 20): the other runs train, the
summary says the deleted one was deleted, and the command ends normally."""
from __future__ import annotations

from engine.cli.main import main
from engine.runs import records
from engine.workbench import training
from engine.workbench.managing import delete_runs


def test_the_other_runs_train_and_the_summary_names_the_deleted_one(small_dataset, capsys, monkeypatch) -> None:
    workspace, _ = small_dataset
    execute = training.execute_run

    def delete_the_last_after_the_first(workspace_, run_id, *args, **kwargs):
        run = execute(workspace_, run_id, *args, **kwargs)
        if run_id == 1:
            delete_runs(workspace_, [3])  # another program deletes the last queued run
        return run

    monkeypatch.setattr(training, "execute_run", delete_the_last_after_the_first)
    code = main(["train", "small", "--model", "pop", "--seeds", "3", "--workspace", str(workspace.file_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [(row[0], row[3 if row[1] == "Pop" else 1]) for row in rows] == [("1", "finished"), ("2", "finished"),
                                                                             ("3", "deleted")], out
    assert "deleted while it waited to train" in out
    assert [run.status for run in records.list_runs(workspace)] == ["finished", "finished"]
