"""Settings too big for the machine (issue 20): sizes of 10^9 are refused before a run is created,
against the memory budget, with the estimate; sizes that fit train."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.main import main
from engine.runs.models import build_config
from engine.runs.run_memory import format_size, training_bytes
from tests.workspace_state import snapshot


@pytest.fixture
def workspace_file(small_dataset, monkeypatch) -> Path:
    monkeypatch.setenv("HRNN_MEMORY_BUDGET", "14G")
    return Path(small_dataset[0].file_path)


@pytest.mark.parametrize(("setting", "label"), [
    ("session_units", "Session units"), ("batch_size", "Batch size"), ("n_extra_negatives", "Extra negatives"),
    ("embedding_size", "Embedding size"), ("user_units", "User units")])
def test_a_size_of_a_billion_is_refused_before_a_run_is_created(workspace_file: Path, capsys, setting: str,
                                                                label: str) -> None:
    before = snapshot(workspace_file)
    code = main(["train", "small", "--model", "hrnn-init", "--set", f"{setting}=1000000000", "--workspace",
                 str(workspace_file)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"error: HRNN Init with {label} 1,000,000,000 would need about ") and "internal" not in err
    assert "the memory budget is 14 GiB" in err and f"--set {setting}=VALUE" in err
    assert snapshot(workspace_file) == before


def test_tuning_and_comparing_with_a_fixed_size_too_big_are_refused(workspace_file: Path, capsys) -> None:
    before = snapshot(workspace_file)
    for command in (["tune", "small", "--model", "rnn"], ["compare", "small", "--models", "pop", "rnn"]):
        assert main([*command, "--set", "session_units=1000000000", "--workspace", str(workspace_file)]) == 2
        assert "RNN with Session units 1,000,000,000 would need about" in capsys.readouterr().err
    assert snapshot(workspace_file) == before
    assert not workspace_file.with_name("ws.optuna.sqlite").exists()


def test_the_estimate_is_small_for_the_paper_presets() -> None:
    large = build_config("hrnn-init", "large", {}, 0)
    assert training_bytes(large, 50_000) < 2 * 2**30  # 500 + 500 units on 50,000 items: about a GiB
    assert training_bytes(build_config("hrnn-init", None, {"session_units": 10**9}, 0), 100) > 2**60
    assert format_size(14 * 2**30) == "14 GiB" and format_size(12.4 * 2**40) == "12 TiB"
