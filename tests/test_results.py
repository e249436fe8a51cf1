"""Evaluated runs in the workspace: stored per-event ranks and per-session metrics, the report's
comparison and breakdowns, and the demo (tuning: tests/test_tuning*.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.cli.main import main
from engine.errors import InputError
from engine.evaluation.evaluator import EvaluationSettings
from engine.progress import CancelToken, no_progress
from engine.runs import records
from engine.runs.checkpoints import CheckpointMissing, checkpoint_location
from engine.runs.evaluate_run import evaluate_run, load_event_ranks, scorer_for_run
from engine.runs.execute import execute_run
from engine.runs.planning import plan_runs
from engine.storage.catalog import load_prepared
from engine.workbench.results import (
    DatasetResults,
    breakdown,
    collect_results,
    comparison,
    default_reference,
    load_results,
)


def _trained(workspace, dataset_id, model, seeds=(0,), **overrides) -> list[int]:
    run_ids = plan_runs(workspace, dataset_id, model, list(seeds), overrides=overrides, device="cpu")
    for run_id in run_ids:
        assert execute_run(workspace, run_id).status == "finished"
    return run_ids


def test_evaluation_stores_ranks_and_its_session_average_consistently(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    (run_id,) = _trained(workspace, dataset_id, "item-knn")
    evaluation = evaluate_run(workspace, run_id)
    events = load_event_ranks(workspace, evaluation.id)
    test = load_prepared(workspace, dataset_id).test
    # every test event but each session's first is a target
    assert len(events) == evaluation.n_events == test.n_events - test.n_sessions
    assert (events["position"] >= 1).all() and (events["position"] < events["session_length"]).all()
    assert evaluation.metrics["event"]["recall@5"] == pytest.approx((events["rank"] <= 5).mean())
    reciprocal = np.where(events["rank"] <= 10, 1 / events["rank"], 0.0)
    per_session = events.assign(rr=reciprocal).groupby("session")["rr"].mean()
    assert evaluation.metrics["session"]["mrr@10"] == pytest.approx(per_session.mean())
    # the same settings again: the stored evaluation, not a second one
    assert evaluate_run(workspace, run_id).id == evaluation.id


def test_missing_checkpoint_keeps_metrics_but_cannot_recompute(small_dataset) -> None:
    import os

    workspace, dataset_id = small_dataset
    (run_id,) = _trained(workspace, dataset_id, "rnn", epochs=1)
    evaluation = evaluate_run(workspace, run_id)
    run = records.get_run(workspace, run_id)
    os.remove(checkpoint_location(workspace, run))
    with pytest.raises(CheckpointMissing, match="stored metrics remain"):
        scorer_for_run(workspace, run, load_prepared(workspace, dataset_id))
    assert evaluate_run(workspace, run_id).id == evaluation.id  # stored results still served


def test_report_groups_seeds_and_marks_significance(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    for model in ("pop", "item-knn"):
        (run_id,) = _trained(workspace, dataset_id, model)
        evaluate_run(workspace, run_id)
    for run_id in _trained(workspace, dataset_id, "rnn", seeds=(0, 1), epochs=1):
        evaluate_run(workspace, run_id)
    results = collect_results(workspace, dataset_id, EvaluationSettings(ks=(5,)))
    assert results.models == ["Pop", "Item-KNN, popularity fill", "RNN, small, epochs=1"]
    assert comparison(results, [5])["reference"].iloc[0] == "RNN, small, epochs=1"  # the RNN, settings shown
    assert comparison(results, [5], reference="item-knn")["reference"].iloc[0] == "Item-KNN, popularity fill"  # by name
    with pytest.raises(InputError, match="no evaluated runs of 'hrnn-all'"):
        comparison(results, [5], reference="hrnn-all")
    assert set(comparison(results, [5], level="user")["mark"]) <= {"", "*"}
    table = comparison(results, [5], reference="Pop")
    rnn = table[(table["model"] == "RNN, small, epochs=1") & (table["metric"] == "recall@5")].iloc[0]
    seeds = results.runs[results.runs["model"] == "RNN, small, epochs=1"]["recall@5"]
    assert rnn["n_seeds"] == 2
    assert rnn["mean"] == pytest.approx(seeds.mean()) and rnn["std"] == pytest.approx(seeds.std())
    knn = table[(table["model"] == "Item-KNN, popularity fill") & (table["metric"] == "recall@5")].iloc[0]
    assert knn["mark"] == ("*" if knn["p_value"] < 0.01 else "")
    history = breakdown(results, "history", [5])
    assert set(history["group"]) <= {"short", "long"}
    pop_events = results.events["Pop"][0]
    long_count = history[(history["model"] == "Pop") & (history["group"] == "long")]["n_events"]
    assert long_count.sum() == (pop_events["history_length"] > 6).sum()


def test_default_reference_is_the_session_based_rnn_whatever_its_settings() -> None:
    def results_of(*rows: tuple[str, str]) -> DatasetResults:
        return DatasetResults(pd.DataFrame([{"model": label, "model_name": name} for label, name in rows]))

    several = results_of(("Pop", "pop"), ("RNN Concat, small", "rnn-concat"),
                         ("RNN, small, epochs=4", "rnn"), ("RNN, large", "rnn"))
    assert default_reference(several) == "RNN, small, epochs=4"
    assert default_reference(results_of(("Pop", "pop"), ("HRNN Init, small", "hrnn-init"))) == "Pop"


def test_a_compat_2017_run_appears_in_the_report_with_its_own_hit_rule(small_dataset) -> None:
    """The drift bug of the architecture issue: a run trained with compat_2017 is evaluated with
    hits counted as rank < K, so looking its evaluation up under the dataset's plain settings
    missed it, in report, Results and Inspection alike."""
    from engine.workbench.inspection import load_stored_ranks

    workspace, dataset_id = small_dataset
    (plain,) = _trained(workspace, dataset_id, "hrnn-init", epochs=1)
    (compat,) = _trained(workspace, dataset_id, "hrnn-init", epochs=1, compat_2017=True)
    for run_id in (plain, compat):
        evaluate_run(workspace, run_id)
    results = collect_results(workspace, dataset_id, EvaluationSettings(ks=(5,)))
    assert sorted(results.runs["run_id"]) == [plain, compat]
    row = results.runs[results.runs["run_id"] == compat].iloc[0]
    ranks = results.events[row["model"]][0]["rank"]
    assert row["recall@5"] == pytest.approx((ranks < 5).mean())  # the 2017 rule: "@5" is rank < 5
    assert "compat_2017=true" in row["model"]
    stored = load_stored_ranks(f"sqlite:///{workspace.display_name}", compat, no_progress, CancelToken())
    assert stored.error is None and stored.compat_2017
    snapshot = load_results(f"sqlite:///{workspace.display_name}", dataset_id, None, no_progress, CancelToken())
    assert snapshot.unevaluated_runs() == []  # the Results panel's "Evaluate N runs" has nothing left to do


def test_cli_report_prints_table_and_writes_csv(small_dataset, tmp_path, capsys) -> None:
    workspace, dataset_id = small_dataset
    for model in ("pop", "personal-pop"):
        (run_id,) = _trained(workspace, dataset_id, model)
        evaluate_run(workspace, run_id)
    csv = tmp_path / "table.csv"
    assert main(["report", str(dataset_id), "--k", "5", "--breakdown", "position", "--csv", str(csv),
                 "--workspace", workspace.display_name]) == 0
    out = capsys.readouterr().out
    assert "Personal Pop" in out and "beginning" in out and "Wilcoxon" in out
    assert "targets ranked among all items, with conservative ties (items scored like the target rank above it)" in out
    assert "Ties: targets scored exactly like at least one other item" in out
    table = pd.read_csv(csv)
    assert set(table["model"]) == {"Pop", "Personal Pop, popularity fill"}
    assert set(table["metric"]) == {"recall@5", "mrr@5", "precision@5"}
    assert set(table["ties"]) == {"conservative"} and set(table["candidates"]) == {"all items"}
    pop = table[table["model"] == "Pop"].iloc[0]
    assert 0 < pop["tied_share"] <= 1 and pop["mean_tied"] > 0  # Pop ties every item of equal count


@pytest.mark.slow
def test_demo_trains_and_compares_all_seven_models(capsys, tmp_path) -> None:
    assert main(["demo", "--epochs", "1", "--workspace", str(tmp_path / "demo.sqlite")]) == 0
    out = capsys.readouterr().out
    summary = out[out.index("Verdict (summary):\n") + len("Verdict (summary):\n"):out.index("\n\nThe full report")]
    lines = summary.splitlines()
    assert 3 <= len(lines) <= 6 and lines[0].startswith("Best: ")  # the summary first, at most 6 lines
    assert any(line.startswith("Ranks: conservative ties, among all items") for line in lines)
    assert lines[-1].endswith("python main.py compare 1 --workspace " + str(tmp_path / "demo.sqlite"))
    report_path = tmp_path / "demo-report.txt"
    assert "The full report (statistics, the comparison of " in out and str(report_path) in out
    report = report_path.read_text(encoding="utf-8")
    for label in ("Pop ", "Personal Pop, popularity fill ", "Item-KNN, popularity fill ", "RNN, small",
                  "RNN Concat, small", "HRNN Init, small", "HRNN All, small"):
        assert f"\n{label}" in report
    assert f"kept at {tmp_path / 'demo.sqlite'}" in out
    assert "By user history length" in report and "By position in the session" in report
    assert "\nBest: " in report and "untuned" in report and "python main.py compare 1" in report  # the whole verdict
    assert "\nRanks: targets ranked among all items, with conservative ties" in report
    assert len(out.splitlines()) < 40  # no tables on the screen


@pytest.mark.parametrize("candidates", [None, 20], ids=["all items", "20 candidates"])
def test_inspection_replays_the_stored_ranks(small_dataset, candidates: int | None) -> None:
    from engine.workbench.inspection import inspect_run_for_user, user_sessions

    workspace, dataset_id = small_dataset
    prepared = load_prepared(workspace, dataset_id)
    settings = EvaluationSettings(n_candidates=candidates)
    run_ids = _trained(workspace, dataset_id, "hrnn-init", epochs=1) + _trained(workspace, dataset_id, "personal-pop")
    for run_id in run_ids:
        events = load_event_ranks(workspace, evaluate_run(workspace, run_id, settings).id)
        if candidates:
            assert events["rank"].max() <= candidates + 1
        for user in events["user"].unique()[:5]:
            steps = inspect_run_for_user(workspace, run_id, int(user), k=5, prepared=prepared, settings=settings)
            stored = events[events["user"] == user]
            assert [s.target_rank for s in steps] == stored["rank"].tolist()
            assert [s.target_item for s in steps] == stored["item"].tolist()
            sessions = user_sessions(prepared, int(user))
            assert [s.consumed_item for s in steps] == sessions.test_items[:-1].tolist()
            assert all(len(s.top_items) == 5 for s in steps)
