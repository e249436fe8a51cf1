"""Training runs: plan them (one per model and seed), execute them one after another with an
automatic evaluation of each finished run, and read what they recorded. Every step is reported as
a typed :mod:`run message <engine.workbench.run_messages>`: the command line prints them, the
desktop app reads them from the child process that executes its runs."""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.data.session_log import PreparedDataset
from engine.errors import Cancelled, NotFoundError, WorkbenchError
from engine.progress import CancelToken, ProgressCallback
from engine.runs import records
from engine.runs.evaluate_run import dataset_settings, evaluate_run, find_run_evaluation
from engine.runs.execute import execute_run
from engine.runs.labels import model_label, run_label
from engine.runs.models import MODELS, build_config, model_entry, presets_for
from engine.runs.planning import plan_runs
from engine.runs.records import RETRYABLE, RunSummary, get_run, list_runs
from engine.storage.catalog import load_prepared
from engine.storage.runs import EPOCH_SECONDS, TRAIN_LOSS
from engine.storage.workspace import Workspace
from engine.workbench.run_messages import (
    RunEpoch,
    RunEvaluated,
    RunEvaluationFailed,
    RunFinished,
    RunMessage,
    RunProgress,
    RunStarted,
)

log = logging.getLogger(__name__)

#: Seconds between two progress messages of a run.
PROGRESS_EVERY_S = 1.0

MessageSink = Callable[[RunMessage], None]

__all__ = ["LOSS_KEY", "MODELS", "PROGRESS_EVERY_S", "RETRYABLE", "RunCurves", "RunFacts", "RunPlan", "RunSummary",
           "build_config", "execute_runs", "get_run", "list_runs", "load_curves", "model_entry", "model_label",
           "plan_runs", "plan_runs_at", "presets_for", "record_run_end", "record_run_end_at", "run_curves",
           "run_exists", "run_facts", "run_label", "validate_plans"]


class _RunReporter:
    """Turns one run's engine callbacks into messages (progress at most every PROGRESS_EVERY_S)."""

    def __init__(self, run_id: int, send: MessageSink) -> None:
        self.run_id, self.send = run_id, send
        self.started = time.perf_counter()
        self.last = -math.inf

    def on_started(self, device: str) -> None:
        self.started = time.perf_counter()
        self.send(RunStarted(self.run_id, device))

    def progress(self, fraction: float, message: str) -> None:
        now = time.perf_counter()
        if now - self.last < PROGRESS_EVERY_S and fraction < 1.0:
            return
        self.last = now
        elapsed = now - self.started
        eta = elapsed * (1.0 - fraction) / fraction if fraction > 0.01 else None
        self.send(RunProgress(self.run_id, round(fraction, 4), message, None if eta is None else round(eta, 1)))

    def on_epoch(self, epoch: int, loss: float, seconds: float) -> None:
        self.send(RunEpoch(self.run_id, epoch, loss if math.isfinite(loss) else None, round(seconds, 3)))


def execute_runs(workspace: Workspace, run_ids: Sequence[int], send: MessageSink,
                 cancel: CancelToken | None = None) -> list[records.RunSummary]:
    """Execute queued runs in order, evaluating each finished one under its dataset's setting;
    stops after a cancelled run (the rest stay queued), skips a run deleted while it waited (it
    is not among the runs returned). Each dataset is read once for its runs."""
    cancel = cancel or CancelToken()
    done: list[records.RunSummary] = []
    prepared: dict[int, PreparedDataset] = {}
    for run_id in run_ids:
        reporter = _RunReporter(run_id, send)
        try:
            dataset_id = records.get_run(workspace, run_id).dataset_id
            if dataset_id not in prepared:
                prepared[dataset_id] = load_prepared(workspace, dataset_id)
            run = execute_run(workspace, run_id, reporter.progress, cancel, reporter.on_epoch, reporter.on_started,
                              prepared[dataset_id])
        except NotFoundError:
            if run_exists(workspace, run_id):
                raise
            log.info("run %d was deleted before it ran: skipped", run_id)
            continue
        if run.status == "finished":
            _evaluate(workspace, run, reporter, cancel, prepared[dataset_id])
        send(RunFinished(run.id, run.status, run.error))
        done.append(run)
        if run.status == "cancelled":
            break
    return done


def run_exists(workspace: Workspace, run_id: int) -> bool:
    """Whether the run is (still) in the workspace."""
    try:
        get_run(workspace, run_id)
    except NotFoundError:
        return False
    return True


def _evaluate(workspace: Workspace, run: records.RunSummary, reporter: _RunReporter, cancel: CancelToken,
              prepared: PreparedDataset) -> None:
    """Evaluate a finished run under its dataset's setting; a failed evaluation is reported, the
    run stays finished (its training is valid)."""
    try:
        evaluation = evaluate_run(workspace, run.id, dataset_settings(workspace, run.dataset_id), reporter.progress,
                                  cancel, prepared)
    except Cancelled:
        return
    except WorkbenchError as exc:
        reporter.send(RunEvaluationFailed(run.id, str(exc)))
        return
    reporter.send(RunEvaluated(run.id, dict(evaluation.metrics["event"]), evaluation.n_events))


#: The per-epoch training loss every network records; the wall seconds of each epoch (the store's series keys).
LOSS_KEY, SECONDS_KEY = TRAIN_LOSS, EPOCH_SECONDS


@dataclass(frozen=True)
class RunCurves:
    """What a run recorded per epoch: training loss and wall seconds (epochs from 1), and every
    other per-epoch series (e.g. a validation metric while tuning) by its key."""

    run_id: int
    epochs: np.ndarray  # int64 [E]
    losses: np.ndarray  # float64 [E], NaN where the loss was not finite
    seconds: np.ndarray  # float64 [E]
    series: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # key -> (epochs, values)


def _curves(run_id: int, series: dict[str, tuple[np.ndarray, np.ndarray]]) -> RunCurves:
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
    epochs, losses = series.get(LOSS_KEY, empty)
    seconds = series.get(SECONDS_KEY, empty)[1]
    per_epoch = {key: values for key, values in series.items() if key != SECONDS_KEY and len(values[0])
                 and int(values[0].min()) >= 1}  # step 0 holds a run's totals (e.g. its throughput)
    return RunCurves(run_id, epochs, losses, seconds, per_epoch)


def run_curves(workspace: Workspace, run_id: int) -> RunCurves:
    """The per-epoch curves of a run."""
    return _curves(run_id, records.metric_tables(workspace, [run_id]).get(run_id, {}))


def load_curves(url: str, run_ids: list[int], progress: ProgressCallback, cancel: CancelToken) -> dict[int, RunCurves]:
    """The per-epoch curves of runs in the workspace at ``url`` (a background job's work)."""
    with Workspace(url) as workspace:
        tables = records.metric_tables(workspace, run_ids)
    return {run_id: _curves(run_id, tables.get(run_id, {})) for run_id in run_ids}


@dataclass(frozen=True)
class RunFacts:
    """What a run's table row shows beside its record: the final training loss, the epochs and
    their seconds, and the test metrics of its evaluation under its dataset's setting (averages
    over events, e.g. ``{"recall@10": 0.21}``; empty when not evaluated)."""

    final_loss: float | None
    epochs: int
    train_seconds: float | None
    metrics: dict[str, float]


def run_facts(workspace: Workspace, runs: Sequence[RunSummary]) -> dict[int, RunFacts]:
    """:class:`RunFacts` of each run."""
    tables = records.metric_tables(workspace, [run.id for run in runs])
    settings = {dataset_id: dataset_settings(workspace, dataset_id) for dataset_id in {run.dataset_id for run in runs}}
    facts: dict[int, RunFacts] = {}
    for run in runs:
        series = tables.get(run.id, {})
        losses = series.get(LOSS_KEY, (np.zeros(0), np.zeros(0)))[1]
        seconds = series.get(SECONDS_KEY, (np.zeros(0), np.zeros(0)))[1]
        metrics: dict[str, float] = {}
        if run.status == "finished":
            found = find_run_evaluation(workspace, run, settings[run.dataset_id])
            if found is not None:
                metrics = {key: float(value) for key, value in dict(found[0].metrics.get("event", {})).items()}
        facts[run.id] = RunFacts(float(losses[-1]) if len(losses) else None, len(losses),
                                 float(seconds.sum()) if len(seconds) else None, metrics)
    return facts


@dataclass(frozen=True)
class RunPlan:
    """Runs of one model to plan: its preset and the settings changed from it."""

    model: str
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


def validate_plans(plans: Sequence[RunPlan], seeds: Sequence[int], device: str = "auto") -> None:
    """ConfigError (naming the setting by its label) for the first plan whose configuration is not
    valid; nothing is stored. Saved presets are checked when planned."""
    for plan in plans:
        overrides = dict(plan.overrides)
        if model_entry(plan.model).neural:
            overrides.setdefault("device", device)
        if plan.preset is None or plan.preset in presets_for(plan.model):
            for seed in seeds[:1]:
                build_config(plan.model, plan.preset, overrides, seed)


def plan_runs_at(url: str, dataset_id: int, plans: Sequence[RunPlan], seeds: Sequence[int], device: str,
                 progress: ProgressCallback, cancel: CancelToken) -> list[int]:
    """Queue one run per plan and seed in the workspace at ``url`` (every plan is validated before
    any run is stored); returns the run ids in order (a background job's work)."""
    validate_plans(plans, seeds, device)
    with Workspace(url) as workspace:
        return [run_id for plan in plans
                for run_id in plan_runs(workspace, dataset_id, plan.model, seeds, plan.preset, plan.overrides, device)]


def record_run_end(workspace: Workspace, run_id: int, status: str, error: str) -> None:
    """Record a final status ("cancelled" or "failed" with ``error``) for a run whose process
    could not record it (it never started, or died); a run already ended, or deleted, is left as it is."""
    if not run_exists(workspace, run_id) or get_run(workspace, run_id).status not in ("queued", "running"):
        return
    if status == "cancelled":
        records.cancel_run(workspace, run_id)
    else:
        records.fail_run(workspace, run_id, error)


def record_run_end_at(url: str, run_id: int, status: str, error: str, progress: ProgressCallback,
                      cancel: CancelToken) -> None:
    """:func:`record_run_end` in the workspace at ``url`` (a background job's work)."""
    with Workspace(url) as workspace:
        record_run_end(workspace, run_id, status, error)
