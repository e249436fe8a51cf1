"""Clean refusals instead of internal errors: a read-only or damaged workspace, a mistyped
workspace path, the same file imported twice at once, and what an import says it did."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine.cli.main import main
from engine.data.preparation import PrepareSettings
from engine.storage import workspace as workspace_module
from engine.storage.catalog import list_datasets
from engine.storage.workspace import Workspace
from engine.workbench import importing
from engine.workbench.importing import ImportRequest, import_log
from tests.conftest import PROJECT_ROOT
from tests.logs import session_rows, write_csv
from tests.workspace_state import snapshot

LOOSE = ["--min-item-support", "1", "--min-user-sessions", "2"]


def _log(folder: Path, name: str = "shop.csv") -> Path:
    rows: list[tuple] = []
    for user in ("u1", "u2", "u3"):
        for index in range(3):
            rows += session_rows(user, 1_500_000_000 + index * 100_000, ["a", "b", "c"])
    return write_csv(folder / name, rows)


def _imported(tmp_path: Path) -> Path:
    path = tmp_path / "ws.sqlite"
    assert main(["import", str(_log(tmp_path)), "--workspace", str(path), *LOOSE]) == 0
    return path


def test_read_only_workspace_reads_and_refuses_writes_saying_why(tmp_path: Path, capsys, monkeypatch) -> None:
    path = _imported(tmp_path)
    capsys.readouterr()
    before = snapshot(path)
    monkeypatch.setattr(workspace_module, "_writable", lambda _: False)  # as a file without write permission
    assert main(["datasets", "--workspace", str(path)]) == 0
    assert "shop" in capsys.readouterr().out
    assert main(["train", "shop", "--model", "pop", "--workspace", str(path)]) == 2
    error = capsys.readouterr().err
    assert "is read-only" in error and "reading works" in error and "internal error" not in error
    assert snapshot(path) == before


def _damage(path: Path, first_page: int, every: int = 1) -> None:
    size = path.stat().st_size // 4096
    with path.open("r+b") as handle:
        for page in range(first_page, size, every):
            handle.seek(page * 4096)
            handle.write(b"\xde\xad\xbe\xef" * 64)


def test_damaged_workspace_is_named_damaged_with_the_recover_command(tmp_path: Path, capsys) -> None:
    path = _imported(tmp_path)
    capsys.readouterr()
    _damage(path, first_page=1, every=2)
    code = main(["train", "shop", "--model", "pop", "--workspace", str(path)])
    error = capsys.readouterr().err
    assert code == 2, error
    assert "is damaged" in error and ".recover" in error and "sqlite3" in error
    assert "[SQL" not in error and "SELECT" not in error and "internal error" not in error


def test_mistyped_workspace_folder_is_not_created_by_a_reading_command(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "typo" / "ws.sqlite"
    for command in (["datasets"], ["runs"], ["stats", "1"], ["report", "1"]):
        assert main([*command, "--workspace", str(missing)]) == 2
        assert "there is no workspace at" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()
    assert main(["import", str(_log(tmp_path)), "--workspace", str(missing), *LOOSE]) == 0
    assert f"created a new workspace at {missing}" in capsys.readouterr().err


def test_import_that_loses_the_race_says_already_imported(tmp_path: Path, monkeypatch) -> None:
    """Two imports of one file at once: the loser's insert violates the unique (digest, mapping);
    it answers with the stored dataset instead of an IntegrityError."""
    log = _log(tmp_path)
    settings = PrepareSettings(min_item_support=1, min_user_sessions=2)
    with Workspace(tmp_path / "ws.sqlite") as workspace:
        first = import_log(workspace, ImportRequest(log, settings=settings))
        real_find = importing.catalog.find_log
        calls = []

        def not_yet_committed(*args):  # the winner's commit lands between the check and the insert
            calls.append(args)
            return None if len(calls) == 1 else real_find(*args)

        monkeypatch.setattr(importing.catalog, "find_log", not_yet_committed)
        second = import_log(workspace, ImportRequest(log, settings=settings))
        assert second.reused_dataset and second.dataset_id == first.dataset_id
        assert len(list_datasets(workspace)) == 1


def test_two_processes_importing_one_file_at_once(tmp_path: Path) -> None:
    log = _log(tmp_path)
    path = tmp_path / "ws.sqlite"
    Workspace(path).close()
    command = [sys.executable, str(PROJECT_ROOT / "main.py"), "import", str(log), "--workspace", str(path), *LOOSE]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    said = sorted("already imported" in out for out, _ in outputs)
    assert said == [False, True], outputs
    with Workspace(path) as workspace:
        assert len(list_datasets(workspace)) == 1


def test_import_with_given_sessions_says_so(tmp_path: Path, capsys) -> None:
    rows = [f"s{u}{k},u{u},{item},{1_500_000_000 + 100_000 * k + 60 * i}"
            for u in range(3) for k in range(3) for i, item in enumerate("abc")]
    log = tmp_path / "given.csv"
    log.write_text("session_id,user_id,item_id,timestamp\n" + "\n".join(rows) + "\n")
    assert main(["import", str(log), "--use-given-sessions", "--workspace", str(tmp_path / "ws.sqlite"), *LOOSE]) == 0
    out = capsys.readouterr().out
    assert "sessions: the log's own session column" in out and "idle gap" not in out
