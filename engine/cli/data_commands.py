"""CLI subcommands for logs and datasets: import, stats, candidates, item names, presets (listing and
deleting datasets: :mod:`engine.cli.managing_commands`). Their handlers import the use cases when
they run (see :mod:`engine.cli.command`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli.command import Command
from engine.cli.formatting import parse_candidates, parse_duration, render_statistics, render_table
from engine.errors import ConfigError, InputError, LogNotPreparedError
from engine.text import name_list

if TYPE_CHECKING:
    from engine.workbench.importing import ColumnMapping, LogPreview, PrepareSettings
    from engine.workbench.workspaces import Workspace


def add_prepare_arguments(parser: argparse.ArgumentParser) -> None:
    """Session cutting and filter options (defaults: the preset's suggestions, else the paper's)."""
    group = parser.add_argument_group("sessions and filters")
    group.add_argument("--threshold", type=parse_duration, help="idle gap that starts a new session (default 30m)")
    group.add_argument("--use-given-sessions", action="store_true", help="use the log's session column")
    group.add_argument("--drop-event-types", nargs="*", metavar="TYPE", help="event types to delete (XING: 4)")
    group.add_argument("--keep-repeats", action="store_true", help="keep repeats of an item and type in a session")
    group.add_argument("--min-item-support", type=int, metavar="N", help="keep items with >= N events (default 10)")
    group.add_argument("--min-session-length", type=int, metavar="N", help="keep sessions with >= N events (default 3)")
    group.add_argument("--min-user-sessions", type=int, metavar="N", help="keep users with >= N sessions (default 5)")
    group.add_argument("--max-user-sessions", type=int, metavar="N",
                       help="keep users with <= N sessions (reference: 199)")
    group.add_argument("--repeat-filters", action="store_true", help="repeat the filters until nothing changes")


def settings_from_arguments(args: argparse.Namespace, base: PrepareSettings) -> PrepareSettings:
    from engine.workbench.importing import PrepareSettings

    changes = {
        "session_threshold_s": args.threshold, "drop_event_types": tuple(args.drop_event_types)
        if args.drop_event_types is not None else None,
        "min_item_support": args.min_item_support, "min_session_length": args.min_session_length,
        "min_user_sessions": args.min_user_sessions, "max_user_sessions": args.max_user_sessions,
    }
    data = base.to_json()
    data.update({key: value for key, value in changes.items() if value is not None})
    if args.use_given_sessions:
        data["use_given_sessions"] = True
    if args.keep_repeats:
        data["drop_repeats"] = False
    if args.repeat_filters:
        data["repeat_until_stable"] = True
    return PrepareSettings.from_json(data)


def _declare_import(parser: argparse.ArgumentParser) -> None:
    from engine.workbench.log_files import FORMAT_PRESETS

    parser.description = ("Import an interaction log (CSV/TSV, Parquet, JSON lines; gzip/zip) and prepare it: "
                          "sessions, filters, last-session-out split.")
    parser.add_argument("file", type=Path)
    parser.add_argument("--preset", choices=sorted(FORMAT_PRESETS), help="format preset (default: detected)")
    parser.add_argument("--name", help="dataset name (default: the file name)")
    parser.add_argument("--user-column", help="column of user ids (overrides the detected mapping)")
    parser.add_argument("--item-column", help="column of item ids")
    parser.add_argument("--time-column", help="column of timestamps")
    parser.add_argument("--session-column", help="column of session ids")
    parser.add_argument("--type-column", help="column of event types")
    parser.add_argument("--time-unit", choices=("auto", "s", "ms", "iso"), help="timestamp unit (default: auto)")
    parser.add_argument("--skip-invalid-rows", action="store_true",
                        help="skip rows with an empty field or unreadable time instead of refusing the file")
    add_prepare_arguments(parser)
    parser.set_defaults(handler=run_import, creates_workspace=True, check=check_import)


def _declare_candidates(parser: argparse.ArgumentParser) -> None:
    from engine.workbench.evaluating import LARGE_CATALOG_CANDIDATES, LARGE_CATALOG_ITEMS

    parser.description = (
        "Evaluations rank each target among all training items, or among the N most popular plus the target (the "
        f"paper: 50,000 for its largest dataset). New datasets of more than {LARGE_CATALOG_ITEMS:,} items get "
        f"{LARGE_CATALOG_CANDIDATES:,}. Automatic evaluations, 'report' and the Results panel use this setting; "
        "evaluations already stored keep theirs.")
    parser.add_argument("dataset", help="dataset id or name")
    parser.add_argument("value", nargs="?", type=parse_candidates, metavar="N|all",
                        help="the new setting (default: show the current one)")
    parser.set_defaults(handler=run_candidates)


def _declare_stats(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset id or name")
    parser.set_defaults(handler=run_stats)


def _declare_item_names(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Read a CSV/TSV/Parquet/JSON-lines file of items (e.g. MovieLens u.item or RecBole .item) "
                          "and show its names beside the item ids.")
    parser.add_argument("dataset", help="dataset id or name")
    parser.add_argument("file", type=Path)
    parser.add_argument("--id-column", help="column of the item ids (default: detected)")
    parser.add_argument("--name-column", help="column of the names (default: detected)")
    parser.set_defaults(handler=run_item_names)


def _declare_presets(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(handler=run_presets, needs_workspace=False)


COMMANDS = (
    Command("import", "import a log file and prepare a dataset", _declare_import),
    Command("candidates", "show or set how a dataset's evaluations rank (among all items or the N most popular)",
            _declare_candidates),
    Command("stats", "print a dataset's Table 1 statistics", _declare_stats),
    Command("item-names", "attach readable item names (titles) to a dataset's log", _declare_item_names),
    Command("presets", "list the known log format presets", _declare_presets),
)


def _mapping(args: argparse.Namespace, preview: LogPreview) -> ColumnMapping | None:
    """The mapping with the columns named by hand; the others as the preset maps them or as
    detected from their names (naming one column keeps the detection of the others)."""
    given = {"user": args.user_column, "item": args.item_column, "time": args.time_column,
             "session": args.session_column, "event_type": args.type_column}
    given = {role: column for role, column in given.items() if column is not None}
    if not given and args.time_unit is None:
        return None
    from engine.workbench.importing import ROLES, detect_roles, mapping_from_roles

    if preview.preset is not None:
        data = preview.preset.mapping.to_json()
        data.update(given)
        roles: dict[str, str | None] = {role: data[role] for role in ROLES}
    else:
        roles = detect_roles([str(column) for column in preview.rows.columns], given)
    mapping = mapping_from_roles(roles, args.time_unit or "auto")
    if mapping is None:
        missing = [f"--{role}-column" for role in ("user", "item", "time") if roles.get(role) is None
                   and not (role == "user" and roles.get("session"))]
        raise InputError(f"the columns could not be detected: give {' and '.join(missing)} (the file's columns: "
                         f"{', '.join(map(str, preview.rows.columns))})")
    return mapping


#: How to change each import setting a refusal names (its ``setting``) on the command line.
IMPORT_OPTIONS = {
    "session_threshold_s": "change it with --threshold DURATION (e.g. 1h)",
    "use_given_sessions": "cut sessions by --threshold instead of --use-given-sessions",
    "drop_event_types": "change it with --drop-event-types TYPE...",
    "drop_repeats": "keep repeats with --keep-repeats",
    "min_item_support": "change it with --min-item-support N",
    "min_session_length": "change it with --min-session-length N",
    "min_user_sessions": "change it with --min-user-sessions N",
    "max_user_sessions": "change it with --max-user-sessions N",
    "skip_invalid_rows": "skip such rows with --skip-invalid-rows",
    "user_column": "name it with --user-column NAME", "item_column": "name it with --item-column NAME",
    "time_column": "name it with --time-column NAME",
    "id_column": "name it with --id-column NAME", "name_column": "name it with --name-column NAME",
}


def setting_hint(error: InputError) -> str:
    """How to change the setting an error names, on the command line ("" when it names none)."""
    if error.setting is None:
        return ""
    if error.setting in IMPORT_OPTIONS:
        hint = IMPORT_OPTIONS[error.setting]
        if isinstance(error, LogNotPreparedError) and error.log_id is not None:
            hint += "; importing the file again reuses the stored log"
        return hint
    if isinstance(error, ConfigError):
        return f"change it with --set {error.setting}=VALUE"
    return ""


def check_import(args: argparse.Namespace) -> None:
    """Refuse a log that is not a readable file before the workspace is opened (or created)."""
    from engine.workbench.log_files import check_readable

    check_readable(args.file)


def run_import(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.importing import ImportRequest, import_log, preview_log, settings_for

    preview = preview_log(args.file, args.preset)
    mapping = _mapping(args, preview)
    base = settings_for(preview.preset, None)
    settings = settings_from_arguments(args, base)
    last_report = [-1]

    def progress(fraction: float, message: str) -> None:
        percent = int(fraction * 100)
        if percent >= last_report[0] + 10 or fraction >= 1.0:
            last_report[0] = percent
            print(f"  {percent:3d}%  {message}", file=sys.stderr)

    # Into a workspace this command creates, a log its preparation empties is not stored: the
    # command line leaves no workspace behind when the command fails.
    request = ImportRequest(args.file, args.preset, mapping, settings, args.name, args.skip_invalid_rows,
                            keep_unprepared_log=not workspace.created)
    try:
        outcome = import_log(workspace, request, progress)
    except LogNotPreparedError as exc:
        if not workspace.created:
            raise
        raise LogNotPreparedError(f"{exc}, and no workspace was created at {workspace.display_name}", exc.setting,
                                  exc.label) from exc
    files = (f" ({len(outcome.members)} files, read one after the other: {name_list(outcome.members)})"
             if outcome.members else "")
    if outcome.reused_dataset:
        print(f"{args.file}{files} was already imported with these settings: dataset {outcome.dataset_id} "
              f"'{outcome.dataset_name}' (nothing new stored)")
    else:
        reuse = " (the raw log was already stored; prepared again)" if outcome.reused_log else ""
        print(f"imported {args.file}{files} as dataset {outcome.dataset_id} '{outcome.dataset_name}'{reuse}")
    if outcome.skipped_rows:
        print(f"skipped {outcome.skipped_rows} invalid rows")
    print(settings.describe())
    print(render_statistics(outcome.dataset_name, outcome.statistics))
    from engine.workbench.datasets import dataset_warnings  # after the import: a refusal answers without it

    for warning in dataset_warnings(outcome.statistics):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def run_datasets(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.datasets import list_datasets, list_logs
    from engine.workbench.evaluating import candidates_label

    summaries = list_datasets(workspace)
    if not summaries:
        print(f"no datasets in {workspace.display_name}; import one with: python main.py import FILE")
        return 0
    rows = [(s.id, s.name, s.statistics["users"], s.statistics["items"], s.statistics["sessions"],
             s.statistics["events"], candidates_label(s.evaluation_candidates), s.created_at.strftime("%Y-%m-%d %H:%M"),
             s.source_path) for s in summaries]
    print(render_table(("id", "name", "users", "items", "sessions", "events", "ranked among", "created", "source"),
                       rows))
    waiting = list_logs(workspace, unprepared_only=True)
    if waiting:
        print("\nstored logs without a dataset (their preparation left nothing; import the file again with other "
              "settings):")
        for stored in waiting:
            print(f"  {stored.name}: {stored.n_events:,} events of {stored.n_users:,} users ({stored.source_path})")
    return 0


def run_candidates(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.datasets import dataset_details, evaluation_candidates, set_evaluation_candidates
    from engine.workbench.evaluating import candidates_phrase

    details = dataset_details(workspace, args.dataset)
    if args.value is not None:
        set_evaluation_candidates(workspace, details.id, args.value or None)
    current = evaluation_candidates(workspace, details.id)
    print(f"{details.name}: evaluations rank each target among {candidates_phrase(current)}")
    return 0


def run_stats(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.datasets import dataset_details

    details = dataset_details(workspace, args.dataset)
    print(details.settings.describe())
    print(render_statistics(details.name, details.statistics))
    return 0


def run_presets(args: argparse.Namespace, workspace: Workspace | None) -> int:
    from engine.workbench.log_files import FORMAT_PRESETS

    rows = [(p.name, p.description) for p in FORMAT_PRESETS.values()]
    print(render_table(("preset", "format"), rows))
    return 0


def run_item_names(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.datasets import attach_item_names

    named, total = attach_item_names(workspace, args.dataset, args.file, args.id_column, args.name_column)
    print(f"named {named:,} of the log's {total:,} items from {args.file}")
    return 0
