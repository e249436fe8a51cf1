"""CLI subcommands for tuning: tune (start or resume a study, with worker processes), tune-worker
(join a study, here or on another machine), compare (tune every model with one budget, then a
fair verdict on the test split). Their handlers import the use cases when they run (see
:mod:`engine.cli.command`)."""
from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING

from engine.cli.command import Command
from engine.cli.evaluation_commands import format_comparison
from engine.cli.formatting import format_duration, parse_duration, render_table
from engine.cli.training_commands import cancel_on_sigterm, parse_overrides, print_message
from engine.errors import Cancelled, InputError
from engine.progress import CancelToken

if TYPE_CHECKING:
    from engine.workbench.tuning import StudyRun, StudySpec, TrialOutcome
    from engine.workbench.workspaces import Workspace

EXIT_CANCELLED = 130
EXIT_NOTHING_COMPLETED = 3
#: Trials listed at the end of ``tune`` (the best ones).
TRIALS_SHOWN = 10


def _add_search_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.workbench.tuning import DEFAULT_PATIENCE, DEFAULT_PRUNER, DEFAULT_VALIDATION_USERS, PRUNERS, SAMPLERS

    parser.add_argument("--metric", default="recall@5", help="what to maximise on the validation split (default "
                        "recall@5)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1); "
                        "more join from other machines with tune-worker")
    parser.add_argument("--sampler", default="tpe", help=f"{' or '.join(SAMPLERS)} (default tpe)")
    parser.add_argument("--pruner", default=DEFAULT_PRUNER, help=f"{', '.join(PRUNERS)}: hyperband trains a network's "
                        "trials for 1, 3, 9 ... epochs (rungs) and keeps the best third at each; median stops a trial "
                        f"below the median of earlier trials at the same epoch (default {DEFAULT_PRUNER}; a resumed "
                        "study keeps its own)")
    parser.add_argument("--patience", type=int, default=DEFAULT_PATIENCE, help="stop a trial after this many "
                        f"epochs without a better validation score (default {DEFAULT_PATIENCE}; 0: never)")
    parser.add_argument("--validation-users", default=str(DEFAULT_VALIDATION_USERS), metavar="N|all",
                        help=f"validation users each epoch is scored on, a fixed sample (default "
                             f"{DEFAULT_VALIDATION_USERS})")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="fix a setting for every trial (it is then not searched), e.g. --set epochs=5")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--search-seed", type=int, help="seed of the samplers (worker i: seed + i), for a search "
                        "that repeats with one worker (default: random)")


def _declare_tune(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Start a study, or resume it (same --study name, or the default one): each trial trains on the validation "
        "split's training part and is scored after every epoch on a fixed sample of its users; trials below the "
        "median are pruned, trials that stop improving stop early. Every trial is a run in the workspace. Workers "
        "on other machines join with tune-worker.")
    parser.add_argument("dataset", help="dataset id or name")
    parser.add_argument("--model", required=True, help="the model to tune")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--trials", type=int, help="trials in all, resumed ones included (default 20)")
    budget.add_argument("--time", help="tune for this long, e.g. 30m or 2h")
    parser.add_argument("--study", help="the study's name (default tune-DATASET_ID-MODEL, resumed when it exists)")
    parser.add_argument("--save-preset", metavar="NAME", help="save the best configuration as preset NAME "
                        "(then: train --model MODEL --preset NAME)")
    _add_search_arguments(parser)
    parser.set_defaults(handler=run_tune)


def _declare_tune_worker(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Join study STUDY of the workspace (for another machine: the same --workspace URL, e.g. "
                          "postgresql+psycopg://user@host/db) and run its trials until its budget is spent.")
    parser.add_argument("study", help="the study's name")
    parser.add_argument("--seed", type=int, help="seed of this worker's sampler (default: random)")
    parser.set_defaults(handler=run_tune_worker)


def _declare_compare(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Tune every chosen model with the same budget on the validation split, train each one's best configuration "
        "with several seeds on the full training split, evaluate on the test split, and print the comparison "
        "(Table 3 layout, Wilcoxon marks against RNN) with a verdict in plain sentences. The verdict is stored with "
        "the workspace.")
    parser.add_argument("dataset", help="dataset id or name")
    parser.add_argument("--models", nargs="+", default=[], metavar="MODEL", help="the models (default: all)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--budget", help="tuning time per model, e.g. 30m (default: 20 trials per model)")
    budget.add_argument("--trials", type=int, help="tuning trials per model")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of each network's final training (default 5)")
    _add_search_arguments(parser)
    parser.set_defaults(handler=run_compare)


COMMANDS = (
    Command("tune", "tune a model on the validation split (Optuna; resumable, several workers)", _declare_tune),
    Command("tune-worker", "work on an existing study (from this or another machine)", _declare_tune_worker),
    Command("compare", "a fair verdict: tune every model with one budget, train the best with seeds, compare",
            _declare_compare),
)


def validation_users(text: str) -> int | None:
    """``all`` -> None, else a positive number of users."""
    if text.strip().lower() == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"--validation-users expects a number of users or 'all', not {text!r}") from None
    if value < 1:
        raise InputError(f"--validation-users must be at least 1 (or 'all'), not {value}")
    return value


def budget_seconds(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _settings_text(params: dict) -> str:
    return " ".join(f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}"
                    for key, value in sorted(params.items()))


def trial_line(trial: TrialOutcome, metric: str) -> str:
    """One finished trial, for the progress on stderr."""
    score = f"{metric or 'score'} {trial.value:.4f}" if math.isfinite(trial.value) else "no score"
    epoch = f" at epoch {trial.best_epoch}" if trial.best_epoch else ""
    if trial.epochs is not None and not trial.reason.startswith("pruned at rung"):
        rung = f", rung {trial.rung}" if trial.rung is not None else ""
        epoch += f" ({trial.epochs} epoch{'s' if trial.epochs != 1 else ''} trained{rung})"
    run = f" run {trial.run_id}{' (deleted)' if trial.run_deleted else ''}" if trial.run_id is not None else ""
    reason = f" ({trial.reason})" if trial.reason else ""
    defaults = " [the defaults]" if trial.defaults else ""
    return (f"  trial {trial.number} {trial.state}: {score}{epoch}{run}{reason}  {_settings_text(trial.params)}"
            f"{defaults}")


def describe_study(spec: StudySpec, workers: int) -> str:
    from engine.workbench.tuning import describe_pruner

    users = "every validation user" if spec.validation_users is None else f"{spec.validation_users:,} validation users"
    return (f"study '{spec.name}': {spec.model} on '{spec.dataset_name}', maximising {spec.metric} on {users}, "
            f"{spec.sampler} sampler, {describe_pruner(spec)}, patience {spec.patience or 'off'}; budget "
            f"{spec.describe_budget()}; {workers} worker{'s' if workers != 1 else ''}")


def _run_cell(trial: TrialOutcome) -> str:
    if trial.run_id is None:
        return ""
    return f"{trial.run_id} (deleted)" if trial.run_deleted else str(trial.run_id)


def print_trials(run: StudyRun, metric: str) -> None:
    """The best trials of a study as a table on stdout."""
    ranked = sorted(run.view.trials, key=lambda t: (t.state != "complete", -t.value if math.isfinite(t.value)
                                                    else math.inf, t.number))
    rows = [(t.number, t.state, f"{t.value:.4f}" if math.isfinite(t.value) else "", t.best_epoch or "",
             "" if t.epochs is None else t.epochs, "" if t.rung is None else t.rung, _run_cell(t),
             _settings_text(t.params)) for t in ranked[:TRIALS_SHOWN]]
    print(render_table(("trial", "state", metric, "epoch", "trained", "rung", "run", "settings"), rows,
                       align_right={0, 2, 3, 4, 5, 6}))
    counts = ", ".join(f"{run.view.count(state)} {state}" for state in ("complete", "pruned", "failed", "running",
                                                                          "waiting") if run.view.count(state))
    print(f"{len(run.view.trials)} trials ({counts or 'none'}) in {format_duration(round(run.seconds))}")


def run_tune(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.tuning import (
        TuningRequest,
        check_workers,
        prepare_study,
        run_study,
        save_best_as_preset,
        search_space_text,
    )

    seconds = budget_seconds(args.time)
    trials = args.trials if args.trials is not None or seconds is not None else 20
    request = TuningRequest(args.dataset, args.model, trials, seconds, args.metric, args.study, args.sampler,
                            args.pruner, args.patience, parse_overrides(args.set),
                            validation_users(args.validation_users), args.device)
    if args.workers < 1:
        raise InputError(f"--workers must be at least 1, not {args.workers}")
    check_workers(workspace, args.dataset, args.workers)
    spec = prepare_study(workspace, request)
    print(describe_study(spec, args.workers), file=sys.stderr)
    print("space: " + search_space_text(spec.model, spec.fixed), file=sys.stderr)
    cancel = CancelToken()
    with cancel_on_sigterm(cancel):
        run = run_study(workspace, spec.name, args.workers, cancel=cancel, seed=args.search_seed,
                        on_trial=lambda trial: print(trial_line(trial, spec.metric), file=sys.stderr))
    print_trials(run, spec.metric)
    for error in run.worker_errors:
        print(f"warning: {error}", file=sys.stderr)
    if run.cancelled:
        print(f"cancelled: run the same command again to resume study '{spec.name}'", file=sys.stderr)
        return EXIT_CANCELLED
    best = run.view.best
    if best is None:
        print("no trial completed: nothing to use (see the reasons above)", file=sys.stderr)
        return EXIT_NOTHING_COMPLETED
    run_text = f"its run #{best.run_id} was deleted" if best.run_deleted else f"run {best.run_id}"
    print(f"best: trial {best.number} ({run_text}), {spec.metric} {best.value:.4f} on the validation sample")
    if args.save_preset:
        saved = save_best_as_preset(workspace, spec.name, args.save_preset)
        source = " from the trial's own settings" if saved.note else ""
        print(f"saved the best configuration{source} as preset '{args.save_preset}' (train --model {spec.model} "
              f"--preset {args.save_preset})")
    return 0


def run_tune_worker(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.tuning import run_worker

    cancel = CancelToken()
    with cancel_on_sigterm(cancel):
        outcomes = run_worker(workspace, args.study, cancel=cancel, seed=args.seed,
                              on_trial=lambda trial: print(trial_line(trial, ""), file=sys.stderr))
    print(f"worker done: {len(outcomes)} trials of study '{args.study}'", file=sys.stderr)
    return EXIT_CANCELLED if cancel.cancelled else 0


def announce_comparison(comparison_id: int, resumed: bool) -> None:
    if resumed:
        print(f"resuming comparison #{comparison_id}: its tuned models and finished runs are kept", file=sys.stderr)


def run_compare(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.compare import CompareRequest, compare

    if "seed" in parse_overrides(args.set):
        raise InputError("compare tunes every trial with seed 0 and trains each best configuration with the seeds "
                         "0 ... N-1 of --seeds N: it takes no --set seed (tune --set seed=N fixes a study's seed)")
    seconds = budget_seconds(args.budget)
    trials = args.trials if args.trials is not None or seconds is not None else 20
    request = CompareRequest(args.dataset, tuple(args.models), trials, seconds, args.seeds, args.workers, args.metric,
                             args.sampler, args.pruner, args.patience, parse_overrides(args.set),
                             validation_users(args.validation_users), args.device, args.search_seed)
    current = [""]

    def on_trial(model: str, trial: TrialOutcome) -> None:
        if model != current[0]:
            current[0] = model
            print(f"tuning {model}:", file=sys.stderr)
        print(trial_line(trial, args.metric), file=sys.stderr)

    cancel = CancelToken()
    try:
        with cancel_on_sigterm(cancel):
            outcome = compare(workspace, request, cancel=cancel, send=print_message, on_trial=on_trial,
                              on_start=announce_comparison)
    except Cancelled as exc:
        print(f"{exc} (the same command)", file=sys.stderr)
        return EXIT_CANCELLED
    print(f"\n{outcome.dataset_name}: tuned models, test split")
    print(format_comparison(outcome.table, list(outcome.ks)))
    print(f"* = differs from {outcome.reference} with p < 0.01 (Wilcoxon signed-rank, paired by event)")
    print(outcome.protocol)
    print()
    print(outcome.verdict.text)
    print(f"\nstored as comparison #{outcome.comparison_id}; its runs are labelled 'tuned #{outcome.comparison_id}'")
    return 0
