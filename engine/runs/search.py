"""Random hyper-parameter search scored on the validation split: every trial is a run in the
workspace (validation=True, study = the search's name), so a search can be inspected later."""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import InputError
from engine.evaluation.evaluator import EvaluationSettings
from engine.evaluation.metrics import parse_metric_name
from engine.progress import CancelToken, ProgressCallback, no_progress, scaled
from engine.runs import records
from engine.runs.evaluate_run import dataset_settings, evaluate_run
from engine.runs.execute import execute_run
from engine.runs.models import BASELINE_MODELS
from engine.runs.planning import plan_runs
from engine.storage import catalog
from engine.storage.catalog import load_prepared
from engine.storage.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Choice:
    """One of ``values``, uniformly."""

    values: tuple[Any, ...]

    def draw(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.values)))]


@dataclass(frozen=True)
class LogUniform:
    """A number whose logarithm is uniform in [log low, log high], rounded to 3 significant digits."""

    low: float
    high: float

    def draw(self, rng: np.random.Generator) -> float:
        return float(f"{math.exp(rng.uniform(math.log(self.low), math.log(self.high))):.3g}")


#: The declared search space (GRU4Rec/HRNN papers' ranges). User-level entries apply to HRNN only.
SEARCH_SPACE: dict[str, Choice | LogUniform] = {
    "learning_rate": LogUniform(0.01, 0.3),
    "momentum": Choice((0.0, 0.1, 0.2, 0.3, 0.5)),
    "dropout_session": Choice((0.0, 0.1, 0.2, 0.3, 0.4, 0.5)),
    "dropout_user": Choice((0.0, 0.1, 0.2, 0.3)),
    "dropout_init": Choice((0.0, 0.1, 0.2, 0.3)),
    "batch_size": Choice((32, 50, 64, 100, 128)),
    "session_units": Choice((50, 100, 200)),
    "loss": Choice(("top1", "bpr", "top1-max", "bpr-max", "cross-entropy")),
}
_HRNN_ONLY = {"dropout_user", "dropout_init"}


def draw_overrides(model: str, rng: np.random.Generator) -> dict[str, Any]:
    """One random configuration of the space for ``model`` (HRNN: user units follow session units)."""
    if model in BASELINE_MODELS:
        raise InputError("baselines have no hyper-parameters to search (Item-KNN: set n_neighbors)")
    drawn = {name: space.draw(rng) for name, space in SEARCH_SPACE.items()
             if model.startswith("hrnn") or name not in _HRNN_ONLY}
    if model.startswith("hrnn"):
        drawn["user_units"] = drawn["session_units"]
    if drawn["loss"] == "cross-entropy":
        drawn["final_activation"] = "auto"
    return drawn


@dataclass(frozen=True)
class Trial:
    run_id: int
    overrides: dict[str, Any]
    score: float  # the metric on the validation split; NaN for a failed run
    status: str


def random_search(workspace: Workspace, dataset: str | int, model: str, n_trials: int, study: str,
                  metric: str = "recall@5", epochs: int | None = None, search_seed: int = 0, device: str = "auto",
                  progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
                  on_trial: Callable[[Trial], None] | None = None) -> list[Trial]:
    """Run ``n_trials`` random configurations on the validation split; returns the trials, best first."""
    parse_metric_name(metric)
    if n_trials < 1:
        raise InputError("the number of trials must be at least 1")
    cancel = cancel or CancelToken()
    rng = np.random.default_rng(search_seed)
    kind, k = parse_metric_name(metric)
    with workspace.session() as session:
        dataset_id = catalog.find_dataset(session, dataset).id
    settings = dataset_settings(workspace, dataset_id, EvaluationSettings(ks=(k,)))
    trials = []
    prepared = None
    for index in range(n_trials):
        overrides = draw_overrides(model, rng)
        if epochs is not None:
            overrides["epochs"] = epochs
        (run_id,) = plan_runs(workspace, dataset, model, [index], overrides=overrides, device=device,
                              validation=True, study=study)
        part = scaled(progress, index / n_trials, (index + 1) / n_trials)
        prepared = prepared or load_prepared(workspace, records.get_run(workspace, run_id).dataset_id)
        run = execute_run(workspace, run_id, part, cancel, prepared=prepared)
        score = math.nan
        if run.status == "finished":
            evaluation = evaluate_run(workspace, run_id, settings, cancel=cancel, prepared=prepared)
            score = float(evaluation.metrics["event"][metric])
        trial = Trial(run_id, overrides, score, run.status)
        trials.append(trial)
        if on_trial is not None:
            on_trial(trial)
        if run.status == "cancelled":
            break
    return sorted(trials, key=lambda t: (-t.score if math.isfinite(t.score) else math.inf))


def best_config(workspace: Workspace, trials: list[Trial]) -> dict[str, Any]:
    """The full configuration of the best finished trial."""
    finished = [t for t in trials if math.isfinite(t.score)]
    if not finished:
        raise InputError("no trial finished: nothing to save")
    return records.get_run(workspace, finished[0].run_id).config
