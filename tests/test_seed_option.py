"""One way to give seeds (issue 20): ``train --set seed=7`` trains with seed 7 (as ``--seed 7``),
a seed out of range is refused pointing at ``--seed``, ``tune --set seed=N`` fixes the trials'
seed, and ``compare`` refuses ``--set seed``."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.main import main
from engine.runs import records
from engine.workbench.tuning import study_view
from tests.workspace_state import snapshot


@pytest.fixture
def workspace_file(small_dataset) -> Path:
    return Path(small_dataset[0].file_path)


def test_set_seed_trains_with_that_seed(small_dataset, workspace_file: Path) -> None:
    workspace, _ = small_dataset
    assert main(["train", "small", "--model", "pop", "--set", "seed=7", "--workspace", str(workspace_file)]) == 0
    (run,) = records.list_runs(workspace)
    assert run.seed == 7 and run.config["seed"] == 7


@pytest.mark.parametrize(("arguments", "message"), [
    (["--seed", "-5"], "seed -5 is out of range: a seed is a whole number from 0 to 9223372036854775807; give seeds "
                       "with --seed N"),
    (["--set", "seed=-5"], "seed -5 is out of range"),
    (["--seeds", "2", "--set", "seed=7"], "give the seeds one way: --seed N ..., --seeds N or --set seed=N"),
    (["--set", "seed=lucky"], "--set seed expects a whole number, not 'lucky'"),
])
def test_a_bad_seed_is_refused_pointing_at_the_right_option(workspace_file: Path, capsys, arguments: list[str],
                                                            message: str) -> None:
    before = snapshot(workspace_file)
    assert main(["train", "small", "--model", "pop", *arguments, "--workspace", str(workspace_file)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1, err
    assert "--set seed=VALUE" not in err
    assert snapshot(workspace_file) == before


def test_tune_fixes_its_trials_seed_and_compare_refuses_one(small_dataset, workspace_file: Path, capsys) -> None:
    workspace, dataset_id = small_dataset
    common = ["--workspace", str(workspace_file)]
    assert main(["tune", "small", "--model", "item-knn", "--trials", "1", "--set", "seed=7", *common]) == 0
    (trial,) = study_view(workspace, f"tune-{dataset_id}-item-knn").trials
    assert records.get_run(workspace, trial.run_id).seed == 7
    capsys.readouterr()
    assert main(["compare", "small", "--models", "pop", "--set", "seed=3", *common]) == 2
    assert "it takes no --set seed" in capsys.readouterr().err
