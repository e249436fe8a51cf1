"""Honest ranks across the workbench: stored evaluations carry their ties and serve every tie mode;
evaluations of earlier versions (optimistic ranks, no tie counts) are never mixed into a table of
another mode, are named, and are re-evaluated by one command; tuning scores conservatively, so a
model that gains only from ties does not win a study; a study scored with optimistic ties is not
resumed under conservative ones."""
from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import text

from engine.cli.main import main
from engine.errors import EmptyResultError, InputError
from engine.evaluation.evaluator import EvaluationSettings, evaluate
from engine.runs.evaluate_run import evaluate_run, find_evaluation, find_run_ranks
from engine.runs.execute import execute_run
from engine.runs.models import build_config, model_entry
from engine.runs.planning import plan_runs
from engine.runs.records import get_run
from engine.storage.catalog import load_prepared
from engine.tuning.storage import study_storage
from engine.tuning.study import find_study, study_spec
from engine.tuning.validation import sample_score, validation_sample
from engine.workbench.results import collect_results
from engine.workbench.tuning import TuningRequest, prepare_study, run_study

UNFILLED = {"popularity_fill": False}


def _trained(workspace, dataset_id, model, **overrides) -> int:
    (run_id,) = plan_runs(workspace, dataset_id, model, [0], overrides=overrides, device="cpu")
    assert execute_run(workspace, run_id).status == "finished"
    return run_id


def _as_before_tie_counts(workspace, evaluation_id: int) -> None:
    """Make a stored evaluation look like one of a version before migration 0011: optimistic ranks,
    NULL tie columns, no tie statistics."""
    with workspace.engine.begin() as connection:
        connection.execute(text("UPDATE event_ranks SET tied = NULL, floor = NULL WHERE evaluation_id = :e"),
                           {"e": evaluation_id})
        metrics = connection.execute(text("SELECT metrics FROM evaluations WHERE id = :e"),
                                     {"e": evaluation_id}).scalar()
        connection.execute(text("UPDATE evaluations SET metrics = json_remove(metrics, '$.ties') WHERE id = :e"),
                           {"e": evaluation_id})
        assert "ties" in metrics


def test_one_evaluation_serves_every_tie_mode_exactly(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    run_id = _trained(workspace, dataset_id, "markov", **UNFILLED)
    evaluation = evaluate_run(workspace, run_id)  # conservative, the default
    run = get_run(workspace, run_id)
    prepared = load_prepared(workspace, dataset_id)
    scorer = model_entry("markov").fit(build_config("markov", None, UNFILLED, 0), prepared.train, "cpu")
    for mode in ("standard", "median", "conservative"):
        found = find_run_ranks(workspace, run, EvaluationSettings(tie_mode=mode))
        assert found is not None and found.evaluation.id == evaluation.id  # no second evaluation stored
        direct = evaluate(scorer, prepared.train, prepared.test, EvaluationSettings(tie_mode=mode))
        assert found.frame["rank"].tolist() == direct.rank.tolist()
    assert find_evaluation(workspace, run_id, EvaluationSettings(tie_mode="standard")) is None


def test_old_optimistic_evaluations_are_named_never_mixed_and_re_evaluated(small_dataset, capsys) -> None:
    workspace, dataset_id = small_dataset
    old_run = _trained(workspace, dataset_id, "markov", **UNFILLED)
    new_run = _trained(workspace, dataset_id, "pop")
    old = evaluate_run(workspace, old_run, EvaluationSettings(tie_mode="standard"))
    _as_before_tie_counts(workspace, old.id)
    evaluate_run(workspace, new_run)

    conservative = collect_results(workspace, dataset_id)
    assert conservative.models == ["Pop"] and conservative.other_modes == {old_run: ["standard"]}
    optimistic = collect_results(workspace, dataset_id, EvaluationSettings(tie_mode="standard"))
    assert set(optimistic.models) == {"Pop", "Markov, popularity_fill=false"}  # Pop's converted, Markov's stored
    assert optimistic.settings.tie_mode == "standard" and not optimistic.ties_known

    ws = ["--workspace", workspace.display_name]
    assert main(["report", str(dataset_id), "--k", "5", *ws]) == 0
    out = capsys.readouterr().out
    assert "Markov" not in out.split("\n\n")[0]  # the table: conservative rows only
    assert (f"not shown: 1 run ({old_run}) evaluated only with optimistic ties, before tie counts were stored; a "
            f"table never mixes tie modes: evaluate them again with 'python main.py evaluate --dataset {dataset_id}'"
            in out)

    assert main(["evaluate", "--dataset", str(dataset_id), *ws]) == 0
    capsys.readouterr()
    again = collect_results(workspace, dataset_id)
    assert set(again.models) == {"Pop", "Markov, popularity_fill=false"} and not again.other_modes
    assert again.ties_known
    markov = again.runs.set_index("model").loc["Markov, popularity_fill=false"]
    stored_optimistic = optimistic.runs.set_index("model").loc["Markov, popularity_fill=false", "recall@5"]
    assert markov["recall@5"] < stored_optimistic and markov["tied_share"] > 0.3  # the tie bonus is gone


def test_a_report_of_runs_with_only_other_modes_refuses_and_says_why(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    run_id = _trained(workspace, dataset_id, "pop")
    _as_before_tie_counts(workspace, evaluate_run(workspace, run_id, EvaluationSettings(tie_mode="standard")).id)
    from engine.cli.evaluation_commands import print_report

    with pytest.raises(EmptyResultError, match="evaluated only with optimistic ties"):
        print_report(workspace, dataset_id, [5], EvaluationSettings(ks=(5,)), [])


def test_evaluate_needs_runs_or_a_dataset(small_dataset, capsys) -> None:
    workspace, _ = small_dataset
    assert main(["evaluate", "--workspace", workspace.display_name]) != 0
    assert "name the runs to evaluate (RUN_ID ...) or a dataset (--dataset DATASET)" in capsys.readouterr().err


def _study(dataset_id: int, trials: int, name: str) -> TuningRequest:
    return TuningRequest(dataset_id, "markov", trials, fixed={"popularity_fill": False}, device="cpu", pruner="none",
                         patience=0, study=name, sampler="random", validation_users=40)


def test_tuning_scores_conservatively_so_ties_win_nothing(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    spec = prepare_study(workspace, _study(dataset_id, 2, "ties"))
    assert spec.tie_mode == "conservative"
    trial = run_study(workspace, spec.name).view.trials[0]
    prepared = load_prepared(workspace, dataset_id)
    sample = validation_sample(prepared, 40, spec.sample_seed)
    scorer = model_entry("markov").fit(build_config("markov", None, trial.params | UNFILLED, 0), prepared.valid_train,
                                       "cpu")
    settings = EvaluationSettings(ks=(5,))
    conservative = sample_score(scorer, sample, settings, "recall@5")
    optimistic = sample_score(scorer, sample, dataclasses.replace(settings, tie_mode="standard"), "recall@5")
    assert trial.value == pytest.approx(conservative) and conservative < optimistic


def test_a_study_scored_with_optimistic_ties_is_not_resumed_under_conservative_ones(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    spec = prepare_study(workspace, _study(dataset_id, 1, "old"))
    with study_storage(workspace) as storage:
        study = find_study(storage, spec.name)
        assert study is not None
        stored = dataclasses.asdict(study_spec(study))
        del stored["tie_mode"]  # as studies stored before tie modes were recorded
        study.set_user_attr("workbench", stored)
        assert study_spec(study).tie_mode == "standard"
    with pytest.raises(InputError, match="scored its trials with optimistic ties .* choose another study name"):
        prepare_study(workspace, _study(dataset_id, 2, "old"))
