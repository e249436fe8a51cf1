"""Reading and previewing are bounded in time and memory whatever the header or line: a header of
repeated names, of too many columns or too long, and a line too long are refused fast with their
size, by the preview (a file dropped on the window) as by the import."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import engine.data.sources as sources
from engine.data.preparation import PrepareSettings
from engine.errors import InputError
from engine.storage.workspace import Workspace
from engine.workbench.importing import ImportRequest, import_log, preview_log
from tests.conftest import PROJECT_ROOT
from tests.workspace_state import snapshot

LOOSE = PrepareSettings(min_item_support=1, min_session_length=2, min_user_sessions=2)
ROWS = "".join(f"u{k % 3},i{k % 4},{1_500_000_000 + (k // 6) * 100_000 + 60 * k}\n" for k in range(40))

_CHILD = """
import json, sys, time
from pathlib import Path
from engine.errors import InputError
from engine.storage.workspace import Workspace
from engine.workbench.importing import ImportRequest, import_log, preview_log
path, results = Path(sys.argv[1]), {}
for step in ("preview", "import"):
    started = time.monotonic()
    try:
        if step == "preview":
            preview_log(path)
        else:
            with Workspace(Path(sys.argv[2])) as workspace:
                import_log(workspace, ImportRequest(path))
        results[step] = None
    except InputError as exc:
        results[step] = str(exc)
    results[step + " seconds"] = time.monotonic() - started
results["peak"] = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps(results))
"""

linux_only = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")


def _refused_in_child(tmp_path: Path, path: Path) -> tuple[str | None, str | None]:
    """The preview's and the import's messages for ``path`` (None: no refusal) in a fresh
    interpreter, each in under 10 s and the whole within 400 MiB (the interpreter and libraries
    take about 150), the workspace unchanged."""
    workspace_file = tmp_path / "ws.sqlite"
    Workspace(workspace_file).close()
    before = snapshot(workspace_file)
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(workspace_file)], cwd=PROJECT_ROOT,
                          env=os.environ.copy(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["preview seconds"] < 10 and result["import seconds"] < 10, result
    assert result["peak"] < 400 * 2**20, result
    assert snapshot(workspace_file) == before
    return result["preview"], result["import"]


@linux_only
def test_an_800_kb_header_of_repeated_names_is_refused_fast_with_its_size(tmp_path: Path) -> None:
    path = tmp_path / "repeated.csv"
    path.write_text(",".join(["a"] * 400_000) + "\n" + ROWS)
    for message in _refused_in_child(tmp_path, path):
        assert message == (f"{path}, line 1: the header has 400,000 columns (799,999 bytes), more than the 20,000 a "
                           "log may have; is this an interaction log (a few columns: user, item, time...)?")


@linux_only
def test_a_header_of_15000_repeated_names_is_refused_fast(tmp_path: Path) -> None:
    """Under the column limit, but pandas renames repeated names in quadratic time (35 s for 40,000)."""
    path = tmp_path / "repeated.csv"
    path.write_text(",".join(["a"] * 15_000) + "\n" + ROWS)
    for message in _refused_in_child(tmp_path, path):
        assert message == (f"{path}, line 1: the header repeats column names ('a' 15,000 times) among its 15,000 "
                           "columns; give each column its own name")


@linux_only
def test_a_line_of_8_mib_without_a_break_is_refused_fast_within_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "one_line.csv"
    path.write_bytes(b"a," * (4 * 2**20))
    for message in _refused_in_child(tmp_path, path):
        assert message == (f"{path}, line 1: a line longer than 1 MiB (more than 1,048,576 bytes without a line "
                           "break); is this an interaction log (one event per line)?")


@linux_only
def test_a_long_data_line_is_refused_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "long_row.csv"
    path.write_text("user_id,item_id,timestamp\n" + ROWS + "u1,i1," + "9" * 3_000_000 + "\n" + ROWS)
    preview, imported = _refused_in_child(tmp_path, path)
    assert preview is None  # the preview reads the first 20 rows only
    assert imported == (f"{path}, line 42: a line longer than 1 MiB (more than 1,048,576 bytes without a line "
                        "break); is this an interaction log (one event per line)?")


def test_a_few_repeated_names_are_refused_naming_them(tmp_path: Path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text("user_id,item_id,timestamp,item_id,note,note,note\n" + ROWS.replace("\n", ",1,a,b,c\n"))
    with pytest.raises(InputError) as info:
        preview_log(path)
    assert str(info.value) == (f"{path}, line 1: the header repeats column names ('note' 3 times, 'item_id' 2 "
                               "times) among its 7 columns; give each column its own name")


def test_empty_names_from_trailing_delimiters_are_not_repeats(tmp_path: Path) -> None:
    path = tmp_path / "trailing.csv"
    path.write_text("user_id,item_id,timestamp,,\n" + ROWS.replace("\n", ",,\n"))
    with Workspace(tmp_path / "ws.sqlite") as workspace:
        assert import_log(workspace, ImportRequest(path, settings=LOOSE)).statistics["events"] > 0


def test_a_header_of_30000_columns_is_refused_with_its_size(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{index}" for index in range(30_000)) + "\n" + ROWS)
    started = time.monotonic()
    with pytest.raises(InputError, match=r"line 1: the header has 30,000 columns \(198,889 bytes\), more than the "
                                         r"20,000 a log may have"):
        preview_log(path)
    assert time.monotonic() - started < 10


def test_a_json_line_over_the_limit_is_refused_with_its_number(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sources, "MAX_JSON_LINE_BYTES", 4096)
    path = tmp_path / "big_line.jsonl"
    lines = [json.dumps({"user_id": f"u{k % 3}", "item_id": f"i{k % 4}", "ts": 1_500_000_000 + 60 * k})
             for k in range(30)]
    lines[25] = json.dumps({"user_id": "u1", "item_id": "x" * 10_000, "ts": 1_500_000_000})
    path.write_text("\n".join(lines) + "\n")
    with Workspace(tmp_path / "ws.sqlite") as workspace, pytest.raises(InputError) as info:
        import_log(workspace, ImportRequest(path, settings=LOOSE))
    assert str(info.value) == (f"{path}, line 26: a line longer than 4 KiB (more than 4,096 bytes without a "
                               "line break); is this a JSON lines log (one record per line)?")
