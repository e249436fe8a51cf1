"""CLI subcommands for results: evaluate (runs), report (a dataset's comparison and breakdowns), demo.
Their handlers import the use cases when they run (see :mod:`engine.cli.command`)."""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli.command import Command
from engine.cli.formatting import parse_candidates, render_statistics, render_table
from engine.errors import EmptyResultError, InputError

if TYPE_CHECKING:
    import pandas as pd

    from engine.workbench.evaluating import EvaluationSettings, Level
    from engine.workbench.results import DatasetResults
    from engine.workbench.workspaces import Workspace

#: What the demo's closing sentences read from its table.
DEMO_METRIC = "recall@5"


def add_evaluation_arguments(parser: argparse.ArgumentParser) -> None:
    from engine.workbench.results import DEFAULT_CUTOFFS, DEFAULT_TIE_MODE, TIE_MODES

    group = parser.add_argument_group("evaluation")
    group.add_argument("--k", type=int, nargs="+", default=list(DEFAULT_CUTOFFS),
                       help=f"cut-offs (default {' '.join(map(str, DEFAULT_CUTOFFS))})")
    group.add_argument("--ties", choices=TIE_MODES, default=DEFAULT_TIE_MODE,
                       help="how items scored exactly like the target count: conservative (they rank above it), "
                            f"median (half of them do) or standard (optimistic: they never do); default "
                            f"{DEFAULT_TIE_MODE}")
    group.add_argument("--candidates", type=parse_candidates, default=None, metavar="N|all",
                       help="rank among the N most popular items plus the target, or among all items "
                            "(default: the dataset's setting; see 'datasets')")


def _declare_evaluate(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Evaluate finished runs, or every finished run of a dataset (--dataset), under the chosen "
                          "settings; an evaluation already stored under them is kept.")
    parser.add_argument("run_ids", type=int, nargs="*", metavar="RUN_ID")
    parser.add_argument("--dataset", help="evaluate every finished run of this dataset (id or name), e.g. to "
                                          "re-evaluate runs stored with another tie mode")
    add_evaluation_arguments(parser)
    parser.set_defaults(handler=run_evaluate)


def _declare_report(parser: argparse.ArgumentParser) -> None:
    from engine.workbench.results import BREAKDOWNS, LEVELS

    parser.add_argument("dataset", help="dataset id or name")
    add_evaluation_arguments(parser)
    parser.add_argument("--breakdown", choices=BREAKDOWNS.names(), action="append", default=[],
                        help=f"also print a breakdown ({', '.join(BREAKDOWNS.names())}); repeatable")
    parser.add_argument("--reference", help="model the significance marks compare against (default RNN)")
    parser.add_argument("--level", choices=LEVELS, default="event",
                        help="pair the Wilcoxon test by event, session or user (default event)")
    parser.add_argument("--csv", type=Path, help="also write the comparison table to this CSV file")
    parser.set_defaults(handler=run_report)


def _declare_demo(parser: argparse.ArgumentParser) -> None:
    from engine.workbench.demo import DEMO_EPOCHS, SASREC_EPOCH_FACTOR

    parser.description = ("Import the seeded synthetic demo log into a workspace of its own (kept afterwards, to "
                          "open in the desktop app), train and evaluate the paper's baselines and networks, and "
                          "print the comparison.")
    parser.add_argument("--epochs", type=int, default=DEMO_EPOCHS, help=f"epochs of the neural models "
                        f"(default {DEMO_EPOCHS}; SASRec and its twin {SASREC_EPOCH_FACTOR} times as many)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.set_defaults(handler=run_demo_command, needs_workspace=False)


COMMANDS = (
    Command("evaluate", "evaluate finished runs (stores per-event ranks)", _declare_evaluate),
    Command("report", "Table-3-style comparison of a dataset's runs", _declare_report),
    Command("demo", "train and compare the paper's models on the synthetic demo log", _declare_demo),
)


def run_evaluate(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.evaluating import evaluate_stored_run, finished_runs
    from engine.workbench.results import metric_names, protocol_text
    from engine.workbench.training import get_run

    run_ids = list(args.run_ids)
    if args.dataset is not None:
        run_ids += [run.id for run in finished_runs(workspace, args.dataset) if run.id not in run_ids]
        if not run_ids:
            raise EmptyResultError(f"dataset {args.dataset!r} has no finished runs to evaluate")
    elif not run_ids:
        raise InputError("name the runs to evaluate (RUN_ID ...) or a dataset (--dataset DATASET)")
    rows = []
    settings = None
    for index, run_id in enumerate(run_ids):
        get_run(workspace, run_id)
        print(f"evaluating run {run_id} ({index + 1} of {len(run_ids)}) ...", file=sys.stderr)
        evaluated = evaluate_stored_run(workspace, run_id, args.k, args.ties, args.candidates)
        settings = evaluated.settings
        rows.append((evaluated.run.id, evaluated.label, evaluated.run.seed, evaluated.n_events,
                     *(f"{evaluated.metrics[m]:.4f}" for m in metric_names(settings.ks)),
                     _share(evaluated.tied_share)))
    ks = tuple(sorted(set(args.k)))
    print(render_table(("run", "model", "seed", "events", *metric_names(ks), "tied targets"), rows))
    assert settings is not None
    print(protocol_text(settings))
    return 0


def _share(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.1%}"


def format_ties(results: DatasetResults) -> str:
    """Per model: the share of targets tied with at least one item, the mean number of items tied
    with the target, and the share the model put at the very bottom (scored like the lowest items)."""
    from engine.workbench.results import tie_table

    rows = [(row["model"], _share(row["tied_share"]),
             "n/a" if not math.isfinite(row["mean_tied"]) else f"{row['mean_tied']:,.1f}", _share(row["floor_share"]))
            for _, row in tie_table(results).iterrows()]
    return ("Ties: targets scored exactly like at least one other item, how many items on average, and targets "
            "the model gave nothing (scored like its lowest-scored items)\n"
            + render_table(("model", "tied targets", "items tied (mean)", "given nothing"), rows,
                           align_right={1, 2, 3}))


def other_modes_note(workspace: Workspace, results: DatasetResults, dataset_id: int) -> str | None:
    """Which finished runs a table leaves out because their evaluations hold only other tie modes."""
    if not results.other_modes:
        return None
    from engine.workbench.results import TIE_MODE_NAMES

    modes = sorted({mode for found in results.other_modes.values() for mode in found})
    ids = sorted(results.other_modes)
    shown = ", ".join(map(str, ids[:8])) + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")
    return (f"not shown: {len(ids)} run{'s' if len(ids) != 1 else ''} ({shown}) evaluated only with "
            f"{' or '.join(TIE_MODE_NAMES[m] for m in modes)} ties, before tie counts were stored; a table never "
            f"mixes tie modes: evaluate them again with 'python main.py evaluate --dataset {dataset_id}'")


def format_comparison(table: pd.DataFrame, ks: list[int]) -> str:
    """Models as rows, metrics as columns: 'mean ± std' and the significance mark."""
    from engine.workbench.results import metric_names

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
    from engine.workbench.results import BREAKDOWNS, metric_names

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
    from engine.workbench.results import (
        breakdown,
        candidates_label,
        collect_results,
        comparison,
        dataset_popularity,
        protocol_text,
        tie_table,
    )

    results = collect_results(workspace, dataset_id, settings, run_ids)
    note = other_modes_note(workspace, results, dataset_id)
    if results.runs.empty:
        raise EmptyResultError(f"no run of this dataset is evaluated with {protocol_text(settings)}"
                               + (f" ({note})" if note else ": evaluate finished runs with 'python main.py evaluate "
                                  "RUN... [--candidates N|all] [--ties MODE]', or train some with 'python main.py "
                                  "train DATASET --model ...' (finished runs are evaluated automatically, as "
                                  "'candidates DATASET' says)"))
    table = comparison(results, ks, reference, level)
    marked = f"* = differs from {table['reference'].iloc[0]} with p < 0.01 (Wilcoxon signed-rank, paired by {level})"
    print(format_comparison(table, ks))
    print(marked)
    print(protocol_text(settings))
    if note:
        print(note)
    print()
    print(format_ties(results))
    if csv is not None:
        ties = tie_table(results)
        table.merge(ties, on="model", how="left").assign(
            ties=settings.tie_mode, candidates=candidates_label(settings.n_candidates)).to_csv(csv, index=False)
        print(f"wrote {csv}")
    popularity = dataset_popularity(workspace, dataset_id) if "popularity" in kinds else None
    for kind in kinds:
        print()
        print(format_breakdown(breakdown(results, kind, ks, popularity), ks, kind))
    return results


def run_report(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.datasets import dataset_details
    from engine.workbench.evaluating import evaluation_settings

    dataset_id = dataset_details(workspace, args.dataset).id
    settings = evaluation_settings(workspace, dataset_id, args.k, args.ties, args.candidates)
    ks = sorted(set(args.k))
    print_report(workspace, dataset_id, ks, settings, args.breakdown, args.reference, args.level, csv=args.csv)
    return 0


def run_demo_command(args: argparse.Namespace, _: Workspace | None) -> int:
    """The demo in a workspace of its own (--workspace, or the per-user demo folder, replaced each
    time); the full report (statistics, the comparison, breakdowns and the whole verdict) goes to a
    file beside the workspace, and the verdict's summary ends the output; the workspace is kept to
    open in the desktop app."""
    import contextlib
    import io

    from engine.cli.training_commands import print_message
    from engine.workbench.demo import default_demo_folder, fresh_demo_workspace, run_demo
    from engine.workbench.evaluating import dataset_settings
    from engine.workbench.results import DEFAULT_CUTOFFS
    from engine.workbench.verdict import build_verdict, untuned_note
    from engine.workbench.workspaces import open_workspace

    started = time.perf_counter()
    folder = default_demo_folder()
    folder.mkdir(parents=True, exist_ok=True)
    location = Path(args.workspace) if args.workspace else fresh_demo_workspace(folder)
    with open_workspace(location) as workspace:
        print(f"training and evaluating the demo's models in {workspace.display_name} ...", file=sys.stderr)
        outcome = run_demo(workspace, folder, args.epochs, args.seeds, print_message)
        full = io.StringIO()
        with contextlib.redirect_stdout(full):
            print(render_statistics(outcome.dataset.dataset_name, outcome.dataset.statistics))
            print()
            settings = dataset_settings(workspace, outcome.dataset.dataset_id)
            results = print_report(workspace, outcome.dataset.dataset_id, list(DEFAULT_CUTOFFS), settings,
                                   ["history", "position"], run_ids=outcome.run_ids)
            shown = workspace.display_name
            note = untuned_note(f"{outcome.dataset.dataset_id} --workspace {shown}")
            verdict = build_verdict(results, DEMO_METRIC, [note], tuned=False)
            print()
            print(verdict.text)
        report = demo_report_path(location)
        report.write_text(full.getvalue(), encoding="utf-8")
    print("\nVerdict (summary):")
    print("\n".join(verdict.summary))
    print(f"\nThe full report (statistics, the comparison of {results.runs['model'].nunique()} models, breakdowns and "
          f"the whole verdict): {report}")
    print(f"demo finished in {time.perf_counter() - started:.0f} s; its workspace is kept at {shown}: open it in "
          "the desktop app to explore the runs")
    return 0


def demo_report_path(workspace_location: Path) -> Path:
    """Where the demo writes its full report: beside its workspace file."""
    return workspace_location.with_name(workspace_location.stem + "-report.txt")
