"""Every bad input named in the foundation issue: a clear message naming the file (and line or
column where it applies), and a workspace left exactly as it was."""
from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.data.preparation import PrepareSettings
from engine.errors import Cancelled, EmptyResultError, InputError
from engine.progress import CancelToken
from engine.storage.catalog import list_datasets, list_logs
from engine.storage.workspace import Workspace
from engine.workbench.importing import ImportRequest, import_log
from tests.conftest import PROJECT_ROOT
from tests.logs import session_rows, write_csv
from tests.workspace_state import snapshot

LOOSE = PrepareSettings(min_item_support=1, min_session_length=2, min_user_sessions=2)


def _good_rows() -> list[tuple]:
    rows: list[tuple] = []
    for user in ("u1", "u2"):
        for index in range(3):
            rows += session_rows(user, 1_500_000_000 + index * 100_000, ["a", "b", "c"])
    return rows


@pytest.fixture
def workspace(tmp_path: Path):
    """A workspace that already holds one dataset, so "unchanged" is a real check."""
    with Workspace(tmp_path / "ws.sqlite") as opened:
        import_log(opened, ImportRequest(write_csv(tmp_path / "good.csv", _good_rows()), settings=LOOSE))
        yield opened


def _refused(workspace: Workspace, path: Path, match: str, **request) -> str:
    before = snapshot(Path(workspace.display_name))
    with pytest.raises(InputError) as info:
        import_log(workspace, ImportRequest(path, **({"settings": LOOSE} | request)))
    message = str(info.value)
    assert str(path) in message or path.name in message, message
    assert match in message, message
    assert snapshot(Path(workspace.display_name)) == before
    return message


def test_empty_file(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    _refused(workspace, path, "is empty")


def test_header_only(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("user_id,item_id,timestamp\n")
    _refused(workspace, path, "no data rows")


def test_unmappable_columns(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "odd.csv", [("x", "y", 1_500_000_000)], header="alpha,beta,gamma")
    message = _refused(workspace, path, "cannot tell which columns")
    assert "alpha" in message


def test_missing_mapped_column(workspace: Workspace, tmp_path: Path) -> None:
    from engine.data.column_mapping import ColumnMapping

    path = write_csv(tmp_path / "log.csv", _good_rows())
    _refused(workspace, path, "no column named 'when'", mapping=ColumnMapping("user_id", "item_id", "when"))


def test_unparsable_timestamp_names_the_line(workspace: Workspace, tmp_path: Path) -> None:
    rows = _good_rows()
    rows[4] = ("u1", "b", "yesterday")
    message = _refused(workspace, write_csv(tmp_path / "times.csv", rows), "line 6")
    assert "'yesterday'" in message and "ISO-8601" in message


def test_mixed_types_in_an_id_column(workspace: Workspace, tmp_path: Path) -> None:
    rows = [(index % 3, "item", 1_500_000_000 + index) for index in range(10)]
    rows[7] = ("bob", "item", 1_500_000_007)
    _refused(workspace, write_csv(tmp_path / "mixed.csv", rows), "line 9: column 'user_id' mixes numbers and text")


def test_binary_garbage(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "garbage.csv"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    _refused(workspace, path, "not a text log")


def test_truncated_gzip(workspace: Workspace, tmp_path: Path) -> None:
    text = "user_id,item_id,timestamp\n" + "\n".join(f"u{i % 7},i{i % 13},{1_500_000_000 + i}" for i in range(20_000))
    data = gzip.compress(text.encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    _refused(workspace, path, "truncated")


def test_directory(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    _refused(workspace, folder, "is a directory")


def test_missing_and_unreadable_paths(workspace: Workspace, tmp_path: Path, monkeypatch) -> None:
    _refused(workspace, tmp_path / "nowhere.csv", "no such file")
    path = write_csv(tmp_path / "locked.csv", _good_rows())
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == path else real_access(p, mode))
    _refused(workspace, path, "permission denied")


def test_filters_that_empty_the_log_say_which_and_what_to_relax(workspace: Workspace, tmp_path: Path) -> None:
    """The refusal names the filter and the value to relax it to; no dataset is stored (the file's
    raw log, already stored for the dataset of the same file, is named to prepare again)."""
    path = write_csv(tmp_path / "small.csv", _good_rows())
    with pytest.raises(EmptyResultError, match=r"user filter \(>= 9 sessions\).*lower the min sessions per user to 3") \
            as info:
        import_log(workspace, ImportRequest(path, settings=PrepareSettings(
            min_item_support=1, min_session_length=2, min_user_sessions=9)))
    assert info.value.setting == "min_user_sessions"
    assert len(list_datasets(workspace)) == 1 and [stored.id for stored in list_logs(workspace)] == [info.value.log_id]


def test_cancelled_import_stores_nothing(workspace: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "again.csv", _good_rows() + [("u3", "a", 1)])
    before = snapshot(Path(workspace.display_name))
    token = CancelToken()

    def cancel_while_storing(fraction: float, message: str) -> None:
        if message.startswith("storing prepared"):
            token.cancel()

    with pytest.raises(Cancelled):
        import_log(workspace, ImportRequest(path, settings=LOOSE), cancel_while_storing, token)
    assert snapshot(Path(workspace.display_name)) == before


def test_killed_import_leaves_no_half_dataset(tmp_path: Path) -> None:
    """SIGKILL the CLI while it stores events: the workspace opens and holds nothing."""
    rng = np.random.default_rng(1)
    n = 400_000
    users = np.sort(rng.integers(0, 4000, n))
    times = 1_500_000_000 + np.cumsum(rng.integers(1, 4000, n))  # gaps over 30 min cut sessions
    path = tmp_path / "big.csv"
    path.write_text("user_id,item_id,timestamp\n" + "\n".join(
        f"{u},{i},{t}" for u, i, t in zip(users, rng.integers(0, 2000, n), times, strict=True)))
    workspace_file = tmp_path / "killed.sqlite"
    Workspace(workspace_file).close()
    before = snapshot(workspace_file)
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "main.py"), "import", str(path), "--workspace", str(workspace_file),
         "--min-item-support", "1", "--min-user-sessions", "2"],
        stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    deadline = time.monotonic() + 120
    assert process.stderr is not None
    for line in process.stderr:
        if "storing" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the import finished before it could be killed"
    with Workspace(workspace_file):
        pass
    assert snapshot(workspace_file) == before
