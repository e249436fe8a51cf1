"""A tuning request and every refusal of one before anything is stored: its settings, the
worker processes this machine can serve, and the memory the settings every trial shares need."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InputError
from engine.evaluation.metrics import parse_metric_name
from engine.memory import memory_budget
from engine.runs.models import build_config, model_entry
from engine.runs.run_memory import check_training_memory, format_size
from engine.storage import catalog
from engine.storage.workspace import Workspace
from engine.training.config import TrainConfig
from engine.tuning.space import searched_space
from engine.tuning.study import DEFAULT_PATIENCE, DEFAULT_PRUNER, PRUNERS, SAMPLERS
from engine.tuning.validation import DEFAULT_VALIDATION_USERS


@dataclass(frozen=True)
class TuningRequest:
    """A study to start (or resume, when ``study`` names an existing one of the same dataset,
    model and metric). Budget: ``n_trials`` trials in all, and/or ``seconds`` from now.
    ``fixed``: settings every trial shares (removed from the search; e.g. ``{"epochs": 5}``, the
    most a trial trains, Hyperband's largest resource); ``validation_users``: the sample each epoch
    is scored on (None: all); ``pruner``: "hyperband" (the default), "median" or "none"."""

    dataset: str | int
    model: str
    n_trials: int | None = None
    seconds: float | None = None
    metric: str = "recall@5"
    study: str | None = None
    sampler: str = "tpe"
    pruner: str = DEFAULT_PRUNER  # Hyperband over epochs (a baseline, scored once, is never pruned)
    patience: int = DEFAULT_PATIENCE
    fixed: dict[str, Any] = field(default_factory=dict)
    validation_users: int | None = DEFAULT_VALIDATION_USERS
    device: str = "auto"


def check_request(request: TuningRequest) -> None:
    """Every refusal that needs no storage, before anything is stored."""
    parse_metric_name(request.metric)
    entry = model_entry(request.model)
    if request.n_trials is None and request.seconds is None:
        raise InputError("give a budget: a number of trials or a time")
    if request.n_trials is not None and request.n_trials < 1:
        raise InputError(f"a budget of {request.n_trials} trials: give at least 1")
    if request.seconds is not None and not (math.isfinite(request.seconds) and request.seconds > 0):
        raise InputError(f"a budget of {request.seconds:g} seconds: give a positive time, e.g. 30m")
    if request.sampler not in SAMPLERS:
        raise InputError(f"unknown sampler {request.sampler!r}; choose one of {', '.join(SAMPLERS)}")
    if request.pruner not in PRUNERS:
        raise InputError(f"unknown pruner {request.pruner!r}; choose one of {', '.join(PRUNERS)}")
    if request.patience < 0:
        raise InputError(f"patience is a number of epochs, at least 0 (0: never stop early), not {request.patience}")
    if request.validation_users is not None and request.validation_users < 1:
        raise InputError(f"the validation sample needs at least 1 user, not {request.validation_users}")
    build_config(request.model, None, {**request.fixed, **({"device": request.device} if entry.neural else {})}, 0)
    searched_space(entry, request.fixed)


#: Resident memory of one worker process besides its dataset: the interpreter with torch and
#: Optuna (338 MiB measured after the imports) and a trial of a small network, rounded up.
WORKER_BASE_BYTES = 400 * 2**20
#: Bytes per prepared event a worker holds (the dataset's splits, the validation sample).
WORKER_BYTES_PER_EVENT = 200


def check_workers(workspace: Workspace, dataset: str | int, workers: int) -> None:
    """InputError for a number of worker processes this machine cannot serve: fewer than one,
    more than its CPU cores (they would share them, no faster), or more than the memory budget
    holds (each loads the dataset)."""
    if workers < 1:
        raise InputError(f"a study needs at least 1 worker, not {workers}", setting="workers", label="Workers")
    events = int(catalog.get_dataset(workspace, dataset).statistics.get("events", 0))
    each = WORKER_BASE_BYTES + events * WORKER_BYTES_PER_EVENT
    cores = os.cpu_count() or 1
    if workers > cores:
        raise InputError(f"{workers} workers are more than this machine's {cores} CPU core{'s' if cores > 1 else ''}: "
                         f"they would share the cores, no faster, each taking about {format_size(each)} of memory; "
                         f"choose at most {cores} (workers on other machines can join the study)",
                         setting="workers", label="Workers")
    budget = memory_budget()
    if budget is not None and workers * each > budget:
        raise InputError(f"{workers} workers would need about {format_size(workers * each)} of memory on this dataset "
                         f"({format_size(each)} each); the memory budget is {format_size(budget)}: choose at most "
                         f"{max(1, budget // each)}", setting="workers", label="Workers")


def check_fixed_memory(workspace: Workspace, dataset_id: int, request: TuningRequest) -> None:
    """ConfigError when the settings every trial shares (on the model's defaults) would exceed the
    memory budget on the dataset (a trial whose searched settings would is refused and pruned)."""
    entry = model_entry(request.model)
    if not entry.neural:
        return
    config = build_config(request.model, None, {**request.fixed, "device": request.device}, 0)
    if not isinstance(config, TrainConfig):  # the estimate covers the recurrent networks
        return
    n_items = int(catalog.get_dataset(workspace, dataset_id).statistics.get("items", 0))
    check_training_memory(config, n_items, entry.label)
