"""A dataset's evaluation setting (rank among all items or its N most popular): the default for
large catalogs, the `candidates` command, and automatic evaluations, `evaluate` and `report`
following it."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine.cli.main import main
from engine.runs.evaluate_run import dataset_settings, find_evaluation, load_event_ranks
from engine.storage import catalog
from engine.storage.catalog import LARGE_CATALOG_CANDIDATES, LARGE_CATALOG_ITEMS, default_candidates
from engine.storage.schema import Evaluation


def test_large_catalogs_default_to_the_papers_candidates() -> None:
    assert default_candidates(LARGE_CATALOG_ITEMS) is None
    assert default_candidates(LARGE_CATALOG_ITEMS + 1) == LARGE_CATALOG_CANDIDATES == 50_000


def test_a_small_dataset_ranks_among_all_items_until_told_otherwise(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    assert catalog.evaluation_candidates(workspace, dataset_id) is None
    catalog.set_evaluation_candidates(workspace, dataset_id, 7)
    assert dataset_settings(workspace, dataset_id).n_candidates == 7
    assert catalog.list_datasets(workspace)[0].evaluation_candidates == 7
    with pytest.raises(Exception, match="at least 1"):
        catalog.set_evaluation_candidates(workspace, dataset_id, 0)
    assert catalog.evaluation_candidates(workspace, dataset_id) == 7  # a refused change stores nothing


def _evaluations(workspace, run_id: int) -> list[int | None]:
    with workspace.session() as session:
        rows = session.scalars(select(Evaluation).where(Evaluation.run_id == run_id)).all()
        return sorted((json.loads(e.settings_key)["n_candidates"] or 0) for e in rows)


def test_training_evaluating_and_reporting_follow_the_datasets_setting(small_dataset, capsys) -> None:
    workspace, dataset_id = small_dataset
    where = ["--workspace", workspace.display_name]
    assert main(["candidates", str(dataset_id), "5", *where]) == 0
    assert "the 5 most popular items" in capsys.readouterr().out
    assert main(["datasets", *where]) == 0
    assert "top 5" in capsys.readouterr().out
    assert main(["train", str(dataset_id), "--model", "pop", *where]) == 0  # evaluated automatically
    run_id = 1
    assert _evaluations(workspace, run_id) == [5]
    evaluation = find_evaluation(workspace, run_id, dataset_settings(workspace, dataset_id))
    assert evaluation is not None
    assert load_event_ranks(workspace, evaluation.id)["rank"].max() <= 6  # 5 candidates and the target
    assert main(["report", str(dataset_id), *where]) == 0
    assert "ranked among the 5 most popular items and the target" in capsys.readouterr().out
    assert main(["evaluate", str(run_id), "--candidates", "all", *where]) == 0  # an explicit choice wins
    assert _evaluations(workspace, run_id) == [0, 5]
    assert main(["candidates", str(dataset_id), "7", *where]) == 0
    capsys.readouterr()
    assert main(["report", str(dataset_id), *where]) == 2  # nothing evaluated that way: says what to do
    assert "ranked among the 7 most popular items" in capsys.readouterr().err
    assert main(["candidates", str(dataset_id), "all", *where]) == 0
    capsys.readouterr()
    assert main(["report", str(dataset_id), *where]) == 0
    assert "ranked among all items" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # argparse refuses it with a message
        main(["evaluate", str(run_id), "--candidates", "0", *where])
    assert refused.value.code == 2 and "at least 1" in capsys.readouterr().err


def test_the_results_panel_reads_the_evaluations_of_the_datasets_setting(small_dataset) -> None:
    from app.results.results_panel import footnote
    from engine.progress import CancelToken, no_progress
    from engine.workbench.results import load_results

    workspace, dataset_id = small_dataset
    url = workspace.display_name
    catalog.set_evaluation_candidates(workspace, dataset_id, 5)
    assert main(["train", str(dataset_id), "--model", "pop", "--workspace", url]) == 0
    snapshot = load_results(url, dataset_id, None, no_progress, CancelToken())
    assert snapshot.settings.n_candidates == 5 and len(snapshot.rows) == 1
    assert snapshot.frames[1]["rank"].max() <= 6
    catalog.set_evaluation_candidates(workspace, dataset_id, None)  # no evaluation among all items yet
    again = load_results(url, dataset_id, snapshot, no_progress, CancelToken())
    assert again is not snapshot and again.settings.n_candidates is None and not again.rows
    assert "5 most popular items" in footnote("event", 5) and "most popular" not in footnote("event")
