"""CLI subcommands that manage what piles up: ``runs`` and ``datasets`` (list, or delete),
``rename``, ``note`` and ``workspace compact``. Their handlers import the use cases when they run
(see :mod:`engine.cli.command`)."""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from engine.cli.command import Command
from engine.cli.data_commands import run_datasets
from engine.cli.training_commands import run_list
from engine.errors import InputError

if TYPE_CHECKING:
    from engine.workbench.managing import DeletionPlan
    from engine.workbench.workspaces import Workspace

RUNS_USAGE = "python main.py runs [DATASET] | runs delete RUN... [--yes]"
DATASETS_USAGE = "python main.py datasets | datasets delete DATASET [--yes]"


def _declare_runs(parser: argparse.ArgumentParser) -> None:
    parser.usage = RUNS_USAGE
    parser.description = ("runs [DATASET]: the runs (of one dataset) with status, final loss and errors. runs delete "
                          "RUN...: delete runs with their metrics, evaluations and checkpoint files.")
    parser.add_argument("words", nargs="*", metavar="DATASET | delete RUN...",
                        help="a dataset id or name to list its runs, or 'delete' and run ids")
    parser.add_argument("--yes", action="store_true", help="delete without asking")
    parser.set_defaults(handler=run_runs)


def _declare_datasets(parser: argparse.ArgumentParser) -> None:
    parser.usage = DATASETS_USAGE
    parser.description = ("datasets: the workspace's datasets. datasets delete DATASET: delete a dataset with its "
                          "runs, their evaluations and checkpoints, and its raw log when no other dataset uses it.")
    parser.add_argument("words", nargs="*", metavar="delete DATASET", help="'delete' and a dataset id or name")
    parser.add_argument("--yes", action="store_true", help="delete without asking")
    parser.set_defaults(handler=run_datasets_command)


def _declare_rename(parser: argparse.ArgumentParser) -> None:
    parser.description = ("A run's name replaces its generated label everywhere (an empty name brings the label "
                          "back); a dataset's name must be unique.")
    parser.add_argument("kind", choices=("run", "dataset"))
    parser.add_argument("target", metavar="ID", help="run id, or dataset id or name")
    parser.add_argument("name", help="the new name")
    parser.set_defaults(handler=run_rename)


def _declare_note(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=("run", "dataset"))
    parser.add_argument("target", metavar="ID", help="run id, or dataset id or name")
    parser.add_argument("text", nargs="?", help="the note (default: show the current one)")
    parser.add_argument("--clear", action="store_true", help="remove the note")
    parser.set_defaults(handler=run_note)


def _declare_workspace(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    compact = actions.add_parser("compact", help="give the space of deleted rows back to the disk (VACUUM)")
    compact.add_argument("--workspace", type=str, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.set_defaults(handler=run_workspace)


COMMANDS = (
    Command("runs", "list runs (of one dataset), or delete runs", _declare_runs),
    Command("datasets", "list the workspace's datasets, or delete one", _declare_datasets),
    Command("rename", "rename a run or a dataset", _declare_rename),
    Command("note", "show, write or remove the note of a run or a dataset", _declare_note),
    Command("workspace", "workspace upkeep: compact (give deleted space back)", _declare_workspace),
)


def _run_id(text: str) -> int:
    try:
        return int(text.lstrip("#"))
    except ValueError:
        raise InputError(f"'{text}' is not a run id (a number, e.g. 3)") from None


def confirm(plan: DeletionPlan, yes: bool) -> bool:
    """Print what a deletion removes; True when it may go ahead (``--yes``, or the user says so)."""
    if plan.refusal is not None:
        raise InputError(f"{plan.what} cannot be deleted: {plan.refusal}")
    print(f"deleting {plan.what} removes:")
    for part in plan.parts:
        print(f"  - {part}")
    for kept in plan.kept:
        print(f"  ({kept})")
    if yes:
        return True
    if not sys.stdin.isatty():
        raise InputError("not deleted: confirm with --yes (there is no terminal to ask)")
    answer = input("delete? this cannot be undone [y/N] ").strip().lower()
    return answer in ("y", "yes")


def run_runs(args: argparse.Namespace, workspace: Workspace) -> int:
    words = list(args.words)
    if not words or words[0] != "delete":
        if len(words) > 1:
            raise InputError(f"runs takes one dataset, not {len(words)} words; usage: {RUNS_USAGE}")
        args.dataset = words[0] if words else None
        return run_list(args, workspace)
    if len(words) < 2:
        raise InputError(f"runs delete needs run ids; usage: {RUNS_USAGE}")
    run_ids = [_run_id(word) for word in words[1:]]
    from engine.workbench.managing import delete_runs, plan_run_deletion

    if not confirm(plan_run_deletion(workspace, run_ids), args.yes):
        print("nothing deleted")
        return 1
    outcome = delete_runs(workspace, run_ids)
    print(f"deleted {outcome.what} ({outcome.files} checkpoint files) in {outcome.seconds:.1f} s")
    return 0


def run_datasets_command(args: argparse.Namespace, workspace: Workspace) -> int:
    words = list(args.words)
    if not words:
        return run_datasets(args, workspace)
    if words[0] != "delete" or len(words) != 2:
        raise InputError(f"usage: {DATASETS_USAGE}")
    from engine.workbench.managing import delete_dataset, plan_dataset_deletion

    plan = plan_dataset_deletion(workspace, words[1])
    if not confirm(plan, args.yes):
        print("nothing deleted")
        return 1
    outcome = delete_dataset(workspace, words[1])
    print(f"deleted {outcome.what}: {outcome.runs} runs, {outcome.events:,} stored events, {outcome.files} checkpoint "
          f"files, in {outcome.seconds:.1f} s (python main.py workspace compact gives the space back to the disk)")
    return 0


def run_rename(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.datasets import dataset_details
    from engine.workbench.managing import rename_dataset, rename_run
    from engine.workbench.training import get_run, model_label

    if args.kind == "dataset":
        name = rename_dataset(workspace, args.target, args.name)
        print(f"dataset {dataset_details(workspace, name).id} is now named '{name}'")
        return 0
    run_id = _run_id(args.target)
    rename_run(workspace, run_id, args.name)
    print(f"run {run_id} is now labelled '{model_label(get_run(workspace, run_id))}'")
    return 0


def run_note(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.datasets import dataset_details
    from engine.workbench.managing import set_dataset_note, set_run_note
    from engine.workbench.training import get_run

    changing = args.clear or args.text is not None
    text = None if args.clear else args.text
    if args.kind == "dataset":
        details = dataset_details(workspace, args.target)
        if changing:
            set_dataset_note(workspace, details.id, text)
        note, what = dataset_details(workspace, details.id).note, f"dataset {details.id} '{details.name}'"
    else:
        run_id = _run_id(args.target)
        if changing:
            set_run_note(workspace, run_id, text)
        note, what = get_run(workspace, run_id).note, f"run {run_id}"
    print(f"{what}: {note}" if note else f"{what} has no note")
    return 0


def run_workspace(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.managing import compact_workspace

    outcome = compact_workspace(workspace)
    if outcome.bytes_before is None or outcome.bytes_after is None:
        print(f"compacted {workspace.display_name} in {outcome.seconds:.1f} s")
    elif not outcome.complete:
        print(f"compacted {workspace.display_name}, but a program began reading it meanwhile: its old pages stay in "
              f"the write-ahead log ({outcome.bytes_after / 2**20:,.1f} MiB on disk) until that program is done; "
              "compact again then")
    else:
        print(f"compacted {workspace.display_name}: {outcome.bytes_before / 2**20:,.1f} MiB -> "
              f"{outcome.bytes_after / 2**20:,.1f} MiB in {outcome.seconds:.1f} s")
    return 0
