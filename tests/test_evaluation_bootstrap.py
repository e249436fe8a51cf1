"""The paired bootstrap over users behind the forest plot: relative differences of means and their
intervals, and the forest plot's data from a workspace's evaluated runs (a model, its twin, a
comparison's runs as a selection)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from engine.evaluation.bootstrap import paired_bootstrap, per_user_sums
from engine.progress import CancelToken, no_progress
from engine.workbench.comparison_view import ALL_RUNS, forest_data, run_selections
from engine.workbench.results import load_results
from tests.app_results_support import fake_evaluated_run


def test_per_user_sums_align_with_the_user_index() -> None:
    sums = per_user_sums(np.array([7, 3, 7, 9]), np.array([1.0, 0.5, 2.0, 0.0]), np.array([3, 5, 7, 9]))
    assert sums.tolist() == [0.5, 0.0, 3.0, 0.0]


def test_a_model_that_scores_a_fifth_more_for_every_user_is_twenty_percent_above() -> None:
    reference = np.random.default_rng(1).uniform(1, 3, size=200)
    (same, more) = paired_bootstrap(reference, np.column_stack([reference, 1.2 * reference]), n_resamples=500)
    assert same.relative == pytest.approx(0.0) and same.low == pytest.approx(0.0) and same.high == pytest.approx(0.0)
    assert more.relative == pytest.approx(0.2) and more.low == pytest.approx(0.2) and more.high == pytest.approx(0.2)
    assert more.above and not more.below and not same.above and not same.below


def test_the_interval_holds_the_estimate_and_narrows_with_more_users() -> None:
    rng = np.random.default_rng(0)

    def width(n_users: int) -> float:
        reference = rng.poisson(3, size=n_users).astype(float)
        model = reference + rng.normal(0.3, 1.0, size=n_users)
        (difference,) = paired_bootstrap(reference, model[:, None], n_resamples=1000, seed=2)
        assert difference.low < difference.relative < difference.high
        return difference.high - difference.low

    assert width(2000) < width(50) / 3
    # the same seed gives the same interval: the figure does not change between two draws
    reference, model = np.arange(1.0, 41.0), np.arange(1.0, 41.0)[::-1][:, None]
    assert paired_bootstrap(reference, model, seed=5) == paired_bootstrap(reference, model, seed=5)


def test_a_reference_without_hits_gives_no_interval() -> None:
    (difference,) = paired_bootstrap(np.zeros(10), np.ones((10, 1)))
    assert math.isnan(difference.relative) and math.isnan(difference.low) and not difference.above


def test_the_forest_plot_data_of_evaluated_runs(small_dataset) -> None:
    """RNN is the reference; HRNN Init is linked to it as its twin; SKNN's ranks are worse for every
    user; a comparison's runs form a selection of their own."""
    workspace, dataset_id = small_dataset
    n_users = 30
    user = np.repeat(np.arange(n_users), 2)
    common = dict(user=user, session=user, position=np.tile([1, 2], n_users), history=np.full(2 * n_users, 3),
                  session_length=3)
    reference_ranks = np.where(np.arange(2 * n_users) % 3 == 0, 30.0, 2.0)
    better = np.where(np.arange(2 * n_users) % 5 == 0, 30.0, 1.0)
    rnn = [fake_evaluated_run(workspace, dataset_id, "rnn", seed, reference_ranks, **common) for seed in (0, 1)]
    hrnn = fake_evaluated_run(workspace, dataset_id, "hrnn-init", 0, better, **common)
    sknn = fake_evaluated_run(workspace, dataset_id, "sknn", 0, np.full(2 * n_users, 40.0), **common)
    snapshot = load_results(workspace.url, dataset_id, None, no_progress, CancelToken())
    data = forest_data(snapshot, "recall@10", n_resamples=300)
    labels = {row.model_name: row.label for row in data.rows}
    assert data.reference == labels["rnn"] and data.n_users == n_users and data.metric_title == "Recall@10"
    # the largest difference first, a twin followed by its personalized models
    assert [row.model_name for row in data.rows] == ["rnn", "hrnn-init", "sknn"]
    rnn_row, hrnn_row, sknn_row = data.rows
    assert rnn_row.difference is None and rnn_row.n_seeds == 2
    assert rnn_row.mean == pytest.approx(np.mean(reference_ranks <= 10))
    assert hrnn_row.difference.relative == pytest.approx(np.mean(better <= 10) / np.mean(reference_ranks <= 10) - 1)
    assert hrnn_row.difference.above
    assert sknn_row.difference.relative == pytest.approx(-1.0) and sknn_row.difference.below
    (link,) = data.links
    assert (link.model, link.twin) == (labels["hrnn-init"], labels["rnn"])
    assert link.difference.relative == pytest.approx(hrnn_row.difference.relative)
    # a selection of runs, and another reference
    only = forest_data(snapshot, "mrr@5", reference=labels["sknn"], labels=[labels["sknn"], labels["hrnn-init"]],
                       n_resamples=100)
    assert only.reference == labels["sknn"] and len(only.rows) == 2 and only.links == ()
    assert math.isnan(only.row(labels["hrnn-init"]).difference.relative)  # SKNN never hits: no ratio
    (everything,) = run_selections(snapshot)
    assert everything.key == ALL_RUNS and set(everything.run_ids) == {*rnn, hrnn, sknn}
    compared = dataclasses.replace(snapshot, runs={run_id: dataclasses.replace(run, study="compare-4")
                                                   if run_id in (rnn[0], hrnn) else run
                                                   for run_id, run in snapshot.runs.items()})
    assert [(s.key, s.title) for s in run_selections(compared)] == [
        (ALL_RUNS, "All evaluated runs"), ("compare-4", "Fair comparison #4 (tuned)"),
        ("preset", "Preset runs (no comparison)")]
    tuned = forest_data(compared, "recall@10", selection=run_selections(compared)[1], n_resamples=100)
    assert [row.model_name for row in tuned.rows] == ["rnn", "hrnn-init"] and tuned.row(labels["rnn"]).n_seeds == 1
    assert tuned.selection == "Fair comparison #4 (tuned)"
