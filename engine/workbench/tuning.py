"""Tuning a model on the validation split with Optuna: start or resume a study, run its workers
(processes on this machine; workers on other machines join through the workspace's URL), follow
its trials, and use its best configuration.

Every trial is a run in the workspace (validation split, the study's name); see
:mod:`engine.tuning.worker` for how a trial is scored, pruned and stopped, and
:mod:`engine.tuning.storage` for where studies live."""
from __future__ import annotations

import dataclasses
import logging
import math
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import optuna
from optuna.trial import TrialState

from engine.errors import Cancelled, InputError, WorkbenchError
from engine.progress import CancelToken, ProgressCallback, no_progress, scaled
from engine.registry.search_space import describe_space
from engine.runs import records
from engine.runs.models import build_config, model_entry
from engine.runs.saved_presets import save_preset
from engine.storage import catalog
from engine.storage import runs as run_store
from engine.storage.runs import VALIDATION_PREFIX, validation_key
from engine.storage.workspace import Workspace
from engine.tuning.space import default_point, searched_space
from engine.tuning.storage import (
    GRACE_PERIOD_S,
    close_storage,
    storage_exists,
    studies_errors,
    studies_location,
    study_storage,
)
from engine.tuning.study import (
    DEFAULT_PATIENCE,
    DEFAULT_PRUNER,
    DEFAULTS_ORIGIN,
    LEGACY_PRUNER,
    ORIGIN_ATTR,
    PRUNERS,
    SAMPLERS,
    SPEC_ATTR,
    StudySpec,
    bracket_trials,
    budget_fraction,
    check_same_search,
    describe_pruner,
    find_study,
    require_study,
    rungs,
    save_spec,
    study_spec,
)
from engine.tuning.validation import DEFAULT_VALIDATION_USERS
from engine.tuning.worker import (
    TrialOutcome,
    fail_dead_trials,
    open_worker,
    trial_outcome,
    trial_overrides,
    work,
)
from engine.workbench.child_processes import child_environment, stop_processes
from engine.workbench.tuning_request import (
    TuningRequest,
    check_fixed_memory,
    check_request,
    check_workers,
)

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_PATIENCE", "DEFAULT_PRUNER", "DEFAULT_VALIDATION_USERS", "LEGACY_PRUNER", "PRUNERS", "SAMPLERS",
           "BestConfiguration", "StudyRun", "StudySpec", "StudyView", "TrialOutcome", "TuningRequest",
           "best_configuration", "bracket_trials", "check_request", "check_fixed_memory", "check_workers",
           "default_study_name", "describe_pruner", "fail_dead_trials", "list_studies", "load_importances",
           "load_study_view", "parameter_importances", "prepare_study", "load_studies", "rungs", "run_study",
           "run_worker",
           "save_best_as_preset", "save_study_preset", "search_space_text", "study_view", "tune_in_background",
           "validation_curve"]

#: Seconds between two looks at the study while waiting for worker processes.
POLL_S = 1.0


def default_study_name(dataset_id: int, model: str) -> str:
    """``tune-3-hrnn-init``: the study ``tune`` resumes when run again without ``--study``."""
    return f"tune-{dataset_id}-{model}"


def search_space_text(model: str, fixed: dict[str, Any] | None = None) -> str:
    """What a study of ``model`` explores, in one line (InputError when nothing)."""
    return describe_space(searched_space(model_entry(model), dict(fixed or {})))


def prepare_study(workspace: Workspace, request: TuningRequest) -> StudySpec:
    """Create the study, or resume it with the request's budget (its search settings, its pruner
    among them, are kept: a study stored with the median rule resumes with it).
    Refuses, before storing anything, an unknown model or metric, an empty or impossible search
    space, a budget of zero, or a study of that name for another dataset, model or metric."""
    check_request(request)
    dataset = catalog.get_dataset(workspace, request.dataset)
    dataset_id, dataset_name = dataset.id, dataset.name
    check_fixed_memory(workspace, dataset_id, request)
    name = (request.study or default_study_name(dataset_id, request.model)).strip()
    if not name:
        raise InputError("a study needs a name")
    deadline = time.time() + request.seconds if request.seconds is not None else None
    fixed = dict(request.fixed)
    seed = fixed.pop("seed", 0)  # the seed every trial trains with, fixed like a setting
    config = build_config(request.model, None, fixed, seed)  # a seed out of range is refused naming it
    # Hyperband's resource: the epochs every trial trains at most (a baseline has none: scored once)
    epochs = getattr(config, "epochs", None) if model_entry(request.model).neural else None
    max_resource = int(epochs) if epochs is not None else None
    wanted = StudySpec(name=name, dataset_id=dataset_id, dataset_name=dataset_name, model=request.model,
                       metric=request.metric, sampler=request.sampler, pruner=request.pruner,
                       patience=request.patience, fixed=fixed, validation_users=request.validation_users,
                       seed=seed, device=request.device, n_trials=request.n_trials, deadline=deadline,
                       max_resource=max_resource)
    if storage_exists(workspace):
        with study_storage(workspace) as storage:
            existing = find_study(storage, name)
            if existing is not None:
                spec = study_spec(existing)
                check_same_search(spec, wanted)
                if "seed" in request.fixed and spec.seed != seed:
                    raise InputError(f"study {name!r} trains its trials with seed {spec.seed}, not {seed}; choose "
                                     "another study name")
                resumed = StudySpec.from_json({**spec.to_json(), "n_trials": request.n_trials, "deadline": deadline})
                save_spec(existing, resumed)
                log.info("resuming study %s (%d trials so far)", name, len(existing.trials))
                return resumed
    with study_storage(workspace, create=True) as storage:
        study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
        save_spec(study, wanted)
        point = default_point(model_entry(request.model), request.fixed)
        if point:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                study.enqueue_trial(point, user_attrs={ORIGIN_ATTR: DEFAULTS_ORIGIN})
    log.info("created study %s in %s", name, studies_location(workspace))
    return wanted


@dataclass(frozen=True)
class StudyView:
    """A study and its trials (by number), and the best one."""

    spec: StudySpec
    trials: tuple[TrialOutcome, ...]

    @property
    def best(self) -> TrialOutcome | None:
        complete = [t for t in self.trials if t.state == "complete" and math.isfinite(t.value)]
        return max(complete, key=lambda t: t.value) if complete else None

    def count(self, state: str) -> int:
        return sum(t.state == state for t in self.trials)

    def best_so_far(self) -> np.ndarray:
        """float64 [trials]: the best complete score up to each trial number (NaN before the first)."""
        values = np.array([t.value if t.state == "complete" else np.nan for t in self.trials], dtype=np.float64)
        return np.fmax.accumulate(values) if len(values) else values


def study_view(workspace: Workspace, name: str) -> StudyView:
    """The study ``name`` as it stands (NotFoundError when there is none; nothing is created). A
    trial whose run is gone, or whose id now names a run of another study, is marked
    ``run_deleted``: its id is never followed to another run."""
    with study_storage(workspace, write=False) as storage:
        study, spec = require_study(storage, name)
        trials = [trial_outcome(t) for t in study.get_trials(deepcopy=False)]
    ids = [trial.run_id for trial in trials if trial.run_id is not None]
    owned = records.runs_of_study(workspace, ids, name) if ids else set()
    return StudyView(spec, tuple(trial if trial.run_id is None or trial.run_id in owned
                                 else dataclasses.replace(trial, run_deleted=True) for trial in trials))


def list_studies(workspace: Workspace, dataset_id: int | None = None) -> list[StudySpec]:
    """The workbench's studies in the workspace (of one dataset), oldest first."""
    if not storage_exists(workspace):
        return []
    with study_storage(workspace, write=False) as storage:
        summaries = optuna.get_all_study_summaries(storage, include_best_trial=False)
    specs = []
    for summary in summaries:
        data = summary.user_attrs.get(SPEC_ATTR)
        if isinstance(data, dict):
            spec = StudySpec.from_json(data)
            if dataset_id is None or spec.dataset_id == dataset_id:
                specs.append(spec)
    return specs


def run_worker(workspace: Workspace, name: str, progress: ProgressCallback = no_progress,
               cancel: CancelToken | None = None, on_trial: Callable[[TrialOutcome], None] | None = None,
               seed: int | None = None, grace_period_s: int = GRACE_PERIOD_S) -> list[TrialOutcome]:
    """Work on the existing study ``name`` in this process until its budget is spent (what
    ``tune-worker`` runs, here or on another machine); returns this worker's trials."""
    with studies_errors(workspace):
        worker = open_worker(workspace, name, seed, grace_period_s)
        try:
            return work(worker, progress, cancel, on_trial)
        finally:
            close_storage(worker.storage)


@dataclass
class _WorkerProcess:
    process: subprocess.Popen
    log: IO[bytes]

    def last_line(self) -> str:
        self.log.seek(0)
        lines = [line.strip() for line in self.log.read().decode(errors="replace").splitlines() if line.strip()]
        return lines[-1] if lines else f"exit code {self.process.returncode}"


def worker_command(url: str, name: str, seed: int | None = None) -> list[str]:
    """The command line of a worker process of study ``name`` on this machine."""
    command = [sys.executable, "-m", "engine.cli.main", "tune-worker", name, "--workspace", url]
    return command + (["--seed", str(seed)] if seed is not None else [])


def _spawn(url: str, name: str, seed: int | None, workers: int) -> _WorkerProcess:
    output = tempfile.TemporaryFile()
    process = subprocess.Popen(worker_command(url, name, seed), env=child_environment(workers),
                               stdout=subprocess.DEVNULL, stderr=output)
    return _WorkerProcess(process, output)


def _stop(children: list[_WorkerProcess]) -> None:
    """Ask the worker processes still running to stop (their trial is cancelled and queued again),
    then wait; one that does not stop in time is killed."""
    stop_processes([child.process for child in children], "worker process")


class _TrialFeed:
    """Announces each trial of the study once, when it ends, whichever worker ran it."""

    def __init__(self, study: optuna.Study, on_trial: Callable[[TrialOutcome], None] | None) -> None:
        self.study, self.on_trial, self.seen = study, on_trial, set[int]()

    def announce(self) -> None:
        self.poll()

    def poll(self) -> list[optuna.trial.FrozenTrial]:
        trials = self.study.get_trials(deepcopy=False)
        for trial in trials:
            if trial.state.is_finished() and trial.number not in self.seen:
                self.seen.add(trial.number)
                if self.on_trial is not None:
                    self.on_trial(trial_outcome(trial))
        return trials


@dataclass(frozen=True)
class StudyRun:
    """What running a study's workers gave: the study as it ended, the wall seconds, and the
    workers that failed (their last line)."""

    view: StudyView
    seconds: float
    cancelled: bool
    worker_errors: tuple[str, ...] = ()


def run_study(workspace: Workspace, name: str, workers: int = 1, progress: ProgressCallback = no_progress,
              cancel: CancelToken | None = None, on_trial: Callable[[TrialOutcome], None] | None = None,
              in_process: bool = True, seed: int | None = None) -> StudyRun:
    """Work on study ``name`` with ``workers`` processes until its budget is spent: this process
    (``in_process``) and worker processes started beside it (``python -m engine.cli.main
    tune-worker``). ``cancel`` stops them all: each cancels its trial, which is queued again, so
    running the study again resumes it. ``on_trial`` hears of every trial that ends."""
    if workers < 1:
        raise InputError(f"a study needs at least 1 worker, not {workers}")
    cancel = cancel or CancelToken()
    started = time.perf_counter()
    with study_storage(workspace) as storage:
        study, spec = require_study(storage, name)
        feed = _TrialFeed(study, on_trial)
        feed.seen.update(t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished())
        begun = time.time()
        local = 1 if in_process else 0
        children = [_spawn(workspace.url, name, None if seed is None else seed + 1 + index, workers)
                    for index in range(workers - local)]
        try:
            if in_process:
                run_worker(workspace, name, progress, cancel, lambda _: feed.announce(), seed)
            while not cancel.cancelled and any(child.process.poll() is None for child in children):
                trials = feed.poll()
                progress(budget_fraction(spec, trials, begun),
                         f"{sum(t.state.is_finished() for t in trials)} trials done, "
                         f"{sum(t.state == TrialState.RUNNING for t in trials)} running")
                time.sleep(POLL_S)
        finally:
            _stop(children)
        feed.poll()
    errors = tuple(f"worker {child.process.pid}: {child.last_line()}" for child in children
                   if child.process.returncode not in (0, 130, -signal.SIGTERM))
    for child in children:
        child.log.close()
    for error in errors:
        log.warning("%s", error)
    view = study_view(workspace, name)
    if cancel.cancelled:
        return StudyRun(view, time.perf_counter() - started, True, errors)
    if errors and not any(t.state in ("complete", "pruned") for t in view.trials):
        raise WorkbenchError(f"the study's workers failed: {errors[0]}")
    return StudyRun(view, time.perf_counter() - started, False, errors)


def parameter_importances(workspace: Workspace, name: str) -> dict[str, float]:
    """Optuna's importance of each searched setting for the study's score (they sum to 1; empty
    while fewer than two trials completed, or when they all scored the same)."""
    with study_storage(workspace, write=False) as storage:
        study, _ = require_study(storage, name)
        if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < 2:
            return {}
        try:
            with warnings.catch_warnings():  # "importances will be equal" when the scores cannot tell them apart
                warnings.simplefilter("ignore", UserWarning)
                return {key: float(value) for key, value in optuna.importance.get_param_importances(study).items()}
        except (ValueError, RuntimeError) as exc:
            log.info("no importances for study %s: %s", name, exc)
            return {}


@dataclass(frozen=True)
class BestConfiguration:
    """The best trial of a study and the configuration to train it with: its run's settings, and
    (a network) the epochs at which it scored best."""

    study: str
    model: str
    trial: TrialOutcome
    config: dict[str, Any]
    note: str = ""  # where the configuration came from when not from the trial's run


def best_configuration(workspace: Workspace, name: str) -> BestConfiguration:
    """The study's best trial; :class:`InputError` when no trial completed. Its configuration is
    its run's, or, when that run was deleted, rebuilt from the trial's own parameters (and the
    ``note`` says so).

    The best trial is a complete one, never one pruned at a rung, so it is retrained in full: a
    network for the epoch at which it scored best after training to its end (or until patience
    stopped it: the epochs past its best were seen); one the study's deadline stopped before its
    epochs (its score is that of an early rung) for all its epochs, never the few it had time for."""
    view = study_view(workspace, name)
    best = view.best
    if best is None or best.run_id is None:
        raise InputError(f"no trial of study {name!r} completed yet: there is no best configuration")
    note = ""
    if best.run_deleted:
        entry = model_entry(view.spec.model)
        overrides = {**trial_overrides(view.spec, best.params),
                     **({"device": view.spec.device} if entry.neural else {})}
        config = dataclasses.asdict(build_config(view.spec.model, None, overrides, view.spec.seed))
        note = (f"its run #{best.run_id} was deleted: the configuration is rebuilt from the trial's own "
                "settings")
    else:
        config = dict(records.get_run(workspace, best.run_id).config)
    config.pop("seed", None)
    if model_entry(view.spec.model).neural and best.best_epoch and best.stop != "deadline":
        config["epochs"] = int(best.best_epoch)
    return BestConfiguration(name, view.spec.model, best, config, note)


def save_best_as_preset(workspace: Workspace, name: str, preset: str) -> BestConfiguration:
    """Save the study's best configuration as the preset ``preset`` (then: ``train --preset``)."""
    best = best_configuration(workspace, name)
    spec = study_view(workspace, name).spec
    origin = f"; {best.note}" if best.note else ""
    save_preset(workspace, preset, best.model, best.config,
                note=f"best of study {name} by {spec.metric} on the validation split ({best.trial.value:.4f}){origin}")
    return best


def validation_curve(workspace: Workspace, run_id: int) -> tuple[str, np.ndarray, np.ndarray] | None:
    """(metric, epochs, scores) of a trial's per-epoch validation score; None for a run with none."""
    run = records.get_run(workspace, run_id)
    if not run.validation:
        return None
    for metric in _stored_validation_metrics(workspace, run_id):
        epochs, values = records.metric_series(workspace, run_id, validation_key(metric))
        if len(epochs):
            return metric, epochs, values
    return None


def _stored_validation_metrics(workspace: Workspace, run_id: int) -> list[str]:
    keys = run_store.metric_keys(workspace, run_id)
    return [key.removeprefix(VALIDATION_PREFIX) for key in keys if key.startswith(VALIDATION_PREFIX)]


# ----- for the desktop app's background jobs: the workspace by its URL -----

def tune_in_background(url: str, requests: Sequence[TuningRequest], workers: int, progress: ProgressCallback,
                       cancel: CancelToken) -> list[StudyRun]:
    """Start or resume one study per request and run them one after the other, each with
    ``workers`` worker processes (this thread only watches them); cancelling stops them, and
    running the same requests again resumes the studies."""
    runs = []
    with Workspace(url, create=False) as workspace:
        specs = [prepare_study(workspace, request) for request in requests]  # every refusal before any work
        for index, spec in enumerate(specs):
            part = scaled(progress, index / len(specs), (index + 1) / len(specs))
            runs.append(run_study(workspace, spec.name, workers, part, cancel, in_process=False))
            if runs[-1].cancelled:
                raise Cancelled("cancelled by the user")
    return runs


def load_study_view(url: str, name: str, progress: ProgressCallback, cancel: CancelToken) -> StudyView:
    with Workspace(url, create=False) as workspace:
        return study_view(workspace, name)


def load_studies(url: str, dataset_id: int, progress: ProgressCallback, cancel: CancelToken) -> list[StudySpec]:
    with Workspace(url, create=False) as workspace:
        return list_studies(workspace, dataset_id)


def load_importances(url: str, name: str, progress: ProgressCallback, cancel: CancelToken) -> dict[str, float]:
    with Workspace(url, create=False) as workspace:
        return parameter_importances(workspace, name)


def save_study_preset(url: str, name: str, preset: str, progress: ProgressCallback,
                      cancel: CancelToken) -> BestConfiguration:
    with Workspace(url, create=False) as workspace:
        return save_best_as_preset(workspace, name, preset)
