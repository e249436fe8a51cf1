"""CLI subcommands for runs: train (plan + execute), execute (queued runs), runs (list)."""
from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from engine.cli.formatting import render_table
from engine.data.session_log import PreparedDataset
from engine.errors import Cancelled, InputError, WorkbenchError
from engine.evaluation.evaluator import EvaluationSettings
from engine.progress import CancelToken
from engine.runs import records
from engine.runs.evaluate_run import dataset_settings, evaluate_run
from engine.runs.execute import execute_run
from engine.runs.models import MODEL_LABELS, MODELS, NEURAL_MODELS
from engine.runs.saved_presets import save_preset
from engine.runs.search import SEARCH_SPACE, Trial, best_config, random_search
from engine.runs.planning import plan_runs
from engine.storage import catalog
from engine.storage.catalog import load_prepared
from engine.storage.workspace import Workspace

PROGRESS_EVERY_S = 1.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a model (one run per seed) and record the runs",
                                   description="Plan one run per seed and train them one after the other.")
    parser.add_argument("dataset", help="dataset id or name")
    parser.add_argument("--model", required=True, choices=MODELS)
    parser.add_argument("--preset", help="small (default) or large for neural models (the paper's Table 2)")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=int, default=1, help="number of seeds: 0, 1, ... N-1 (default 1)")
    seeds.add_argument("--seed", type=int, nargs="+", dest="seed_list", help="explicit seeds")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a hyper-parameter, e.g. --set epochs=3 --set loss=bpr-max")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--validation", action="store_true", help="train on the validation split (for tuning)")
    parser.add_argument("--jsonl", action="store_true", help="machine-readable progress on stdout")
    parser.set_defaults(handler=run_train)

    parser = subparsers.add_parser("execute", help="execute queued runs (used by the desktop app)")
    parser.add_argument("run_ids", type=int, nargs="+", metavar="RUN_ID")
    parser.add_argument("--jsonl", action="store_true", help="machine-readable progress on stdout")
    parser.set_defaults(handler=run_execute)

    parser = subparsers.add_parser("tune", help="random hyper-parameter search on the validation split",
                                   description="Each trial trains on the validation split's training part and is "
                                               "scored on its test part; trials are runs in the workspace.")
    parser.add_argument("dataset", help="dataset id or name")
    parser.add_argument("--model", required=True, choices=NEURAL_MODELS)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--metric", default="recall@5", help="what to maximise (default recall@5)")
    parser.add_argument("--epochs", type=int, help="epochs per trial (default: the preset's)")
    parser.add_argument("--search-seed", type=int, default=0)
    parser.add_argument("--study", help="name of the search (default: tune-MODEL-N)")
    parser.add_argument("--save-preset", metavar="NAME", help="save the best configuration as preset NAME "
                        "(then: train --model MODEL --preset NAME)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.set_defaults(handler=run_tune)

    parser = subparsers.add_parser("runs", help="list runs (of one dataset)")
    parser.add_argument("dataset", nargs="?", help="dataset id or name (default: all)")
    parser.set_defaults(handler=run_list)


def parse_overrides(pairs: list[str]) -> dict[str, object]:
    """``name=value`` pairs; values parsed as JSON where possible (numbers, true/false), else text."""
    overrides: dict[str, object] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--set expects NAME=VALUE, got {pair!r}")
        try:
            overrides[name.strip()] = json.loads(text)
        except json.JSONDecodeError:
            overrides[name.strip()] = text
    return overrides


@contextmanager
def cancel_on_sigterm(cancel: CancelToken) -> Iterator[None]:
    """SIGTERM (the desktop app's cancel) and Ctrl-C set the token instead of killing the process."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda *_: cancel.cancel())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class RunReporter:
    """Prints a run's progress: readable lines on stderr, or the JSON-lines protocol on stdout."""

    def __init__(self, run_id: int, jsonl: bool) -> None:
        self.run_id, self.jsonl = run_id, jsonl
        self.started = time.perf_counter()
        self.last = -math.inf

    def emit(self, **event: object) -> None:
        if self.jsonl:
            print(json.dumps({**event, "run": self.run_id}), flush=True)

    def on_started(self, device: str) -> None:
        self.started = time.perf_counter()
        self.emit(event="started", device=device)
        if not self.jsonl:
            print(f"run {self.run_id}: training on {device}", file=sys.stderr)

    def progress(self, fraction: float, message: str) -> None:
        now = time.perf_counter()
        if now - self.last < PROGRESS_EVERY_S and fraction < 1.0:
            return
        self.last = now
        elapsed = now - self.started
        eta = elapsed * (1.0 - fraction) / fraction if fraction > 0.01 else None
        self.emit(event="progress", fraction=round(fraction, 4), message=message,
                  eta_s=None if eta is None else round(eta, 1))

    def on_epoch(self, epoch: int, loss: float, seconds: float) -> None:
        self.emit(event="epoch", epoch=epoch, loss=loss if math.isfinite(loss) else None, seconds=round(seconds, 3))
        if not self.jsonl:
            print(f"run {self.run_id}: epoch {epoch}: loss {loss:.5f} ({seconds:.1f} s)", file=sys.stderr)

    def on_finished(self, run: records.RunSummary) -> None:
        self.emit(event="finished", status=run.status, error=run.error)


def execute_runs(workspace: Workspace, run_ids: list[int], jsonl: bool) -> list[records.RunSummary]:
    """Execute runs in order; stops after a cancelled one (the rest stay queued)."""
    cancel = CancelToken()
    finished: list[records.RunSummary] = []
    prepared: dict[int, PreparedDataset] = {}  # each dataset read once for all its runs
    with cancel_on_sigterm(cancel):
        for run_id in run_ids:
            reporter = RunReporter(run_id, jsonl)
            dataset_id = records.get_run(workspace, run_id).dataset_id
            if dataset_id not in prepared:
                prepared[dataset_id] = load_prepared(workspace, dataset_id)
            run = execute_run(workspace, run_id, reporter.progress, cancel, reporter.on_epoch, reporter.on_started,
                              prepared[dataset_id])
            if run.status == "finished":
                run = _evaluate(workspace, run, reporter, cancel, prepared[dataset_id])
            reporter.on_finished(run)
            finished.append(run)
            if run.status == "cancelled":
                break
    return finished


def _evaluate(workspace: Workspace, run: records.RunSummary, reporter: "RunReporter",
              cancel: CancelToken, prepared: PreparedDataset) -> records.RunSummary:
    """Evaluate a finished run with the default settings; an evaluation error is reported on the
    run (it stays finished: its training is valid)."""
    try:
        settings = dataset_settings(workspace, run.dataset_id)
        evaluation = evaluate_run(workspace, run.id, settings, reporter.progress, cancel, prepared)
    except Cancelled:
        return run
    except WorkbenchError as exc:
        reporter.emit(event="evaluation_failed", error=str(exc))
        if not reporter.jsonl:
            print(f"run {run.id}: evaluation failed: {exc}", file=sys.stderr)
        return run
    reporter.emit(event="evaluated", metrics=evaluation.metrics["event"], n_events=evaluation.n_events)
    if not reporter.jsonl:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in evaluation.metrics["event"].items() if k.endswith("@5"))
        print(f"run {run.id}: evaluated on {evaluation.n_events:,} test events: {shown}", file=sys.stderr)
    return run


def _print_summary(runs: list[records.RunSummary], workspace: Workspace) -> None:
    rows = []
    for run in runs:
        _, losses = records.metric_series(workspace, run.id, "train_loss")
        _, seconds = records.metric_series(workspace, run.id, "epoch_seconds")
        rows.append((run.id, MODEL_LABELS[run.model], run.seed, run.status, run.device or "",
                     f"{losses[-1]:.4f}" if len(losses) else "", f"{seconds.sum():.1f}" if len(seconds) else "",
                     run.error or ""))
    print(render_table(("run", "model", "seed", "status", "device", "final loss", "train s", "error"), rows))


def _exit_code(runs: list[records.RunSummary]) -> int:
    if any(run.status == "cancelled" for run in runs):
        return 130
    return 0 if all(run.status == "finished" for run in runs) else 3


def run_train(args: argparse.Namespace, workspace: Workspace) -> int:
    seeds = args.seed_list if args.seed_list is not None else list(range(args.seeds))
    if not seeds:
        raise InputError("--seeds must be at least 1")
    run_ids = plan_runs(workspace, args.dataset, args.model, seeds, args.preset, parse_overrides(args.set),
                        args.device, validation=args.validation)
    runs = execute_runs(workspace, run_ids, args.jsonl)
    if not args.jsonl:
        _print_summary(runs, workspace)
    return _exit_code(runs)


def run_execute(args: argparse.Namespace, workspace: Workspace) -> int:
    runs = execute_runs(workspace, args.run_ids, args.jsonl)
    if not args.jsonl:
        _print_summary(runs, workspace)
    return _exit_code(runs)


def run_list(args: argparse.Namespace, workspace: Workspace) -> int:
    dataset_id = None
    if args.dataset is not None:
        with workspace.session() as session:
            dataset_id = catalog.find_dataset(session, args.dataset).id
    runs = records.list_runs(workspace, dataset_id)
    if not runs:
        print("no runs yet; train one with: python main.py train DATASET --model hrnn-init")
        return 0
    _print_summary(runs, workspace)
    return 0


def run_tune(args: argparse.Namespace, workspace: Workspace) -> int:
    study = args.study or f"tune-{args.model}-{len(records.list_runs(workspace)) + 1}"
    print(f"search '{study}': {args.trials} trials of {args.model} scored by {args.metric} on the validation split",
          file=sys.stderr)
    print("space: " + "; ".join(f"{name} {space}" for name, space in SEARCH_SPACE.items()), file=sys.stderr)

    def on_trial(trial: Trial) -> None:
        shown = ", ".join(f"{k}={v}" for k, v in trial.overrides.items())
        print(f"  run {trial.run_id}: {args.metric} {trial.score:.4f} ({trial.status}) {shown}", file=sys.stderr)

    cancel = CancelToken()
    with cancel_on_sigterm(cancel):
        trials = random_search(workspace, args.dataset, args.model, args.trials, study, args.metric, args.epochs,
                               args.search_seed, args.device, cancel=cancel, on_trial=on_trial)
    keys = sorted({key for trial in trials for key in trial.overrides})
    rows = [(t.run_id, f"{t.score:.4f}" if math.isfinite(t.score) else t.status,
             *(t.overrides.get(key, "") for key in keys)) for t in trials]
    print(render_table(("run", args.metric, *keys), rows))
    if args.save_preset:
        config = best_config(workspace, trials)
        save_preset(workspace, args.save_preset, args.model, config, note=f"best of search {study} by {args.metric}")
        print(f"saved the best configuration (run {trials[0].run_id}) as preset '{args.save_preset}'")
    return 0
