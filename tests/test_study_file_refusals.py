"""Clean messages for the studies file (issue 20): a damaged or read-only ``.optuna.sqlite``, or a
leftover read-only ``-shm`` beside it, is named with the same words as the workspace's (the
``.recover`` command for a damaged one), never "internal error", and never named as the
workspace; a read-only workspace in a read-only folder is read without side files."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import optuna
import pytest
from sqlalchemy.exc import OperationalError

from engine.cli.main import main
from engine.errors import WorkspaceError
from engine.storage import workspace as workspace_module
from engine.tuning import storage as storage_module
from engine.tuning.storage import studies_file, studies_problem
from engine.workbench.tuning import study_view
from tests.workspace_state import snapshot

TUNE = ["tune", "small", "--model", "item-knn", "--sampler", "random"]


@pytest.fixture
def tuned(small_dataset, capsys) -> tuple[Path, Path]:
    workspace, _ = small_dataset
    path = Path(workspace.file_path)
    assert main([*TUNE, "--trials", "1", "--workspace", str(path)]) == 0
    capsys.readouterr()
    return path, studies_file(workspace)


def _refused(path: Path, capsys, *expected: str) -> str:
    before = snapshot(path)
    code = main([*TUNE, "--trials", "3", "--workspace", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "internal error" not in err, err
    assert all(text in err for text in expected), err
    assert f"workspace {path}" not in err
    assert snapshot(path) == before
    return err


def test_a_studies_file_that_is_not_a_database_is_named_with_the_recover_command(tuned, capsys) -> None:
    path, studies = tuned
    studies.write_bytes(b"these are not my studies " * 2000)
    _refused(path, capsys, f"the studies file {studies} is damaged", f'sqlite3 "{studies}" ".recover"')


def test_a_damaged_studies_file_is_named_damaged(tuned, capsys) -> None:
    path, studies = tuned
    with sqlite3.connect(studies) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = studies.stat().st_size // 4096
    with studies.open("r+b") as handle:
        for page in range(1, size):
            handle.seek(page * 4096)
            handle.write(b"\xde\xad\xbe\xef" * 1024)
    _refused(path, capsys, f"the studies file {studies} is damaged", ".recover")


def test_a_read_only_studies_file_or_its_leftover_shm_is_named(tuned, capsys, monkeypatch) -> None:
    path, studies = tuned
    shm = studies.with_name(f"{studies.name}-shm")
    monkeypatch.setattr(storage_module, "unwritable_part", lambda _: studies)  # as a file without permission
    _refused(path, capsys, f"the studies file {studies} is read-only (no permission to write {studies})",
             "reading its studies works")
    with workspace_module.Workspace(path) as workspace:  # reading works
        assert len(study_view(workspace, "tune-1-item-knn").trials) == 1
    monkeypatch.setattr(storage_module, "unwritable_part", lambda _: shm)  # the file's permission restored
    _refused(path, capsys, f"no permission to write {shm}", f"{shm.name} is left over by a program that used the "
             "studies: remove it when none does")


def test_an_error_of_the_studies_while_tuning_names_the_studies_file(tuned) -> None:
    path, studies = tuned
    error = optuna.exceptions.StorageInternalError("An exception is raised during the commit.")
    error.__cause__ = OperationalError("UPDATE trials", {}, sqlite3.OperationalError(
        "attempt to write a readonly database"))
    with workspace_module.Workspace(path) as workspace:
        message = studies_problem(workspace, error)
        assert message.startswith(f"the studies file {studies} is read-only") and "readonly" not in message
        with pytest.raises(WorkspaceError, match="the studies file .* is read-only"), \
                storage_module.studies_errors(workspace):
            raise error


def test_a_read_only_workspace_in_a_read_only_folder_is_read_without_side_files(small_dataset, capsys,
                                                                                monkeypatch) -> None:
    workspace, _ = small_dataset
    path = Path(workspace.file_path)
    with workspace.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    workspace.close()
    for side in workspace_module.side_files(path):
        side.unlink(missing_ok=True)
    monkeypatch.setattr(workspace_module, "_writable", lambda _: False)
    monkeypatch.setattr(workspace_module, "_folder_writable", lambda _: False)  # SQLite could not create one
    assert main(["datasets", "--workspace", str(path)]) == 0
    assert "small" in capsys.readouterr().out
    assert not any(side.exists() for side in workspace_module.side_files(path))
    assert main(["train", "small", "--model", "pop", "--workspace", str(path)]) == 2
    assert "is read-only" in capsys.readouterr().err
