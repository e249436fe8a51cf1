"""The headless command line: import, datasets, stats, generate; one-line errors, no tracebacks."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine.cli.formatting import parse_duration
from engine.cli.main import main
from tests.conftest import PROJECT_ROOT, shared_log
from tests.logs import session_rows, write_csv


def _rows() -> list[tuple]:
    rows: list[tuple] = []
    for user in ("u1", "u2", "u3"):
        for index in range(3):
            rows += session_rows(user, 1_500_000_000 + index * 100_000, ["a", "b", "c"])
    return rows


LOOSE = ["--min-item-support", "1", "--min-user-sessions", "2"]


def test_import_then_datasets_and_stats(tmp_path: Path, capsys) -> None:
    workspace = str(tmp_path / "ws.sqlite")
    log = write_csv(tmp_path / "shop.csv", _rows())
    assert main(["import", str(log), "--workspace", workspace, *LOOSE]) == 0
    out = capsys.readouterr().out
    assert "dataset 1 'shop'" in out and "Users" in out and "Sessions" in out
    assert main(["import", str(log), "--workspace", workspace, *LOOSE]) == 0
    assert "already imported" in capsys.readouterr().out
    assert main(["datasets", "--workspace", workspace]) == 0
    listing = capsys.readouterr().out
    assert listing.count("shop") == 2  # name and source path, one dataset
    assert main(["stats", "shop", "--workspace", workspace]) == 0
    assert "Events" in capsys.readouterr().out
    assert main(["stats", "1", "--workspace", workspace]) == 0


def test_threshold_option_changes_the_sessions(tmp_path: Path, capsys) -> None:
    workspace = str(tmp_path / "ws.sqlite")
    log = write_csv(tmp_path / "gaps.csv", _rows())
    # events are 60 s apart: a 30 s threshold makes every event its own session -> too short
    assert main(["import", str(log), "--workspace", workspace, "--threshold", "30s", *LOOSE]) == 2
    assert "session length filter" in capsys.readouterr().err


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "main.py", "import", str(tmp_path / "missing.csv"), "--workspace",
                             str(tmp_path / "ws.sqlite")], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "missing.csv: no such file" in result.stderr
    assert not (tmp_path / "ws.sqlite").exists()  # the failed import leaves no empty workspace behind


def test_unknown_dataset_lists_the_available_ones(tmp_path: Path, capsys) -> None:
    from engine.storage.workspace import Workspace

    Workspace(tmp_path / "ws.sqlite").close()
    assert main(["stats", "nothing", "--workspace", str(tmp_path / "ws.sqlite")]) == 2
    assert "none yet: import a log first" in capsys.readouterr().err


def test_generate_and_import_synthetic(tmp_path: Path, capsys) -> None:
    workspace = str(tmp_path / "ws.sqlite")
    output = tmp_path / "demo.csv.gz"
    assert main(["generate", "--preset", "demo", "--output", str(output), "--import", "--workspace", workspace]) == 0
    out = capsys.readouterr().out
    assert output.exists() and "synthetic demo (seed 0)" in out


def test_real_movielens_import_prints_table1(tmp_path: Path, capsys) -> None:
    path = shared_log("ml100k_recbole/ml-100k.inter")
    assert main(["import", str(path), "--workspace", str(tmp_path / "ws.sqlite"), "--threshold", "30m"]) == 0
    out = capsys.readouterr().out
    assert "19,490" in out and "1,146" in out and "747" in out


def test_parse_duration_units() -> None:
    assert parse_duration("30m") == 1800 and parse_duration("1800") == 1800 and parse_duration("1.5h") == 5400
    assert parse_duration("2d") == 172_800 and parse_duration("90s") == 90
