"""The tune, tune-worker and compare commands: a study from the command line, resumed by running
it again; and every bad input refused with one line, a non-zero exit and nothing stored."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.registry.search_space import IntRange
from engine.runs.models import MODELS
from tests.workspace_state import snapshot


@pytest.fixture
def workspace_file(small_dataset) -> Path:
    workspace, _ = small_dataset
    return Path(workspace.file_path)


def _studies(path: Path) -> Path:
    return path.with_name(f"{path.stem}.optuna.sqlite")


def _state(path: Path) -> tuple:
    studies = _studies(path)
    return snapshot(path), snapshot(studies) if studies.exists() else None


def test_tune_runs_a_study_resumes_it_and_saves_the_best(workspace_file: Path, capsys) -> None:
    common = ["--workspace", str(workspace_file)]
    assert main(["tune", "small", "--model", "item-knn", "--trials", "2", "--sampler", "random", *common]) == 0
    captured = capsys.readouterr()
    assert "study 'tune-1-item-knn': item-knn on 'small'" in captured.err
    assert "space: n_neighbors 20..1000" in captured.err
    assert captured.err.count("  trial ") == 2 and "best: trial" in captured.out
    assert main(["tune", "small", "--model", "item-knn", "--trials", "3", "--save-preset", "knn-best", *common]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("  trial ") == 1 and "3 trials (3 complete)" in captured.out
    assert "saved the best configuration as preset 'knn-best'" in captured.out
    assert main(["tune-worker", "tune-1-item-knn", *common]) == 0  # the budget is spent: nothing to do
    assert "worker done: 0 trials" in capsys.readouterr().err


def _refused(arguments: list[str], workspace_file: Path, capsys, message: str) -> None:
    before = _state(workspace_file)
    code = main([*arguments, "--workspace", str(workspace_file)])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and message in err, err
    assert _state(workspace_file) == before


@pytest.mark.parametrize(("arguments", "message"), [
    (["tune", "small", "--model", "gru9"], "unknown model 'gru9'"),
    (["tune", "small", "--model", "rnn", "--metric", "hits@5"], "unknown metric 'hits@5'"),
    (["tune", "small", "--model", "pop"], "Pop declares no settings to search: an empty search space"),
    (["tune", "small", "--model", "item-knn", "--set", "n_neighbors=30", "--set", "popularity_fill=true"],
     "every searched setting fixed"),
    (["tune", "small", "--model", "rnn", "--trials", "0"], "a budget of 0 trials"),
    (["tune", "small", "--model", "rnn", "--time", "0"], "a budget of 0 seconds"),
    (["tune", "small", "--model", "rnn", "--time", "soon"], "cannot read 'soon' as a duration"),
    (["tune", "small", "--model", "rnn", "--workers", "0"], "--workers must be at least 1"),
    (["tune", "small", "--model", "rnn", "--validation-users", "0"], "--validation-users must be at least 1"),
    (["tune", "elsewhere", "--model", "rnn"], "elsewhere"),
    (["tune-worker", "no-such-study"], "has no studies yet"),
    (["compare", "small", "--models", "pop", "gru9"], "unknown model 'gru9'"),
    (["compare", "small", "--trials", "0"], "a budget of 0 trials"),
    (["compare", "small", "--budget", "0s"], "a budget of 0 seconds"),
    (["compare", "small", "--metric", "recall"], "unknown metric 'recall'"),
    (["compare", "small", "--seeds", "0"], "--seeds must be at least 1"),
    (["compare", "small", "--models", "pop", "--set", "epochs=2"], "no chosen model has the setting epochs"),
], ids=lambda value: value if isinstance(value, str) else " ".join(value[:4]))
def test_bad_input_is_refused_in_one_line_and_changes_nothing(workspace_file: Path, capsys, arguments: list[str],
                                                              message: str) -> None:
    _refused(arguments, workspace_file, capsys, message)
    assert not _studies(workspace_file).exists()


def test_an_impossible_search_space_is_refused(workspace_file: Path, capsys, monkeypatch) -> None:
    knn = MODELS["item-knn"]
    monkeypatch.setitem(MODELS._entries, "item-knn", dataclasses.replace(knn, search_space={
        "n_neighbors": IntRange(0, 50)}))
    _refused(["tune", "small", "--model", "item-knn"], workspace_file, capsys,
             "the search space of Item-KNN is impossible: Neighbours 0..50 includes 0")


def test_a_study_of_another_model_or_dataset_and_a_missing_study_are_refused(small_dataset, workspace_file: Path,
                                                                            capsys) -> None:
    from engine.data.preparation import PrepareSettings
    from engine.data.synthetic import SYNTHETIC_MAPPING
    from engine.workbench.importing import ImportRequest, import_log

    workspace, _ = small_dataset
    import_log(workspace, ImportRequest(workspace_file.with_name("small.parquet"), mapping=SYNTHETIC_MAPPING,
                                        settings=PrepareSettings(min_item_support=3), name="other"))
    common = ["--workspace", str(workspace_file)]
    assert main(["tune", "small", "--model", "item-knn", "--trials", "1", "--study", "mine", *common]) == 0
    capsys.readouterr()
    _refused(["tune", "other", "--model", "item-knn", "--study", "mine"], workspace_file, capsys,
             "study 'mine' exists for dataset 'small', not 'other'; choose another study name")
    _refused(["tune", "small", "--model", "rnn", "--study", "mine"], workspace_file, capsys,
             "study 'mine' exists for model 'item-knn', not 'rnn'; choose another study name")
    _refused(["tune", "small", "--model", "item-knn", "--study", "mine", "--metric", "mrr@5"], workspace_file,
             capsys, "exists for metric 'recall@5', not 'mrr@5'")
    _refused(["tune-worker", "theirs"], workspace_file, capsys, "no study named 'theirs' in this workspace (the "
             "studies: mine)")


def test_an_unreachable_storage_url_is_one_line(tmp_path: Path, capsys) -> None:
    pytest.importorskip("psycopg")
    url = "postgresql+psycopg://nobody@127.0.0.1:9/nothing?connect_timeout=2"
    for arguments in (["tune", "small", "--model", "rnn"], ["tune-worker", "s"], ["compare", "small"]):
        assert main([*arguments, "--workspace", url]) != 0
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("error: ") and "127.0.0.1" in err, err
