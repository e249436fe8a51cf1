"""Multi-fidelity tuning: Optuna's HyperbandPruner over epochs is the default pruner of tune and
compare for the networks; a study stored with the median rule keeps it; each trial records the
epochs it trained and the last rung it reached; a trial pruned at rung r trained
min_resource * reduction_factor**r epochs; the best configuration is retrained in full; the verdict
says how many trials each model got, and why a network got fewer than one Hyperband bracket needs.

The scores are faked (as in test_tuning) so that every outcome can be worked out by hand."""
from __future__ import annotations

import binascii
import dataclasses
import time

import optuna
import pytest

from engine.cli.main import build_parser
from engine.errors import Cancelled
from engine.progress import CancelToken
from engine.runs import records
from engine.tuning import worker as worker_module
from engine.tuning.comparisons import list_comparisons
from engine.tuning.storage import study_storage
from engine.tuning.study import (
    StudySpec,
    bracket_trials,
    describe_pruner,
    hyperband_brackets,
    make_pruner,
    open_for_work,
    rung_epochs,
    rung_of,
    rungs,
)
from engine.workbench.compare import CompareRequest, TrialTally, compare, trials_sentences
from engine.workbench.tuning import TuningRequest, best_configuration, prepare_study, run_study, study_view


def _request(dataset_id: int, trials: int, study: str = "hb", **changes) -> TuningRequest:
    return dataclasses.replace(TuningRequest(dataset_id, "rnn", trials, fixed={"epochs": 3}, device="cpu",
                                             sampler="random", patience=0, study=study, validation_users=20),
                               **changes)


def _falling_scores(monkeypatch) -> None:
    """Every validation score lower than every earlier one: 1/2, 1/3, 1/4 ... by call."""
    calls: list[int] = []

    def fake(network, model, sample, settings, metric, cancel=None):
        calls.append(len(calls))
        return 1.0 / (len(calls) + 1)

    monkeypatch.setattr(worker_module, "network_score", fake)


def _spec(**changes) -> StudySpec:
    return StudySpec(name="x", dataset_id=1, dataset_name="d", model="rnn", metric="recall@5", **changes)


def test_hyperband_rungs_brackets_and_costs_by_hand() -> None:
    spec = _spec(max_resource=10)  # the defaults: min 1 epoch, factor 3
    assert spec.pruner == "hyperband" and spec.hyperband
    assert hyperband_brackets(1, 10, 3) == 3 and rungs(spec) == [1, 3, 9]
    assert [rung_epochs(spec, rung) for rung in range(3)] == [1, 3, 9]  # 1 * 3**r
    assert bracket_trials(spec) == 9  # 3**(3 - 1): 9 start at 1 epoch, 3 go on to 3, 1 to 9
    assert [rung_of(spec, epochs) for epochs in (0, 1, 2, 3, 8, 9, 10)] == [None, 0, 0, 1, 1, 2, 2]
    assert rungs(_spec(max_resource=30)) == [1, 3, 9, 27] and bracket_trials(_spec(max_resource=30)) == 27
    assert rungs(_spec(max_resource=8, reduction_factor=2)) == [1, 2, 4, 8]
    assert "rungs at 1, 3 and 9 epochs of 10" in describe_pruner(spec)
    pruner = make_pruner(spec)
    assert isinstance(pruner, optuna.pruners.HyperbandPruner)
    assert (pruner._min_resource, pruner._max_resource, pruner._reduction_factor) == (1, 10, 3)
    # a baseline (no epochs) is scored once: nothing for Hyperband to prune
    assert isinstance(make_pruner(_spec()), optuna.pruners.NopPruner) and bracket_trials(_spec()) is None
    assert isinstance(make_pruner(_spec(pruner="median", max_resource=10)), optuna.pruners.MedianPruner)
    assert rungs(_spec(pruner="median", max_resource=10)) == []


def test_hyperband_is_the_default_of_tune_and_compare(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    assert TuningRequest(dataset_id, "rnn").pruner == "hyperband"
    assert CompareRequest(dataset_id).pruner == "hyperband"
    parser = build_parser()
    for command in (["tune", "small", "--model", "rnn"], ["compare", "small"]):
        assert parser.parse_args(command).pruner == "hyperband"
    spec = prepare_study(workspace, TuningRequest(dataset_id, "rnn", 1, study="d", device="cpu"))
    assert (spec.pruner, spec.min_resource, spec.reduction_factor, spec.max_resource) == ("hyperband", 1, 3, 10)
    sasrec = prepare_study(workspace, TuningRequest(dataset_id, "sasrec", 1, study="d2", device="cpu"))
    assert sasrec.max_resource == 30 and rungs(sasrec) == [1, 3, 9, 27]  # SASRec trains 30 epochs by default
    knn = prepare_study(workspace, TuningRequest(dataset_id, "item-knn", 1, study="d3"))
    assert knn.max_resource is None and not knn.hyperband


def test_a_study_stored_with_the_median_rule_resumes_with_it(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    # a spec stored before studies had a pruner field default reads as the median rule of then
    stored = {key: value for key, value in _spec(max_resource=3).to_json().items()
              if key not in ("pruner", "min_resource", "reduction_factor", "max_resource")}
    assert StudySpec.from_json(stored).pruner == "median"
    prepare_study(workspace, _request(dataset_id, 1, study="old", pruner="median"))
    resumed = prepare_study(workspace, _request(dataset_id, 2, study="old"))  # the request names hyperband
    assert resumed.pruner == "median" and resumed.n_trials == 2
    with study_storage(workspace) as storage:
        study, spec = open_for_work(storage, "old", None)
        assert spec.pruner == "median" and isinstance(study.pruner, optuna.pruners.MedianPruner)


def test_a_trial_pruned_at_rung_r_trained_min_resource_times_factor_to_the_r_epochs(small_dataset,
                                                                                    monkeypatch) -> None:
    workspace, dataset_id = small_dataset
    _falling_scores(monkeypatch)
    spec = prepare_study(workspace, _request(dataset_id, 6))
    assert rungs(spec) == [1, 3] and bracket_trials(spec) == 3
    # Optuna puts trial n of study "hb" in bracket crc32("hb_n") mod 5 < 3 ? 0 : 1 (allotments 3 and 2):
    # bracket 0 judges at 1 and 3 epochs, bracket 1 at 3 epochs only
    brackets = [0 if binascii.crc32(f"hb_{n}".encode()) % 5 < 3 else 1 for n in range(6)]
    assert brackets == [0, 1, 0, 1, 1, 0]
    trials = run_study(workspace, spec.name).view.trials
    # the first trial of each bracket leads every rung (it goes on); every later one scores lower
    # than the leader of its bracket at its first rung and is pruned there
    assert [t.state for t in trials] == ["complete", "complete", "pruned", "pruned", "pruned", "pruned"]
    assert [t.rung for t in trials] == [1, 1, 0, 1, 1, 0]
    assert [t.epochs for t in trials] == [3, 3, 1, 3, 3, 1]
    for trial in trials:
        trained = records.metric_series(workspace, trial.run_id, "train_loss")[0].tolist()
        assert trained == list(range(1, trial.epochs + 1))
        if trial.state == "pruned":  # its whole cost: min_resource * reduction_factor**rung epochs
            assert trial.stop == "pruned" and len(trained) == rung_epochs(spec, trial.rung) == 1 * 3 ** trial.rung
            epochs = f"{trial.epochs} epoch{'s' if trial.epochs > 1 else ''}"
            assert trial.reason.startswith(f"pruned at rung {trial.rung} ({epochs}): recall@5")
            assert records.get_run(workspace, trial.run_id).error.startswith(f"pruned at rung {trial.rung}")
    # only a complete trial is ever the best, retrained for its best epoch of a full training
    best = best_configuration(workspace, spec.name)
    assert best.trial.number == 0 and best.trial.epochs == 3 and best.config["epochs"] == best.trial.best_epoch == 1


def test_the_trial_log_shows_each_trials_rung(small_dataset, monkeypatch, capsys) -> None:
    from engine.cli.main import main

    workspace, _ = small_dataset
    _falling_scores(monkeypatch)
    code = main(["tune", "small", "--model", "rnn", "--trials", "3", "--set", "epochs=3", "--patience", "0",
                 "--sampler", "random", "--study", "hb", "--validation-users", "20", "--device", "cpu",
                 "--workspace", str(workspace.file_path)])
    assert code == 0
    err = capsys.readouterr().err
    assert "hyperband pruning (rungs at 1 and 3 epochs of 3, the best 1/3 go on; a bracket needs 3 trials)" in err
    lines = [line for line in err.splitlines() if line.startswith("  trial ")]
    assert lines[0].startswith("  trial 0 complete: recall@5 0.5000 at epoch 1 (3 epochs trained, rung 1) run ")
    assert lines[1].startswith("  trial 1 complete: recall@5 0.2000 at epoch 1 (3 epochs trained, rung 1) run ")
    assert lines[2].startswith("  trial 2 pruned: recall@5 0.1250 run ") and "(pruned at rung 0 (1 epoch): " in lines[2]


def test_compare_counts_each_models_trials_and_says_when_a_bracket_was_not_bought(small_dataset,
                                                                                  monkeypatch) -> None:
    workspace, dataset_id = small_dataset
    _falling_scores(monkeypatch)
    outcome = compare(workspace, CompareRequest(dataset_id, ("rnn", "item-knn"), n_trials=2, seeds=1, patience=0,
                                                fixed={"epochs": 3}, validation_users=20, device="cpu",
                                                search_seed=1))
    text = outcome.verdict.text
    pruned = sum(t.state == "pruned" for t in study_view(workspace, "compare-1-rnn").trials)
    counts = f"RNN 2 ({pruned} pruned)" if pruned else "RNN 2"
    assert f"Trials: Item-KNN 2, {counts}." in text
    assert ("RNN got 2 trials, fewer than the 3 one Hyperband bracket needs (rungs at 1 and 3 epochs, the best "
            "1/3 going on at each): the budget of 2 trials is smaller") in text
    assert "Item-KNN got" not in text


def test_a_time_budget_that_runs_out_is_said_and_the_best_is_retrained_in_full(small_dataset, monkeypatch) -> None:
    workspace, dataset_id = small_dataset
    budget = 6.0
    began = time.time()

    def score_after_the_deadline(network, model, sample, settings, metric, cancel=None):
        time.sleep(max(0.0, began + budget + 0.2 - time.time()))  # the first trial's first epoch ends past it
        return 0.3

    monkeypatch.setattr(worker_module, "network_score", score_after_the_deadline)
    outcome = compare(workspace, CompareRequest(dataset_id, ("rnn",), seconds=budget, seeds=1, patience=0,
                                                fixed={"epochs": 3}, validation_users=20, device="cpu"))
    (model,) = outcome.models
    trial = model.best_trial
    assert trial is not None and trial.epochs == 1 and trial.stop == "deadline" and trial.best_epoch == 1
    # its score is a 1-epoch one, yet the final runs train all 3 epochs, not the 1 it had time for
    (run_id,) = model.run_ids
    assert records.get_run(workspace, run_id).config["epochs"] == 3 and model.config["epochs"] == 3
    assert len(records.metric_series(workspace, run_id, "train_loss")[0]) == 3
    text = outcome.verdict.text
    assert "Trials: RNN 1." in text
    assert ("RNN got 1 trial, fewer than the 3 one Hyperband bracket needs (rungs at 1 and 3 epochs, the best 1/3 "
            "going on at each): the 6 s budget ran out after 1 trial") in text


def test_the_trials_sentences_by_hand() -> None:
    request = CompareRequest(1, seconds=300)
    tallies = {"rnn": TrialTally(3, 2, 9, (1, 3, 9), 3), "hrnn-init": TrialTally(9, 6, 9, (1, 3, 9), 3),
               "sknn": TrialTally(140)}
    first, second = trials_sentences(request, tallies)
    assert first == "Trials: RNN 3 (2 pruned), HRNN Init 9 (6 pruned), SKNN 140."
    assert second == ("RNN got 3 trials, fewer than the 9 one Hyperband bracket needs (rungs at 1, 3 and 9 epochs, "
                      "the best 1/3 going on at each): the 5 min 00 s budget ran out after 3 trials, so its tuning "
                      "is thin (a longer budget, or --trials 9, buys a bracket).")
    assert trials_sentences(request, {}) == []
    assert trials_sentences(CompareRequest(1, n_trials=9), tallies)[1].startswith(
        "RNN got 3 trials, fewer than the 9 one Hyperband bracket needs")
    assert "only 3 of its 9 trials finished" in trials_sentences(CompareRequest(1, n_trials=9), tallies)[1]
    assert trials_sentences(CompareRequest(1, n_trials=2), {"sknn": TrialTally(2)}) == ["Trials: SKNN 2."]


def test_a_comparison_stored_under_the_median_default_resumes_with_the_median_rule(small_dataset,
                                                                                  monkeypatch) -> None:
    workspace, dataset_id = small_dataset
    _falling_scores(monkeypatch)
    # what `compare` stored when the median rule was its default: pruner "median" in its request
    old = CompareRequest(dataset_id, ("rnn",), n_trials=2, seeds=1, patience=0, fixed={"epochs": 1},
                         validation_users=20, device="cpu", pruner="median")
    cancel = CancelToken()
    with pytest.raises(Cancelled, match="resumes it"):  # after its first trial
        compare(workspace, old, cancel=cancel, on_trial=lambda model, trial: cancel.cancel())
    (first,) = list_comparisons(workspace, dataset_id)
    assert first.status == "cancelled"
    # the same command today names no pruner: it is the same comparison, resumed with its median rule
    outcome = compare(workspace, dataclasses.replace(old, pruner=CompareRequest(dataset_id).pruner))
    assert outcome.comparison_id == first.id and outcome.resumed
    spec = study_view(workspace, f"compare-{first.id}-rnn").spec
    assert spec.pruner == "median" and not spec.hyperband
    assert "Trials: RNN 2." in outcome.verdict.text and "Hyperband" not in outcome.verdict.text
    # a new comparison of these models takes Hyperband
    fresh = compare(workspace, dataclasses.replace(old, pruner="hyperband", n_trials=1))
    assert fresh.comparison_id != first.id
    assert study_view(workspace, f"compare-{fresh.comparison_id}-rnn").spec.pruner == "hyperband"
