"""Hyper-parameter search scored on the validation split: random points of each model's declared
search space; every trial is a run in the workspace (validation=True, study = the search's name),
so a search can be inspected later."""
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
from engine.registry.search_space import Choice, Distribution, IntRange
from engine.runs import records
from engine.runs.evaluate_run import dataset_settings, evaluate_run
from engine.runs.execute import execute_run
from engine.runs.models import model_entry
from engine.runs.planning import plan_runs
from engine.storage import catalog
from engine.storage.catalog import load_prepared
from engine.storage.workspace import Workspace

log = logging.getLogger(__name__)


def draw(distribution: Distribution, rng: np.random.Generator) -> Any:
    """One value of ``distribution`` (floats rounded to 3 significant digits)."""
    if isinstance(distribution, Choice):
        return distribution.values[int(rng.integers(len(distribution.values)))]
    if isinstance(distribution, IntRange):
        if distribution.log:
            return int(round(math.exp(rng.uniform(math.log(distribution.low), math.log(distribution.high)))))
        steps = (distribution.high - distribution.low) // distribution.step
        return distribution.low + distribution.step * int(rng.integers(steps + 1))
    if distribution.log:
        value = math.exp(rng.uniform(math.log(distribution.low), math.log(distribution.high)))
    else:
        value = rng.uniform(distribution.low, distribution.high)
    return float(f"{value:.3g}")


def draw_overrides(model: str, rng: np.random.Generator) -> dict[str, Any]:
    """One random configuration of the model's declared search space, with the settings that follow
    from it."""
    entry = model_entry(model)
    if not entry.search_space:
        raise InputError(f"{entry.label} has no settings to search")
    drawn = {name: draw(distribution, rng) for name, distribution in entry.search_space.items()}
    return {**drawn, **(entry.derive(drawn) if entry.derive is not None else {})}


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
