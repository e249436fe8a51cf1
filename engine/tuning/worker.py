"""One worker of a study: it loads the dataset and the validation sample once, then claims trials
until the budget is spent, running each as a run in the workspace (validation split, the study's
name).

A network trial is scored on the validation sample after every epoch; the score is stored with the
run (``valid_<metric>`` per epoch) and reported to Optuna. The trial stops early when the pruner
says so (the trial is PRUNED, its run failed with "pruned at rung R (E epochs)" under Hyperband, or
"pruned at epoch N" under the median rule), when its score has not
improved for ``patience`` epochs, or at the study's deadline (both: the trial completes with its
best score, its run finishes with the network of the last epoch). A baseline trial is scored once.
A trial whose settings are refused, whose training diverges or that fails in any other way is
pruned with the reason, never fatal to the study; a cancelled trial is marked failed and queued
again. Each network trial records the epochs it trained and, under Hyperband, the last rung it
reached (user attributes ``epochs`` and ``rung``): a trial pruned at rung r trained
``min_resource * reduction_factor**r`` epochs (:mod:`engine.tuning.study`)."""
from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from engine.data.session_log import PreparedDataset
from engine.errors import Cancelled, NotFoundError, WorkbenchError
from engine.evaluation.evaluator import EvaluationSettings
from engine.evaluation.metrics import parse_metric_name
from engine.heartbeat import Heartbeat
from engine.progress import CancelToken, ProgressCallback, no_progress
from engine.runs import records
from engine.runs.checkpoints import save_run_checkpoint
from engine.runs.evaluate_run import dataset_settings, scorer_for_run
from engine.runs.execute import execute_run
from engine.runs.models import config_from_json, model_entry
from engine.runs.planning import plan_runs
from engine.storage import catalog
from engine.storage.catalog import load_prepared
from engine.storage.runs import EPOCH_SECONDS, validation_key
from engine.storage.workspace import Workspace
from engine.training.network_training import NETWORK_CONFIGS, Network
from engine.tuning.space import searched_space, suggest
from engine.tuning.storage import (
    GRACE_PERIOD_S,
    HEARTBEAT_INTERVAL_S,
    close_storage,
    open_study_storage,
    storage_exists,
    study_storage,
)
from engine.tuning.study import (
    DEFAULTS_ORIGIN,
    ORIGIN_ATTR,
    StudySpec,
    budget_fraction,
    claim_trial,
    fail_and_retry,
    fail_stale_trials,
    find_study,
    open_for_work,
    rung_of,
    trial_id,
    trial_value,
)
from engine.tuning.validation import ValidationSample, network_score, sample_score, validation_sample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrialOutcome:
    """A trial as the study records it. ``state``: complete, pruned, failed, running or waiting;
    ``value``: its best validation score (NaN when it has none); ``best_epoch``: where it was
    reached (0 for a baseline); ``reason``: why it stopped early or was pruned; ``epochs``: the
    epochs a network trial trained; ``rung``: the last Hyperband rung it reached (None: none, or
    another pruner); ``stop``: what ended it before its epochs ("pruned", "patience",
    "deadline", or "")."""

    number: int
    state: str
    value: float
    params: dict[str, Any]
    run_id: int | None = None
    best_epoch: int | None = None
    reason: str = ""
    seconds: float | None = None  # wall seconds of the whole trial
    train_seconds: float | None = None  # of which training epochs
    scoring_seconds: float | None = None  # of which scoring the validation sample
    worker: str = ""  # host:pid
    started_at: float | None = None  # unix seconds
    ended_at: float | None = None
    defaults: bool = False  # the study's first trial: the model's defaults (engine.tuning.space.default_point)
    run_deleted: bool = False  # its run is gone (``run_id`` names the deleted one): see study_view
    epochs: int | None = None  # epochs trained (a network trial)
    rung: int | None = None  # the last Hyperband rung reached
    stop: str = ""  # "pruned", "patience" or "deadline": what ended it before its epochs


def trial_outcome(trial: FrozenTrial) -> TrialOutcome:
    """A stored trial as a :class:`TrialOutcome`."""
    attrs = trial.user_attrs
    seconds = trial.duration.total_seconds() if trial.duration is not None else None
    started = trial.datetime_start.timestamp() if trial.datetime_start is not None else None
    ended = trial.datetime_complete.timestamp() if trial.datetime_complete is not None else None
    state = "failed" if trial.state == TrialState.FAIL else trial.state.name.lower()
    return TrialOutcome(trial.number, state, trial_value(trial), dict(trial.params),
                        attrs.get("run_id"), attrs.get("best_epoch"), str(attrs.get("reason", "")), seconds,
                        attrs.get("train_seconds"), attrs.get("scoring_seconds"), str(attrs.get("worker", "")),
                        started, ended, attrs.get(ORIGIN_ATTR) == DEFAULTS_ORIGIN, epochs=attrs.get("epochs"),
                        rung=attrs.get("rung"), stop=str(attrs.get("stop", "")))


def trial_overrides(spec: StudySpec, params: dict[str, Any]) -> dict[str, Any]:
    """The settings a trial of ``params`` trains with, over the model's default preset: its
    parameters, the settings derived from them and the study's fixed ones."""
    entry = model_entry(spec.model)
    return {**params, **(entry.derive(params) if entry.derive is not None else {}), **spec.fixed}


class TrialStopped(WorkbenchError):
    """Raised from the epoch hook to end a trial's training: ``pruned`` (the trial is pruned), or
    not (patience or deadline: the trial completes with its best score); ``cause``: "pruned",
    "patience" or "deadline"."""

    def __init__(self, message: str, pruned: bool, cause: str = "") -> None:
        super().__init__(message)
        self.pruned = pruned
        self.cause = cause or ("pruned" if pruned else "")


@dataclass
class _EpochScorer:
    """The after-epoch hook of a network trial: score, store, report, and stop when told."""

    workspace: Workspace
    run_id: int
    trial: optuna.Trial
    spec: StudySpec
    sample: ValidationSample
    settings: EvaluationSettings
    cancel: CancelToken
    best: float = -math.inf
    best_epoch: int = 0
    network: Network | None = None
    stop: TrialStopped | None = None
    rung: int | None = None
    scoring_seconds: list[float] = field(default_factory=list)

    def __call__(self, epoch: int, network: Network) -> None:
        started = time.perf_counter()
        self.network = network
        value = network_score(network, self.spec.model, self.sample, self.settings, self.spec.metric, self.cancel)
        self.scoring_seconds.append(time.perf_counter() - started)
        records.record_metric(self.workspace, self.run_id, validation_key(self.spec.metric), epoch, value)
        self.trial.report(value, epoch)
        self.trial.set_user_attr("epochs", epoch)
        rung = rung_of(self.spec, epoch)
        if rung is not None and rung != self.rung:
            self.rung = rung
            self.trial.set_user_attr("rung", rung)
        if value > self.best:
            self.best, self.best_epoch = value, epoch
        shown = f"{self.spec.metric} {value:.4f} on the validation sample"
        if self.trial.should_prune():
            if self.spec.hyperband:
                # Hyperband prunes only right after a rung's epoch: this one, min * factor**rung epochs
                self._raise(f"pruned at rung {rung} ({epoch} epoch{'s' if epoch != 1 else ''}): {shown}, not among "
                            f"the best 1/{self.spec.reduction_factor} of its bracket at that rung", "pruned")
            self._raise(f"pruned at epoch {epoch}: {shown}, below the median of earlier trials", "pruned")
        if self.spec.patience and epoch - self.best_epoch >= self.spec.patience:
            self._raise(f"stopped early at epoch {epoch}: no better score for {self.spec.patience} epochs (best "
                        f"{self.best:.4f} at epoch {self.best_epoch})", "patience")
        if self.spec.deadline is not None and time.time() >= self.spec.deadline:
            self._raise(f"stopped at epoch {epoch}: the study's time is up", "deadline")

    def _raise(self, message: str, cause: str) -> None:
        self.stop = TrialStopped(message, cause == "pruned", cause)
        self.trial.set_user_attr("stop", cause)
        raise self.stop


@dataclass
class StudyWorker:
    """What a worker holds for a whole study: the study, its spec and the data, loaded once."""

    workspace: Workspace
    storage: optuna.storages.RDBStorage
    study: optuna.Study
    spec: StudySpec
    prepared: PreparedDataset
    sample: ValidationSample
    settings: EvaluationSettings

    def run_trial(self, trial: optuna.Trial, progress: ProgressCallback, cancel: CancelToken) -> TrialOutcome:
        """Run one claimed trial to its end and tell the study how it went."""
        started = time.perf_counter()
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        storage, beating = self.storage, trial_id(self.storage, self.study, trial.number)
        with Heartbeat(lambda: storage.record_heartbeat(beating), HEARTBEAT_INTERVAL_S, f"trial {beating}"):
            try:
                state, value, reason = self._train_and_score(trial, progress, cancel)
            except Cancelled:
                state, value, reason = TrialState.FAIL, None, "cancelled"
            except WorkbenchError as exc:  # a trial never ends the study: it is pruned with the reason
                state, value, reason = TrialState.PRUNED, None, str(exc)
            except Exception as exc:
                log.exception("trial %d of study %s failed", trial.number, self.spec.name)
                state, value, reason = TrialState.PRUNED, None, f"failed: {type(exc).__name__}: {exc}"
        trial.set_user_attr("seconds", round(time.perf_counter() - started, 3))
        if state == TrialState.FAIL:  # cancelled: queued again for a later worker
            fail_and_retry(self.workspace, self.study, trial, reason)
        else:
            if reason:
                trial.set_user_attr("reason", reason)
            self.study.tell(trial, value, state=state)
        return trial_outcome(self.storage.get_trial(trial_id(self.storage, self.study, trial.number)))

    def _train_and_score(self, trial: optuna.Trial, progress: ProgressCallback,
                         cancel: CancelToken) -> tuple[TrialState, float | None, str]:
        entry = model_entry(self.spec.model)
        space = searched_space(entry, self.spec.fixed)
        overrides = trial_overrides(self.spec, {name: suggest(trial, name, distribution)
                                                for name, distribution in space.items()})
        try:
            (run_id,) = plan_runs(self.workspace, self.spec.dataset_id, self.spec.model, [self.spec.seed],
                                  overrides=overrides, device=self.spec.device, validation=True, study=self.spec.name)
        except WorkbenchError as exc:
            return TrialState.PRUNED, None, f"settings refused: {exc}"
        trial.set_user_attr("run_id", run_id)
        if not entry.neural:
            return self._score_baseline(trial, run_id, progress, cancel)
        hook = _EpochScorer(self.workspace, run_id, trial, self.spec, self.sample, self.settings, cancel)
        run = execute_run(self.workspace, run_id, progress, cancel, prepared=self.prepared, after_epoch=hook)
        _, epoch_seconds = records.metric_series(self.workspace, run_id, EPOCH_SECONDS)
        trial.set_user_attr("train_seconds", round(float(epoch_seconds.sum()), 3))
        trial.set_user_attr("scoring_seconds", round(sum(hook.scoring_seconds), 3))
        if run.status == "cancelled":
            return TrialState.FAIL, None, "cancelled"
        if hook.stop is not None and run.status == "failed" and not hook.stop.pruned:
            assert hook.network is not None
            config = config_from_json(run.config)
            assert isinstance(config, NETWORK_CONFIGS)
            records.finish_run(self.workspace, run_id, *save_run_checkpoint(
                self.workspace, run_id, hook.network, config, self.prepared.item_ids, self.prepared.user_ids))
            run = records.get_run(self.workspace, run_id)
        if run.status != "finished":
            return TrialState.PRUNED, None, run.error or run.status
        if not math.isfinite(hook.best):
            return TrialState.PRUNED, None, "no validation score"
        trial.set_user_attr("best_epoch", hook.best_epoch)
        return TrialState.COMPLETE, hook.best, str(hook.stop) if hook.stop is not None else ""

    def _score_baseline(self, trial: optuna.Trial, run_id: int, progress: ProgressCallback,
                        cancel: CancelToken) -> tuple[TrialState, float | None, str]:
        run = execute_run(self.workspace, run_id, progress, cancel, prepared=self.prepared)
        if run.status == "cancelled":
            return TrialState.FAIL, None, "cancelled"
        if run.status != "finished":
            return TrialState.PRUNED, None, run.error or run.status
        started = time.perf_counter()
        scorer = scorer_for_run(self.workspace, run, self.prepared, "cpu")
        value = sample_score(scorer, self.sample, self.settings, self.spec.metric, cancel)
        trial.set_user_attr("scoring_seconds", round(time.perf_counter() - started, 3))
        records.record_metric(self.workspace, run_id, validation_key(self.spec.metric), 0, value)
        trial.set_user_attr("best_epoch", 0)
        return TrialState.COMPLETE, value, ""


def open_worker(workspace: Workspace, study_name: str, seed: int | None = None,
                grace_period_s: int = GRACE_PERIOD_S) -> StudyWorker:
    """A worker of the existing study ``study_name``, with its dataset and validation sample loaded
    (close its storage with :func:`engine.tuning.storage.close_storage` when done)."""
    storage = open_study_storage(workspace, create=False, grace_period_s=grace_period_s)
    try:
        study, spec = open_for_work(storage, study_name, seed)
        _, k = parse_metric_name(spec.metric)
        prepared = load_prepared(workspace, spec.dataset_id)
        sample = validation_sample(prepared, spec.validation_users, spec.sample_seed)
        settings = dataset_settings(workspace, spec.dataset_id, EvaluationSettings(ks=(k,), tie_mode=spec.tie_mode))
    except BaseException:
        close_storage(storage)
        raise
    return StudyWorker(workspace, storage, study, spec, prepared, sample, settings)


def work(worker: StudyWorker, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
         on_trial: Callable[[TrialOutcome], None] | None = None) -> list[TrialOutcome]:
    """Claim and run trials until the budget is spent, the deadline passed or ``cancel`` is set;
    returns this worker's trials."""
    cancel = cancel or CancelToken()
    outcomes: list[TrialOutcome] = []
    started = time.time()
    share = 1.0 / worker.spec.n_trials if worker.spec.n_trials else 0.0  # of the progress, per trial
    while not cancel.cancelled:
        _require_dataset(worker)
        trial, stale = claim_trial(worker.workspace, worker.storage, worker.study)
        for dead in stale:
            _fail_dead_run(worker.workspace, dead)
        if trial is None:
            break
        low = budget_fraction(worker.spec, worker.study.get_trials(deepcopy=False), started)

        def report(fraction: float, message: str, number: int = trial.number, low: float = low) -> None:
            progress(min(low + share * fraction, 1.0), f"trial {number}: {message}")

        outcome = worker.run_trial(trial, report, cancel)
        outcomes.append(outcome)
        if on_trial is not None:
            on_trial(outcome)
    return outcomes


def _require_dataset(worker: StudyWorker) -> None:
    """NotFoundError when the study's dataset was deleted while it was tuned: the study stops
    (its trials could only fail)."""
    if not catalog.dataset_exists(worker.workspace, worker.spec.dataset_id):
        raise NotFoundError(f"dataset '{worker.spec.dataset_name}' was deleted while study '{worker.spec.name}' "
                            "tuned it: the study stops")


def fail_dead_trials(workspace: Workspace, study_name: str, grace_period_s: int = GRACE_PERIOD_S) -> int:
    """Mark the trials of study ``study_name`` whose worker died failed (each retried with its
    settings) and their runs failed, without claiming a trial (e.g. before resuming a comparison
    whose process was killed); returns how many."""
    if not storage_exists(workspace):
        return 0
    with study_storage(workspace, grace_period_s=grace_period_s) as storage:
        study = find_study(storage, study_name)
        stale = [] if study is None else fail_stale_trials(workspace, study)
    for dead in stale:
        _fail_dead_run(workspace, dead)
    return len(stale)


def _fail_dead_run(workspace: Workspace, trial: FrozenTrial) -> None:
    """The run of a trial whose worker died: marked failed now (its own heartbeat would say so later)."""
    run_id = trial.user_attrs.get("run_id")
    if run_id is None:
        return
    run = records.get_run(workspace, int(run_id))
    if run.status in ("queued", "running"):
        records.fail_run(workspace, run.id, f"its worker stopped during trial {trial.number} (no heartbeat)")
