"""CLI subcommands for results: evaluate (runs), report (a dataset's comparison and breakdowns), demo."""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

import pandas as pd

from engine.cli.formatting import render_statistics, render_table
from engine.errors import EmptyResultError
from engine.evaluation.breakdowns import BREAKDOWNS
from engine.evaluation.comparison import LEVELS
from engine.evaluation.evaluator import EvaluationSettings
from engine.evaluation.metrics import DEFAULT_CUTOFFS, metric_names
from engine.evaluation.popularity import candidates_phrase
from engine.evaluation.significance import Level
from engine.runs import records
from engine.runs.evaluate_run import dataset_settings, evaluate_run
from engine.runs.labels import model_label
from engine.storage import catalog
from engine.storage.workspace import Workspace
from engine.workbench.demo import DEMO_EPOCHS, default_demo_folder, fresh_demo_workspace, run_demo
from engine.workbench.results import DatasetResults, breakdown, collect_results, comparison, dataset_popularity
from engine.workbench.verdict import build_verdict, untuned_note

#: What the demo's closing sentences read from its table.
DEMO_METRIC = "recall@5"


def add_evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("evaluation")
    group.add_argument("--k", type=int, nargs="+", default=list(DEFAULT_CUTOFFS),
                       help=f"cut-offs (default {' '.join(map(str, DEFAULT_CUTOFFS))})")
    group.add_argument("--ties", choices=("standard", "conservative", "median"), default="standard",
                       help="how items scored equal to the target count (default standard)")
    group.add_argument("--candidates", type=parse_candidates, default=None, metavar="N|all",
                       help="rank among the N most popular items plus the target, or among all items "
                            "(default: the dataset's setting; see 'datasets')")


def parse_candidates(text: str) -> int:
    """``all`` -> 0 (every item), else a positive number of candidates."""
    if text.strip().lower() == "all":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of items or 'all', not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"the number of candidates must be at least 1 (or 'all'), not {value}")
    return value


def evaluation_settings(args: argparse.Namespace, workspace: Workspace, dataset_id: int) -> EvaluationSettings:
    """The settings the arguments ask for; without ``--candidates``, the dataset's default."""
    settings = EvaluationSettings(ks=tuple(sorted(set(args.k))), tie_mode=args.ties)
    if args.candidates is None:
        return dataset_settings(workspace, dataset_id, settings)
    return dataclasses.replace(settings, n_candidates=args.candidates or None)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="evaluate finished runs (stores per-event ranks)")
    parser.add_argument("run_ids", type=int, nargs="+", metavar="RUN_ID")
    add_evaluation_arguments(parser)
    parser.set_defaults(handler=run_evaluate)

    parser = subparsers.add_parser("report", help="Table-3-style comparison of a dataset's runs")
    parser.add_argument("dataset", help="dataset id or name")
    add_evaluation_arguments(parser)
    parser.add_argument("--breakdown", choices=BREAKDOWNS.names(), action="append", default=[],
                        help=f"also print a breakdown ({', '.join(BREAKDOWNS.names())}); repeatable")
    parser.add_argument("--reference", help="model the significance marks compare against (default RNN)")
    parser.add_argument("--level", choices=LEVELS, default="event",
                        help="pair the Wilcoxon test by event, session or user (default event)")
    parser.add_argument("--csv", type=Path, help="also write the comparison table to this CSV file")
    parser.set_defaults(handler=run_report)

    parser = subparsers.add_parser("demo", help="train and compare the paper's models on the synthetic demo log",
                                   description="Import the seeded synthetic demo log into a workspace of its own "
                                               "(kept afterwards, to open in the desktop app), train and evaluate "
                                               "the paper's baselines and networks, and print the comparison.")
    parser.add_argument("--epochs", type=int, default=DEMO_EPOCHS, help=f"epochs of the neural models "
                        f"(default {DEMO_EPOCHS})")
    parser.add_argument("--seeds", type=int, default=1)
    parser.set_defaults(handler=run_demo_command, needs_workspace=False)


def run_evaluate(args: argparse.Namespace, workspace: Workspace) -> int:
    rows = []
    for run_id in args.run_ids:
        run = records.get_run(workspace, run_id)
        settings = evaluation_settings(args, workspace, run.dataset_id)
        evaluation = evaluate_run(workspace, run_id, settings)
        rows.append((run.id, model_label(run), run.seed, evaluation.n_events,
                     *(f"{evaluation.metrics['event'][m]:.4f}" for m in metric_names(settings.ks))))
    ks = tuple(sorted(set(args.k)))
    print(render_table(("run", "model", "seed", "events", *metric_names(ks)), rows))
    return 0


def format_comparison(table: pd.DataFrame, ks: list[int]) -> str:
    """Models as rows, metrics as columns: 'mean ± std' and the significance mark."""
    metrics = metric_names(ks)
    rows = []
    for model, group in table.groupby("model", sort=False):
        cells = {}
        for _, row in group.iterrows():
            spread = f" ± {row['std']:.4f}" if not math.isnan(row["std"]) else ""
            cells[row["metric"]] = f"{row['mean']:.4f}{spread}{' ' + row['mark'] if row['mark'] else ''}"
        rows.append((model, int(group["n_seeds"].iloc[0]), *(cells[m] for m in metrics)))
    return render_table(("model", "seeds", *metrics), rows, align_right=set(range(1, len(metrics) + 2)))


def format_breakdown(table: pd.DataFrame, ks: list[int], kind: str) -> str:
    metrics = metric_names(ks)
    rows = []
    for _, row in table.iterrows():
        cells = [f"{row[m + '_mean']:.4f}" + (f" ± {row[m + '_std']:.4f}" if not math.isnan(row[m + "_std"]) else "")
                 for m in metrics]
        rows.append((row["model"], row["group"], int(row["n_events"]), *cells))
    return BREAKDOWNS[kind].description + "\n" + render_table(("model", "group", "events", *metrics), rows,
                                                               align_right=set(range(2, len(metrics) + 3)))


def print_report(workspace: Workspace, dataset_id: int, ks: list[int], settings: EvaluationSettings,
                 kinds: list[str], reference: str | None = None, level: Level = "event",
                 run_ids: list[int] | None = None, csv: Path | None = None) -> DatasetResults:
    """Print the comparison (and the ``kinds`` of breakdowns) of the dataset's evaluated runs;
    returns those results."""
    results = collect_results(workspace, dataset_id, settings, run_ids)
    if results.runs.empty:
        raise EmptyResultError(f"no run of this dataset is evaluated with targets ranked among "
                               f"{candidates_phrase(settings.n_candidates)} (ties: "
                               f"{settings.tie_mode}): evaluate finished runs with 'python main.py evaluate RUN... "
                               "[--candidates N|all]', or train some with 'python main.py train DATASET --model ...' "
                               "(finished runs are evaluated automatically, as 'candidates DATASET' says)")
    table = comparison(results, ks, reference, level)
    marked = f"* = differs from {table['reference'].iloc[0]} with p < 0.01 (Wilcoxon signed-rank, paired by {level})"
    print(format_comparison(table, ks))
    print(marked)
    print(f"targets ranked among {candidates_phrase(settings.n_candidates)}")
    if csv is not None:
        table.to_csv(csv, index=False)
        print(f"wrote {csv}")
    popularity = dataset_popularity(workspace, dataset_id) if "popularity" in kinds else None
    for kind in kinds:
        print()
        print(format_breakdown(breakdown(results, kind, ks, popularity), ks, kind))
    return results


def run_report(args: argparse.Namespace, workspace: Workspace) -> int:
    with workspace.session() as session:
        dataset_id = catalog.find_dataset(session, args.dataset).id
    settings = evaluation_settings(args, workspace, dataset_id)
    ks = sorted(set(args.k))
    print_report(workspace, dataset_id, ks, settings, args.breakdown, args.reference, args.level, csv=args.csv)
    return 0


def run_demo_command(args: argparse.Namespace, _: Workspace | None) -> int:
    """The demo in a workspace of its own (--workspace, or the per-user demo folder, replaced each
    time), then the report; the workspace is kept to open in the desktop app."""
    from engine.cli.training_commands import print_message
    from engine.workbench.workspaces import open_workspace

    started = time.perf_counter()
    folder = default_demo_folder()
    folder.mkdir(parents=True, exist_ok=True)
    location = Path(args.workspace) if args.workspace else fresh_demo_workspace(folder)
    with open_workspace(location) as workspace:
        print(f"training and evaluating the demo's models in {workspace.display_name} ...", file=sys.stderr)
        outcome = run_demo(workspace, folder, args.epochs, args.seeds, print_message)
        print(render_statistics(outcome.dataset.dataset_name, outcome.dataset.statistics))
        print()
        settings = dataset_settings(workspace, outcome.dataset.dataset_id)
        results = print_report(workspace, outcome.dataset.dataset_id, list(DEFAULT_CUTOFFS), settings,
                               ["history", "position"], run_ids=outcome.run_ids)
        shown = workspace.display_name
        note = untuned_note(f"{outcome.dataset.dataset_id} --workspace {shown}")
        print()
        print(build_verdict(results, DEMO_METRIC, [note], tuned=False).text)
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s; its workspace is kept at {shown}: open it in "
          "the desktop app to explore the runs")
    return 0
