"""Every entry of every registry keeps the contract its registry promises, so that a new entry is
one module plus its registration: each model trains a tiny epoch (or fits), is evaluated, is a
choice of the command line, has a search space tuning accepts and round-trips its settings through
the stored configuration; each loss trains; each metric and breakdown computes on a tiny rank array."""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from engine.cli.main import build_parser
from engine.data.preparation import PrepareSettings
from engine.data.session_log import SessionLog
from engine.data.synthetic import SYNTHETIC_MAPPING, SyntheticConfig, generate_log
from engine.evaluation.breakdowns import BREAKDOWNS
from engine.evaluation.evaluator import EvaluationSettings
from engine.evaluation.metrics import METRICS, is_hit
from engine.models.losses import LOSSES
from engine.models.sasrec_losses import SEQUENCE_LOSSES
from engine.registry.search_space import Choice
from engine.registry.settings import settings_of
from engine.runs.evaluate_run import EVENT_COLUMNS, evaluate_run
from engine.runs.execute import execute_run
from engine.runs.models import MODELS, build_config, config_from_json, model_entry
from engine.runs.planning import plan_runs
from engine.storage.catalog import load_prepared
from engine.storage.workspace import Workspace
from engine.training.network_training import train_network
from engine.tuning.space import default_point, searched_space
from engine.workbench.importing import ImportRequest, import_log


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, int]]:
    """A workspace holding a tiny synthetic dataset (about 1,000 events): (workspace, dataset id)."""
    folder = tmp_path_factory.mktemp("conformance")
    log_path = folder / "tiny.parquet"
    generate_log(SyntheticConfig(n_users=80, n_items=120, n_topics=4, seed=3)).to_parquet(log_path)
    with Workspace(folder / "ws.sqlite") as workspace:
        outcome = import_log(workspace, ImportRequest(log_path, mapping=SYNTHETIC_MAPPING,
                                                      settings=PrepareSettings(min_item_support=2), name="tiny"))
        yield workspace, outcome.dataset_id


@pytest.fixture(scope="module")
def tiny_train(tiny_dataset: tuple[Workspace, int]) -> SessionLog:
    workspace, dataset_id = tiny_dataset
    return load_prepared(workspace, dataset_id).train


def _one_epoch(model: str) -> dict[str, object]:
    """The overrides that make a run of ``model`` tiny: one epoch of a network on the CPU."""
    return {"epochs": 1, "device": "cpu"} if model_entry(model).neural else {}


@pytest.mark.parametrize("model", MODELS.names())
def test_every_model_trains_or_fits_and_is_evaluated(tiny_dataset: tuple[Workspace, int], model: str) -> None:
    workspace, dataset_id = tiny_dataset
    (run_id,) = plan_runs(workspace, dataset_id, model, [0], overrides=_one_epoch(model))
    run = execute_run(workspace, run_id)
    assert run.status == "finished", run.error
    evaluation = evaluate_run(workspace, run_id, EvaluationSettings(ks=(5, 10)))
    assert evaluation.n_events > 0
    for name, value in evaluation.metrics["event"].items():
        assert 0.0 <= value <= 1.0, (name, value)


@pytest.mark.parametrize("model", MODELS.names())
def test_every_model_is_a_choice_of_the_command_line(model: str) -> None:
    argv = ["train", "dataset", "--model", model]
    assert build_parser(argv).parse_args(argv).model == model


@pytest.mark.parametrize("model", MODELS.names())
def test_every_model_has_a_search_space_tuning_accepts(model: str) -> None:
    entry = MODELS[model]
    shown = [info.name for info in settings_of(entry.config_type) if not info.hidden]
    if not shown:  # a model without settings (Pop) has nothing to tune: it is scored once
        assert not entry.search_space
        return
    space = searched_space(entry, {})  # every searched name is a declared setting, every value valid
    assert set(space) <= set(shown)
    for name, value in default_point(entry, {}).items():
        assert space[name].contains(value)
    if isinstance(space.get("loss"), Choice):
        assert set(space["loss"].values) <= set(LOSSES.names()) | set(SEQUENCE_LOSSES.names())


@pytest.mark.parametrize("model", MODELS.names())
def test_every_model_round_trips_its_settings(model: str) -> None:
    """A run's configuration as stored (JSON) reads back as the same configuration, for every preset."""
    entry = MODELS[model]
    for preset in entry.presets:
        config = build_config(model, preset, {}, seed=7)
        stored = json.loads(json.dumps(dataclasses.asdict(config)))
        assert config_from_json(stored) == config, preset


@pytest.mark.parametrize("model", MODELS.names())
def test_every_model_declares_what_its_forms_show(model: str) -> None:
    """The generated forms read labels, help and valid values from the declarations; every preset
    is valid under them."""
    entry = MODELS[model]
    assert entry.label and entry.description and entry.presets
    for info in settings_of(entry.config_type):
        assert info.label and info.help, info.name
        assert info.problem(info.default) is None, info.name
    for preset in entry.presets.values():
        preset.validate()


@pytest.mark.parametrize("loss", LOSSES.names())
def test_every_loss_trains_a_recurrent_network(tiny_train: SessionLog, loss: str) -> None:
    config = build_config("rnn", None, {"loss": loss, "epochs": 1, "device": "cpu", "n_extra_negatives": 8,
                                        "session_units": 16}, seed=0)
    result = train_network(config, tiny_train)
    assert len(result.epoch_losses) == 1 and math.isfinite(result.epoch_losses[0])


@pytest.mark.parametrize("loss", SEQUENCE_LOSSES.names())
def test_every_sequence_loss_trains_sasrec(tiny_train: SessionLog, loss: str) -> None:
    config = build_config("sasrec", None, {"loss": loss, "epochs": 1, "device": "cpu"}, seed=0)
    result = train_network(config, tiny_train)
    assert len(result.epoch_losses) == 1 and math.isfinite(result.epoch_losses[0])


RANKS = np.array([1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 40.0])


@pytest.mark.parametrize("metric", METRICS.names())
def test_every_metric_computes_on_a_tiny_rank_array(metric: str) -> None:
    for k in (1, 5, 10):
        hit = is_hit(RANKS, k)
        values = METRICS[metric].value(hit, RANKS, k)
        assert values.shape == RANKS.shape and np.all(np.isfinite(values))
        assert np.all(values[~hit] == 0.0) and np.all(values[hit] > 0.0)
        assert np.all((values >= 0.0) & (values <= 1.0))


def _tiny_events() -> tuple[pd.DataFrame, np.ndarray]:
    """Per-event ranks as an evaluation stores them (EVENT_COLUMNS), and the items' popularity."""
    n = 24
    events = pd.DataFrame({
        "user": np.arange(n) % 6, "session": np.arange(n) % 6, "position": np.arange(n) % 6 + 1,
        "session_length": np.full(n, 7), "history_length": np.arange(n) % 6 + 1, "item": np.arange(n) % 10,
        "rank": np.tile(RANKS, 4)[:n], "tied": np.zeros(n), "floor": np.zeros(n)})
    assert list(events.columns) == list(EVENT_COLUMNS)
    return events, np.arange(1, 11) * 3


@pytest.mark.parametrize("kind", BREAKDOWNS.names())
def test_every_breakdown_computes_on_a_tiny_rank_array(kind: str) -> None:
    events, popularity = _tiny_events()
    entry = BREAKDOWNS[kind]
    table = entry.table(events, (5,), False, popularity).reset_index()  # one row per group
    assert len(table) >= 1 and int(table["n_events"].sum()) <= len(events)
    metric_columns = [column for column in table.columns if "@" in column]
    assert metric_columns and table[metric_columns].to_numpy().min() >= 0.0
    last = table["group"].iloc[-1]
    assert all(entry.group_label(row, last) for _, row in table.iterrows())
    assert entry.title and entry.description
