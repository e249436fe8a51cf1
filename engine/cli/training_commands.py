"""CLI subcommands for runs: train (plan + execute), execute (queued runs), runs (list), models (the
registered models). Their handlers import the use cases when they run (see
:mod:`engine.cli.command`)."""
from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from engine.cli.command import Command
from engine.cli.formatting import render_table
from engine.errors import InputError
from engine.progress import CancelToken
from engine.registry.settings import MAX_SEED

if TYPE_CHECKING:
    from engine.workbench.run_messages import RunMessage
    from engine.workbench.training import RunSummary
    from engine.workbench.workspaces import Workspace

#: The kinds of model ``models --kind`` lists.
MODEL_KINDS = ("baseline", "neural")


def _declare_train(parser: argparse.ArgumentParser) -> None:
    from engine.workbench.training import MODELS

    parser.description = "Plan one run per seed and train them one after the other."
    parser.add_argument("dataset", help="dataset id or name")
    parser.add_argument("--model", required=True, choices=MODELS.names())
    parser.add_argument("--preset", help="a built-in preset (the recurrent networks: small, the default, or large, "
                        "the paper's Table 2, or gru4rec-official; SASRec: default or paper) or a saved one")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=int, help="number of seeds: 0, 1, ... N-1 (default 1)")
    seeds.add_argument("--seed", type=int, nargs="+", dest="seed_list", help="explicit seeds (--set seed=N is "
                       "the same as --seed N)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a hyper-parameter, e.g. --set epochs=3 --set loss=bpr-max")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--validation", action="store_true", help="train on the validation split (for tuning)")
    parser.add_argument("--jsonl", action="store_true", help="machine-readable progress on stdout")
    parser.set_defaults(handler=run_train)


def _declare_execute(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_ids", type=int, nargs="+", metavar="RUN_ID")
    parser.add_argument("--jsonl", action="store_true", help="machine-readable progress on stdout")
    parser.set_defaults(handler=run_execute)


def _declare_models(parser: argparse.ArgumentParser) -> None:
    parser.description = ("The registered models in the order tables show them: name (what --model takes), label, "
                          "kind, whether they use the user's past sessions, their session-only twin and presets. "
                          "With --names, the names alone, one per line (for scripts).")
    parser.add_argument("--kind", choices=MODEL_KINDS, help="only the baselines (fitted in one pass) or the neural "
                        "networks (trained in epochs)")
    parser.add_argument("--names", action="store_true", help="print the names alone, one per line")
    parser.set_defaults(handler=run_models, needs_workspace=False)


COMMANDS = (
    Command("train", "train a model (one run per seed) and record the runs", _declare_train),
    Command("execute", "execute queued runs (used by the desktop app)", _declare_execute),
    Command("models", "list the registered models (names for --model; --kind baseline|neural)", _declare_models),
)


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


def print_message(message: RunMessage) -> None:
    """A run message as a readable line on stderr (progress is left out)."""
    from engine.workbench.run_messages import RunEpoch, RunEvaluated, RunEvaluationFailed, RunStarted

    run = message.run
    if isinstance(message, RunStarted):
        print(f"run {run}: training on {message.device}", file=sys.stderr)
    elif isinstance(message, RunEpoch):
        loss = f"{message.loss:.5f}" if message.loss is not None else "not finite"
        print(f"run {run}: epoch {message.epoch}: loss {loss} ({message.seconds:.1f} s)", file=sys.stderr)
    elif isinstance(message, RunEvaluated):
        shown = ", ".join(f"{k} {v:.4f}" for k, v in message.metrics.items() if k.endswith("@5"))
        print(f"run {run}: evaluated on {message.n_events:,} test events: {shown}", file=sys.stderr)
    elif isinstance(message, RunEvaluationFailed):
        print(f"run {run}: evaluation failed: {message.error}", file=sys.stderr)


def emit_message(message: RunMessage) -> None:
    """A run message as one JSON line on stdout (what the desktop app reads)."""
    from engine.workbench.run_messages import encode

    print(encode(message), flush=True)


def execute_and_report(workspace: Workspace, run_ids: list[int], jsonl: bool) -> list[RunSummary]:
    """Execute (and evaluate) the runs, reporting as JSON lines or readable lines; SIGTERM cancels."""
    from engine.workbench.training import execute_runs

    cancel = CancelToken()
    with cancel_on_sigterm(cancel):
        return execute_runs(workspace, run_ids, emit_message if jsonl else print_message, cancel)


def _print_summary(runs: list[RunSummary], workspace: Workspace, run_ids: list[int] | None = None) -> None:
    """The runs as a table; ``run_ids``: the runs asked for, those deleted meanwhile shown as deleted."""
    from engine.workbench.training import model_label, run_exists, run_facts

    rows: list[tuple] = []
    gone = [run_id for run_id in run_ids or () if run_id not in {run.id for run in runs}
            and not run_exists(workspace, run_id)]
    facts = run_facts(workspace, runs)
    for run in runs:
        loss, seconds = facts[run.id].final_loss, facts[run.id].train_seconds
        rows.append((run.id, model_label(run), run.seed, run.status, run.device or "",
                     f"{loss:.4f}" if loss is not None else "", f"{seconds:.1f}" if seconds is not None else "",
                     run.error or ""))
    rows += [(run_id, "", "", "deleted", "", "", "", "deleted while it waited to train") for run_id in gone]
    rows.sort(key=lambda row: row[0])
    print(render_table(("run", "model", "seed", "status", "device", "final loss", "train s", "error"), rows))


def _exit_code(runs: list[RunSummary]) -> int:
    if any(run.status == "cancelled" for run in runs):
        return 130
    return 0 if all(run.status == "finished" for run in runs) else 3


def train_seeds(args: argparse.Namespace, overrides: dict[str, object]) -> list[int]:
    """The seeds of ``train``: ``--seed N...``, ``--seeds N`` (0 ... N-1), or ``--set seed=N`` (taken
    out of ``overrides``: the same as ``--seed N``); each within the seeds' range."""
    if "seed" in overrides:
        value = overrides.pop("seed")
        if args.seed_list is not None or args.seeds is not None:
            raise InputError("give the seeds one way: --seed N ..., --seeds N or --set seed=N")
        if not isinstance(value, int) or isinstance(value, bool):
            raise InputError(f"--set seed expects a whole number, not {value!r}")
        seeds = [value]
    else:
        seeds = args.seed_list if args.seed_list is not None else list(range(1 if args.seeds is None else args.seeds))
    if not seeds:
        raise InputError("--seeds must be at least 1")
    wrong = [seed for seed in seeds if not 0 <= seed <= MAX_SEED]
    if wrong:
        raise InputError(f"seed {wrong[0]} is out of range: a seed is a whole number from 0 to {MAX_SEED}; give "
                         "seeds with --seed N ... (or --seeds N for 0 ... N-1)")
    return seeds


def run_train(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.training import plan_runs

    overrides = parse_overrides(args.set)
    seeds = train_seeds(args, overrides)
    run_ids = plan_runs(workspace, args.dataset, args.model, seeds, args.preset, overrides,
                        args.device, validation=args.validation)
    runs = execute_and_report(workspace, run_ids, args.jsonl)
    if not args.jsonl:
        _print_summary(runs, workspace, run_ids)
    return _exit_code(runs)


def run_execute(args: argparse.Namespace, workspace: Workspace) -> int:
    runs = execute_and_report(workspace, args.run_ids, args.jsonl)
    if not args.jsonl:
        _print_summary(runs, workspace, args.run_ids)
    return _exit_code(runs)


def run_list(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.datasets import dataset_details
    from engine.workbench.training import list_runs

    dataset_id = None
    if args.dataset is not None:
        dataset_id = dataset_details(workspace, args.dataset).id
    runs = list_runs(workspace, dataset_id)
    if not runs:
        print("no runs yet; train one with: python main.py train DATASET --model hrnn-init")
        return 0
    _print_summary(runs, workspace)
    return 0


def run_models(args: argparse.Namespace, workspace: Workspace | None) -> int:
    from engine.workbench.training import MODELS

    entries = [entry for entry in MODELS if args.kind is None or entry.kind == args.kind]
    if args.names:
        print("\n".join(entry.name for entry in entries))
        return 0
    rows = [(entry.name, entry.label, entry.kind, "yes" if entry.personalized else "no", entry.session_twin or "",
             ", ".join(entry.presets)) for entry in entries]
    print(render_table(("model", "label", "kind", "personalized", "session twin", "presets"), rows))
    return 0
