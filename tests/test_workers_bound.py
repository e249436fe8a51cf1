"""Worker processes within what the machine can serve (issue 20): more workers than CPU cores,
or than the memory budget holds, are refused before anything is stored, saying why."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.cli.main import main
from tests.workspace_state import snapshot


@pytest.fixture
def workspace_file(small_dataset) -> Path:
    return Path(small_dataset[0].file_path)


def _refused(workspace_file: Path, capsys, arguments: list[str], message: str) -> None:
    before = snapshot(workspace_file)
    assert main([*arguments, "--workspace", str(workspace_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1, err
    assert snapshot(workspace_file) == before
    assert not workspace_file.with_name("ws.optuna.sqlite").exists()


def test_more_workers_than_cores_are_refused(workspace_file: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    message = "6 workers are more than this machine's 2 CPU cores: they would share the cores, no faster, each taking"
    _refused(workspace_file, capsys, ["tune", "small", "--model", "item-knn", "--trials", "1", "--workers", "6"],
             message)
    _refused(workspace_file, capsys, ["compare", "small", "--models", "pop", "--trials", "1", "--workers", "6"],
             message)


def test_more_workers_than_the_memory_budget_holds_are_refused(workspace_file: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    monkeypatch.setenv("HRNN_MEMORY_BUDGET", "1G")
    _refused(workspace_file, capsys, ["tune", "small", "--model", "item-knn", "--trials", "1", "--workers", "4"],
             "4 workers would need about 1.6 GiB of memory on this dataset (401 MiB each); the memory budget is "
             "1.0 GiB: choose at most 2")
