"""The popularity fill of the sparse models (kNN, rules, Markov, Personal Pop): the items a model
scores keep their scores and order; the others follow in training-popularity order below them;
no unscored item is tied (equal scores of scored items are the model's own ties and stay).
Declared once, searched by tuning, shown in labels; runs stored before the setting keep what they
did."""
from __future__ import annotations

import dataclasses
from datetime import datetime

import numpy as np
import pytest
import torch

from engine.baselines.popularity_fill import FILL_SETTING, fill_values
from engine.evaluation.evaluator import evaluate
from engine.evaluation.popularity import item_popularity
from engine.registry.search_space import Choice
from engine.runs.labels import model_label
from engine.runs.models import MODELS, build_config, config_from_json
from engine.runs.records import RunSummary
from engine.storage.catalog import load_prepared

torch.set_num_threads(1)

#: Every model with the fill: the sparse models.
FILLED = [entry.name for entry in MODELS if FILL_SETTING in {f.name for f in dataclasses.fields(entry.config_type)}]


def test_the_sparse_models_have_the_fill_and_the_others_do_not() -> None:
    assert set(FILLED) == {"personal-pop", "item-knn", "sknn", "v-sknn", "stan", "sr", "markov", "v-sknn-ebr",
                           "stan-ebr", "sr-br"}
    for name in FILLED:
        entry = MODELS[name]
        assert getattr(entry.presets[entry.default_preset], FILL_SETTING) is True  # the default: on
        assert entry.search_space[FILL_SETTING] == Choice((True, False))  # tuning searches it


def test_fill_values_by_hand() -> None:
    """Popularity [5, 1, 5, 3, 0]: order 0, 2 (equal counts: lower code first), 3, 1, 4; values
    -1/6 .. -5/6 in that order: distinct, below any positive score."""
    values = fill_values(np.array([5, 1, 5, 3, 0]))
    assert values.tolist() == pytest.approx([-1 / 6, -4 / 6, -2 / 6, -3 / 6, -5 / 6])


@pytest.mark.parametrize("model", FILLED)
def test_scored_items_keep_their_order_and_the_rest_follow_popularity_untied(small_dataset, model: str) -> None:
    workspace, dataset_id = small_dataset
    prepared = load_prepared(workspace, dataset_id)
    train, test = prepared.train, prepared.test
    entry = MODELS[model]
    plain = entry.fit(build_config(model, None, {FILL_SETTING: False}, seed=0), train, "cpu")
    filled = entry.fit(build_config(model, None, {FILL_SETTING: True}, seed=0), train, "cpu")
    popularity = item_popularity(train)
    by_popularity = np.lexsort((np.arange(train.n_items), -popularity))  # most popular first
    users = np.unique(test.session_user)[:6]
    slots = np.arange(len(users))
    for scorer in (plain, filled):
        scorer.reset(len(slots))
        scorer.assign(slots, users)
    checked_unscored = 0
    first = test.session_offsets[np.searchsorted(test.session_user, users)]
    for step in range(2):
        items = test.item[first + step]
        start = np.full(len(slots), step == 0)
        active = np.ones(len(slots), dtype=bool)
        for scorer in (plain, filled):
            observe = getattr(scorer, "observe_times", None)
            if observe is not None:
                observe(test.time[first + step], active)
            scorer.consume(items, start, active)
        raw = plain.scores(slots).clone().numpy()
        full = filled.scores(slots).numpy()
        columns = np.array([3, 0, 7, 3, train.n_items - 1])
        assert filled.scores_of(slots, columns).numpy() == pytest.approx(full[:, columns])
        for row in range(len(slots)):
            scored = raw[row] > 0
            assert (raw[row][~scored] == 0).all()  # the unfilled model ties every unscored item at 0
            assert full[row][scored] == pytest.approx(raw[row][scored])  # scored items keep their scores
            assert len(np.unique(full[row][~scored])) == int((~scored).sum())  # no unscored item tied
            if scored.any() and (~scored).any():
                assert full[row][~scored].max() < full[row][scored].min()  # below every scored item
            unscored_order = [item for item in by_popularity if not scored[item]]
            assert np.argsort(-full[row][unscored_order], kind="stable").tolist() == list(range(len(unscored_order)))
            checked_unscored += int((~scored).sum())
    assert checked_unscored > 0


def test_the_fill_never_lowers_a_conservative_rank_and_removes_every_tie(small_dataset) -> None:
    workspace, dataset_id = small_dataset
    prepared = load_prepared(workspace, dataset_id)
    entry = MODELS["markov"]
    plain = evaluate(entry.fit(build_config("markov", None, {FILL_SETTING: False}, 0), prepared.train, "cpu"),
                     prepared.train, prepared.test)
    filled = evaluate(entry.fit(build_config("markov", None, {}, 0), prepared.train, "cpu"),
                      prepared.train, prepared.test)
    assert (filled.rank <= plain.rank).all() and (filled.rank < plain.rank).any()
    # what ties remain are between transitions counted equally often, never with the unscored items
    assert (filled.tied <= plain.tied).all() and filled.ties().mean_tied < plain.ties().mean_tied / 5
    assert plain.ties().floor_share > 0.1 > filled.ties().floor_share


def _run(model: str, config: dict) -> RunSummary:
    return RunSummary(1, 1, model, None, 0, "finished", "cpu", None, datetime(2026, 1, 1), None, None, False, None,
                      None, {"model": model, "seed": 0, **config})


def test_the_label_says_when_a_run_used_the_fill_and_old_runs_keep_what_they_did() -> None:
    assert model_label(_run("markov", {"pruning": 20, FILL_SETTING: True})) == "Markov, popularity fill"
    assert model_label(_run("markov", {"pruning": 20, FILL_SETTING: False})) == "Markov, popularity_fill=false"
    assert model_label(_run("sr", {"steps": 5, FILL_SETTING: True})) == "SR, steps=5, popularity fill"
    # a Markov run stored before the setting ranked its unscored items as tied zeros
    old = {"model": "markov", "seed": 0, "pruning": 20}
    assert getattr(config_from_json(old), FILL_SETTING) is False
    assert model_label(_run("markov", {"pruning": 20})) == "Markov, popularity_fill=false"
    # an old Personal Pop run already had a full list ordered by popularity
    assert getattr(config_from_json({"model": "personal-pop", "seed": 0}), FILL_SETTING) is True
    assert model_label(_run("pop", {})) == "Pop"
