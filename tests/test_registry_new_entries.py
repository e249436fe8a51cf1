"""A model and a metric registered at test time, in this file alone, reach everything that lists
models and metrics: the command line's choices and its model listing, training and evaluation, the
report's table, tuning's search space and the settings declarations the generated forms read. A
new model is its module plus its registration; a new metric, its entry (the desktop app's half of
this test: tests/test_app_registry.py)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from engine.cli.main import build_parser, main
from engine.data.session_log import SessionLog
from engine.evaluation.metrics import METRICS, MetricEntry
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.registry.models import ModelEntry
from engine.registry.search_space import Choice
from engine.registry.settings import ModelSettings, setting, settings_of
from engine.runs.models import MODELS
from engine.storage.workspace import Workspace
from engine.workbench.tuning import search_space_text


@dataclass(frozen=True)
class ItemOrderConfig(ModelSettings):
    """The settings of a model that ranks items by their code."""

    model: str = setting("item-order", "Model", "Item order", hidden=True)
    highest_first: bool = setting(False, "Highest code first", "Rank the item with the highest code first")


class ItemOrderScorer:
    """StreamScorer ranking every item by its code, whatever was consumed."""

    history_feed = "none"

    def __init__(self, n_items: int, highest_first: bool) -> None:
        order = torch.arange(n_items, dtype=torch.float32)  # [n_items]
        self.n_items = n_items
        self._scores = order if highest_first else -order

    def reset(self, n_slots: int) -> None:
        """No per-slot state."""

    def assign(self, slots: np.ndarray, users: np.ndarray) -> None:
        """The user does not matter."""

    def consume(self, items: np.ndarray, session_start: np.ndarray, active: np.ndarray) -> None:
        """What was consumed does not matter."""

    def scores(self, slots: np.ndarray) -> torch.Tensor:
        return self._scores.expand(len(slots), self.n_items)  # [b, n_items]


def fit(config: ItemOrderConfig, train: SessionLog, device: torch.device | str = "cpu",
        progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> ItemOrderScorer:
    return ItemOrderScorer(train.n_items, config.highest_first)


MODEL = ModelEntry(name="item-order", label="Item order", kind="baseline", history="none", personalized=False,
                   description="Items ranked by their code (a model registered by a test)",
                   config_type=ItemOrderConfig, presets={"default": ItemOrderConfig()}, fit=fit,
                   search_space={"highest_first": Choice((False, True))})
METRIC = MetricEntry("hithalf", "Hit@half", "Share of targets in the top K/2",
                     lambda hit, ranks, k: (ranks <= max(1, k // 2)).astype(np.float64))


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model and the metric registered for the length of a test."""
    monkeypatch.setitem(MODELS._entries, MODEL.name, MODEL)
    monkeypatch.setitem(METRICS._entries, METRIC.name, METRIC)


def test_a_new_model_and_metric_reach_the_command_line_and_the_report(
        registered: None, small_dataset: tuple[Workspace, int], capsys: pytest.CaptureFixture[str]) -> None:
    workspace, _ = small_dataset
    shown = workspace.display_name
    argv = ["train", "small", "--model", "item-order"]
    assert build_parser(argv).parse_args(argv).model == "item-order"  # a choice of --model
    assert main(["models", "--kind", "baseline", "--names"]) == 0
    assert "item-order" in capsys.readouterr().out.split()
    for model in ("pop", "item-order"):
        assert main(["train", "small", "--model", model, "--workspace", shown]) == 0
    capsys.readouterr()
    assert main(["report", "small", "--k", "4", "--workspace", shown]) == 0
    report = capsys.readouterr().out
    header = next(line for line in report.splitlines() if line.startswith("model"))
    assert "hithalf@4" in header.split() and "recall@4" in header.split()
    assert any(line.startswith("Item order") for line in report.splitlines())


def test_a_new_model_declares_its_form_and_its_search_space(registered: None) -> None:
    declared = {info.name: info for info in settings_of(MODEL.config_type) if not info.hidden}
    assert list(declared) == ["highest_first"]
    assert declared["highest_first"].label == "Highest code first" and declared["highest_first"].help
    assert search_space_text("item-order") == "highest_first {False, True}"  # what tune and compare explore
