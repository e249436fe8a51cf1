"""Training runs: plan them (one per model and seed), execute them one after another with an
automatic evaluation of each finished run, and read what they recorded. Every step is reported as
a typed :mod:`run message <engine.workbench.run_messages>`: the command line prints them, the
desktop app reads them from the child process that executes its runs."""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.data.session_log import PreparedDataset
from engine.errors import Cancelled, WorkbenchError
from engine.progress import CancelToken
from engine.runs import records
from engine.runs.evaluate_run import dataset_settings, evaluate_run
from engine.runs.execute import execute_run
from engine.runs.labels import model_label, run_label
from engine.runs.models import MODELS, build_config, model_entry, presets_for
from engine.runs.planning import plan_runs
from engine.runs.records import RunSummary, get_run, list_runs
from engine.storage.catalog import load_prepared
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

#: Seconds between two progress messages of a run.
PROGRESS_EVERY_S = 1.0

MessageSink = Callable[[RunMessage], None]

__all__ = ["MODELS", "PROGRESS_EVERY_S", "RunCurves", "RunSummary", "build_config", "execute_runs", "get_run",
           "list_runs", "model_entry", "model_label", "plan_runs", "presets_for", "record_run_end", "run_curves",
           "run_label"]


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
    stops after a cancelled run (the rest stay queued). Each dataset is read once for its runs."""
    cancel = cancel or CancelToken()
    done: list[records.RunSummary] = []
    prepared: dict[int, PreparedDataset] = {}
    for run_id in run_ids:
        reporter = _RunReporter(run_id, send)
        dataset_id = records.get_run(workspace, run_id).dataset_id
        if dataset_id not in prepared:
            prepared[dataset_id] = load_prepared(workspace, dataset_id)
        run = execute_run(workspace, run_id, reporter.progress, cancel, reporter.on_epoch, reporter.on_started,
                          prepared[dataset_id])
        if run.status == "finished":
            _evaluate(workspace, run, reporter, cancel, prepared[dataset_id])
        send(RunFinished(run.id, run.status, run.error))
        done.append(run)
        if run.status == "cancelled":
            break
    return done


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


@dataclass(frozen=True)
class RunCurves:
    """What a run recorded per epoch: training loss and wall seconds (epochs from 1)."""

    run_id: int
    epochs: np.ndarray  # int64 [E]
    losses: np.ndarray  # float64 [E], NaN where the loss was not finite
    seconds: np.ndarray  # float64 [E]


def run_curves(workspace: Workspace, run_id: int) -> RunCurves:
    """The per-epoch curves of a run."""
    epochs, losses = records.metric_series(workspace, run_id, "train_loss")
    _, seconds = records.metric_series(workspace, run_id, "epoch_seconds")
    return RunCurves(run_id, epochs, losses, seconds)


def record_run_end(workspace: Workspace, run_id: int, status: str, error: str) -> None:
    """Record a final status ("cancelled" or "failed" with ``error``) for a run whose process
    could not record it (it never started, or died); a run already ended is left as it is."""
    if get_run(workspace, run_id).status not in ("queued", "running"):
        return
    if status == "cancelled":
        records.cancel_run(workspace, run_id)
    else:
        records.fail_run(workspace, run_id, error)
