"""An import that fails into a workspace path that did not exist leaves no file behind, and its
message says so: nothing was stored. Into an existing workspace, the raw log of a log that the
filters empty is stored, and the message says that."""
from __future__ import annotations

from pathlib import Path

from engine.cli.main import main
from engine.storage.catalog import list_logs
from engine.storage.workspace import Workspace
from tests.logs import session_rows, write_csv

EMPTYING = ["--min-item-support", "1", "--min-session-length", "2", "--min-user-sessions", "9"]


def _log(tmp_path: Path) -> Path:
    rows = [row for user in ("u1", "u2") for index in range(3)
            for row in session_rows(user, 1_500_000_000 + index * 100_000, ["a", "b", "c"])]
    return write_csv(tmp_path / "small.csv", rows)


def test_filters_that_empty_the_log_into_a_new_workspace_store_nothing_and_say_so(tmp_path: Path, capsys) -> None:
    path, workspace = _log(tmp_path), tmp_path / "new" / "ws.sqlite"
    workspace.parent.mkdir()
    assert main(["import", str(path), "--workspace", str(workspace), *EMPTYING]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"error: {path}: the user filter (>= 9 sessions) removed every user"), error
    assert "stored, ready" not in error and "reuses the stored log" not in error, error
    assert error.endswith(f"; nothing was stored, and no workspace was created at {workspace} (change it with "
                          "--min-user-sessions N)"), error
    assert list(workspace.parent.iterdir()) == []


def test_a_refused_file_into_a_new_workspace_leaves_no_file(tmp_path: Path, capsys) -> None:
    path, workspace = tmp_path / "empty.csv", tmp_path / "new" / "ws.sqlite"
    path.write_text("user_id,item_id,timestamp\n")
    workspace.parent.mkdir()
    assert main(["import", str(path), "--workspace", str(workspace)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {path} has a header but no data rows"
    assert list(workspace.parent.iterdir()) == []


def test_filters_that_empty_the_log_into_an_existing_workspace_keep_its_raw_log(tmp_path: Path, capsys) -> None:
    path, workspace = _log(tmp_path), tmp_path / "ws.sqlite"
    Workspace(workspace).close()
    assert main(["import", str(path), "--workspace", str(workspace), *EMPTYING]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith("; the log is stored, ready to be prepared with other settings (change it with "
                          "--min-user-sessions N; importing the file again reuses the stored log)"), error
    with Workspace(workspace) as opened:
        assert [stored.n_events for stored in list_logs(opened)] == [18]
