"""Tuning with Optuna in one process: search spaces as suggestions, the fixed validation sample,
trials as validation runs scored after every epoch, pruning, patience, failures pruned (never
fatal), cancel and resume, the best configuration as a preset, importances, and where studies live."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import optuna
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from engine.errors import InputError, TrainingDiverged
from engine.registry.search_space import Choice, FloatRange, IntRange
from engine.runs import records
from engine.runs.models import MODELS, model_entry
from engine.runs.planning import plan_runs
from engine.runs.saved_presets import list_saved_presets
from engine.storage.catalog import load_prepared
from engine.storage.workspace import MIGRATIONS_DIR
from engine.tuning import study as study_module
from engine.tuning import worker as worker_module
from engine.tuning.space import default_point, searched_space, suggest
from engine.tuning.storage import open_study_storage, studies_file
from engine.tuning.validation import validation_sample
from engine.workbench.tuning import (
    TuningRequest,
    best_configuration,
    parameter_importances,
    prepare_study,
    run_study,
    save_best_as_preset,
    study_view,
    validation_curve,
)

HEAD = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def _request(dataset_id: int, model: str = "rnn", trials: int = 2, **changes) -> TuningRequest:
    fixed = changes.pop("fixed", {"epochs": 2} if model_entry(model).neural else {})
    return dataclasses.replace(TuningRequest(dataset_id, model, trials, fixed=fixed, device="cpu", pruner="none",
                                             patience=0, study="s"), **changes)


def _scores(monkeypatch, values):
    """Replace the per-epoch validation score by ``values(call_index)`` (call index from 0)."""
    calls = []

    def fake(network, model, sample, settings, metric, cancel=None):
        calls.append(len(calls))
        return values(len(calls) - 1)

    monkeypatch.setattr(worker_module, "network_score", fake)
    return calls


def test_each_distribution_becomes_the_matching_suggestion() -> None:
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1))
    trial = study.ask()
    assert isinstance(suggest(trial, "rate", FloatRange(0.01, 0.5, log=True)), float)
    assert suggest(trial, "units", IntRange(10, 40, step=10)) in (10, 20, 30, 40)
    assert suggest(trial, "loss", Choice(("top1", "bpr"))) in ("top1", "bpr")
    distributions = trial.distributions
    assert distributions["rate"] == optuna.distributions.FloatDistribution(0.01, 0.5, log=True)
    assert distributions["units"] == optuna.distributions.IntDistribution(10, 40, step=10)
    assert distributions["loss"] == optuna.distributions.CategoricalDistribution(("top1", "bpr"))


def test_the_search_space_is_checked_against_the_settings() -> None:
    hrnn = model_entry("hrnn-init")
    space = searched_space(hrnn, {"batch_size": 50})
    assert "batch_size" not in space and {"learning_rate", "momentum", "dropout_user", "dropout_init",
                                           "dropout_session", "session_units", "loss", "n_extra_negatives",
                                           "sample_alpha"} <= set(space)
    assert set(space["loss"].values) == {"top1", "bpr", "top1-max", "bpr-max", "cross-entropy"}
    with pytest.raises(InputError, match="empty search space"):
        searched_space(model_entry("pop"), {})
    with pytest.raises(InputError, match="every searched setting fixed"):
        searched_space(model_entry("item-knn"), {"n_neighbors": 50, "popularity_fill": True})
    knn = model_entry("item-knn")
    with pytest.raises(InputError, match="impossible: Neighbours 0..10 includes 0"):
        searched_space(dataclasses.replace(knn, search_space={"n_neighbors": IntRange(0, 10)}), {})
    with pytest.raises(InputError, match="has no setting 'colour'"):
        searched_space(dataclasses.replace(knn, search_space={"colour": Choice(("red",))}), {})
    with pytest.raises(InputError, match="must be an integer"):
        searched_space(dataclasses.replace(knn, search_space={"n_neighbors": FloatRange(1.0, 5.0)}), {})


def test_the_first_trial_is_the_models_defaults_where_the_space_holds_them() -> None:
    rnn = model_entry("rnn")
    assert default_point(rnn, {"epochs": 2}) == {
        "learning_rate": 0.05, "momentum": 0.0, "dropout_session": 0.5, "batch_size": 50, "session_units": 100,
        "loss": "top1", "n_extra_negatives": 0, "sample_alpha": rnn.presets["small"].sample_alpha,
        "constrained_embedding": False, "dropout_embedding": 0.0}
    assert default_point(model_entry("hrnn-init"), {"batch_size": 64})["dropout_user"] == 0.0
    assert "batch_size" not in default_point(model_entry("hrnn-init"), {"batch_size": 64})
    knn = model_entry("item-knn")
    assert default_point(knn, {}) == {"n_neighbors": knn.presets["default"].n_neighbors, "popularity_fill": True}
    # a default outside its range, or not among the choices, is left to the sampler
    narrow = dataclasses.replace(knn, search_space={"n_neighbors": IntRange(1000, 2000)})
    assert default_point(narrow, {}) == {}
    assert Choice((0, 1)).contains(0) and not Choice((0, 1)).contains(False) and not Choice((0, 1)).contains(2)
    assert IntRange(10, 40, step=10).contains(30) and not IntRange(10, 40, step=10).contains(35)
    assert FloatRange(0.0, 1.0).contains(1) and not FloatRange(0.0, 1.0).contains(1.5)


def test_a_study_tries_the_defaults_first(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    spec = prepare_study(workspace, _request(dataset_id, "item-knn", trials=2, sampler="random"))
    first, second = run_study(workspace, spec.name).view.trials
    assert first.defaults and first.params == {"n_neighbors": MODELS["item-knn"].presets["default"].n_neighbors,
                                               "popularity_fill": True}
    assert not second.defaults
    # resuming the study does not queue the defaults again
    prepare_study(workspace, _request(dataset_id, "item-knn", trials=3, sampler="random"))
    assert [t.defaults for t in run_study(workspace, spec.name).view.trials] == [True, False, False]


def test_the_validation_sample_is_fixed_by_its_seed(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    prepared = load_prepared(workspace, dataset_id)
    every = validation_sample(prepared, None)
    some = validation_sample(prepared, 10, seed=4)
    assert every.n_users == every.n_users_available > 10 and some.n_users == 10
    assert np.array_equal(some.test.user, validation_sample(prepared, 10, seed=4).test.user)
    assert not np.array_equal(np.unique(some.test.user), np.unique(validation_sample(prepared, 10, seed=5).test.user))
    assert len(np.unique(some.test.user)) == 10 and some.train is prepared.valid_train
    assert some.n_predictions == (some.test.session_length - 1).sum() < every.n_predictions


def test_trials_are_validation_runs_scored_after_every_epoch(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    spec = prepare_study(workspace, _request(dataset_id, validation_users=20))
    run = run_study(workspace, spec.name)
    assert [t.state for t in run.view.trials] == ["complete", "complete"] and not run.cancelled
    for trial in run.view.trials:
        record = records.get_run(workspace, trial.run_id)
        assert record.validation and record.study == "s" and record.status == "finished"
        assert record.config["epochs"] == 2 and record.seed == 0
        metric, epochs, values = validation_curve(workspace, trial.run_id)
        assert metric == "recall@5" and epochs.tolist() == [1, 2]
        assert trial.value == pytest.approx(values.max()) and trial.best_epoch == int(epochs[values.argmax()])
    best = run.view.best
    assert best is not None and best.value == max(t.value for t in run.view.trials)
    assert np.array_equal(run.view.best_so_far(), np.fmax.accumulate([t.value for t in run.view.trials]))


def test_patience_stops_a_trial_that_completes_with_its_best_score(small_dataset, monkeypatch) -> None:
    workspace, dataset_id = small_dataset
    _scores(monkeypatch, lambda call: [0.1, 0.3, 0.2, 0.25, 0.9][call])
    spec = prepare_study(workspace, _request(dataset_id, trials=1, patience=2, fixed={"epochs": 5}))
    (trial,) = run_study(workspace, spec.name).view.trials
    assert trial.state == "complete" and trial.value == pytest.approx(0.3) and trial.best_epoch == 2
    assert "stopped early at epoch 4: no better score for 2 epochs" in trial.reason
    record = records.get_run(workspace, trial.run_id)
    assert record.status == "finished" and record.checkpoint_path is not None  # trained 4 of 5 epochs
    assert records.metric_series(workspace, trial.run_id, "train_loss")[0].tolist() == [1, 2, 3, 4]
    assert best_configuration(workspace, spec.name).config["epochs"] == 2  # retrained for its best epochs


def test_a_trial_below_the_median_is_pruned(small_dataset, monkeypatch) -> None:
    workspace, dataset_id = small_dataset
    monkeypatch.setattr(study_module, "STARTUP_TRIALS", 1)
    monkeypatch.setattr(study_module, "WARMUP_EPOCHS", 0)
    _scores(monkeypatch, lambda call: 0.5 if call < 2 else 0.1)  # the first trial's two epochs, then low
    spec = prepare_study(workspace, _request(dataset_id, pruner="median"))
    first, second = run_study(workspace, spec.name).view.trials
    assert first.state == "complete" and second.state == "pruned"
    assert second.reason.startswith("pruned at epoch 1") and second.value == pytest.approx(0.1)
    record = records.get_run(workspace, second.run_id)
    assert record.status == "failed" and record.error.startswith("pruned at epoch 1")
    frozen = optuna.load_study(study_name="s", storage=open_study_storage(workspace, create=False)).trials[1]
    assert frozen.intermediate_values == {1: pytest.approx(0.1)}


def test_failed_diverged_or_refused_trials_are_pruned_never_fatal(small_dataset, monkeypatch) -> None:
    workspace, dataset_id = small_dataset

    def diverge(call: int) -> float:
        raise TrainingDiverged("the model scores 3 of 40 validation targets as NaN or infinite")

    _scores(monkeypatch, diverge)
    spec = prepare_study(workspace, _request(dataset_id, fixed={"epochs": 1, "n_extra_negatives": 0}))
    trials = run_study(workspace, spec.name).view.trials
    assert [t.state for t in trials] == ["pruned", "pruned"]
    assert all("NaN or infinite" in t.reason for t in trials)
    assert records.get_run(workspace, trials[0].run_id).status == "failed"
    # settings the model refuses (a cross-setting check) prune the trial before any run exists
    monkeypatch.setattr(worker_module, "plan_runs", lambda *a, **k: (_ for _ in ()).throw(InputError("refused")))
    spec = prepare_study(workspace, _request(dataset_id, trials=3))
    third = run_study(workspace, spec.name).view.trials[2]
    assert third.state == "pruned" and third.reason == "settings refused: refused" and third.run_id is None


def test_a_baseline_trial_is_scored_once(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    spec = prepare_study(workspace, _request(dataset_id, "item-knn", trials=3, sampler="random"))
    trials = run_study(workspace, spec.name).view.trials
    assert [t.state for t in trials] == ["complete"] * 3 and all(t.best_epoch == 0 for t in trials)
    steps, values = records.metric_series(workspace, trials[0].run_id, "valid_recall@5")
    assert steps.tolist() == [0] and values[0] == pytest.approx(trials[0].value)
    importances = parameter_importances(workspace, spec.name)
    assert set(importances) <= {"n_neighbors", "popularity_fill"}
    assert not importances or math.isclose(sum(importances.values()), 1)


def test_a_cancelled_trial_fails_is_queued_again_and_the_study_resumes(small_dataset, monkeypatch) -> None:
    from engine.progress import CancelToken

    workspace, dataset_id = small_dataset
    cancel = CancelToken()

    def cancel_in_the_first_epoch(call: int) -> float:
        if call == 0:
            cancel.cancel()
        return 0.2

    _scores(monkeypatch, cancel_in_the_first_epoch)
    spec = prepare_study(workspace, _request(dataset_id, trials=1))
    run = run_study(workspace, spec.name, cancel=cancel)
    assert run.cancelled and [t.state for t in run.view.trials] == ["failed", "waiting"]
    failed, waiting = run.view.trials
    assert waiting.params == failed.params and failed.reason == "cancelled"
    assert records.get_run(workspace, failed.run_id).status == "cancelled"
    resumed = prepare_study(workspace, _request(dataset_id, trials=1))
    assert resumed.fixed == spec.fixed
    trials = run_study(workspace, spec.name).view.trials
    assert [t.state for t in trials] == ["failed", "complete"] and trials[1].params == failed.params
    # more trials for the same study: the budget counts every trial that did not fail
    prepare_study(workspace, _request(dataset_id, trials=2))
    assert [t.state for t in run_study(workspace, spec.name).view.trials] == ["failed", "complete", "complete"]


def test_the_best_configuration_becomes_a_preset(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    spec = prepare_study(workspace, _request(dataset_id))
    run_study(workspace, spec.name)
    best = save_best_as_preset(workspace, spec.name, "tuned-rnn")
    (name, model, config), = list_saved_presets(workspace)
    assert (name, model) == ("tuned-rnn", "rnn") and config["learning_rate"] == best.config["learning_rate"]
    assert config["epochs"] == best.trial.best_epoch
    (run_id,) = plan_runs(workspace, dataset_id, "rnn", [5], preset="tuned-rnn")
    planned = records.get_run(workspace, run_id).config
    assert planned["learning_rate"] == best.config["learning_rate"] and planned["seed"] == 5
    with pytest.raises(InputError, match="already exists"):
        save_best_as_preset(workspace, spec.name, "tuned-rnn")
    with pytest.raises(InputError, match="for rnn, not hrnn-init"):
        plan_runs(workspace, dataset_id, "hrnn-init", [0], preset="tuned-rnn")


def test_studies_live_beside_the_workspace_apart_from_its_tables(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    spec = prepare_study(workspace, _request(dataset_id, "item-knn", trials=1))
    run_study(workspace, spec.name)
    path = studies_file(workspace)
    assert path == Path(workspace.file_path).with_name("ws.optuna.sqlite") and path.exists()
    for location, ours, theirs in ((workspace.file_path, "runs", "trials"), (path, "trials", "runs")):
        engine = create_engine(f"sqlite:///{location}")
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        engine.dispose()
        assert ours in tables and theirs not in tables
        assert (version == HEAD) == (location == workspace.file_path)
    assert study_view(workspace, "s").spec.model == "item-knn"
    assert "item-knn" in MODELS
