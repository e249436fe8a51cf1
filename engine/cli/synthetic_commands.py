"""CLI subcommand ``generate``: write a seeded synthetic log, optionally importing it. Its handler
imports the use cases when it runs (see :mod:`engine.cli.command`)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli.command import Command
from engine.cli.data_commands import add_prepare_arguments, settings_from_arguments
from engine.cli.formatting import render_statistics
from engine.cli.training_commands import parse_overrides

if TYPE_CHECKING:
    from engine.workbench.workspaces import Workspace


def _declare_generate(parser: argparse.ArgumentParser) -> None:
    from engine.workbench.generating import GENERATOR_PRESETS

    parser.description = ("Write a synthetic log whose users' past sessions carry signal: drifting tastes, session "
                          "intents, item-to-item order and repeat consumption.")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--preset", choices=sorted(GENERATOR_PRESETS), default=None,
                      help="demo (~30k events) or xing_scale (~550k events after filters)")
    size.add_argument("--events", type=int, help="about this many events (1e3 to 3.3e7)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="change a generator setting, e.g. --set resume_probability=0.3 (see SyntheticConfig)")
    parser.add_argument("--output", type=Path, help="file to write (.csv, .csv.gz or .parquet; default: "
                        "beside the workspace)")
    parser.add_argument("--import", dest="import_log", action="store_true", help="import it into the workspace")
    parser.add_argument("--name", help="dataset name when importing")
    add_prepare_arguments(parser)
    parser.set_defaults(handler=run_generate, creates_workspace=True)


COMMANDS = (
    Command("generate", "write a seeded synthetic session log (and import it with --import)", _declare_generate),
)


def default_output(workspace: Workspace, label: str, seed: int) -> Path:
    folder = workspace.file_path.parent if workspace.file_path is not None else Path.cwd()
    return folder / "generated" / f"synthetic-{label}-seed{seed}.parquet"


def run_generate(args: argparse.Namespace, workspace: Workspace) -> int:
    from engine.workbench.generating import SYNTHETIC_MAPPING, generate_log_file, import_settings, synthetic_config
    from engine.workbench.importing import ImportRequest, import_log

    label = f"{args.events}" if args.events is not None else (args.preset or "demo")
    changes = parse_overrides(args.set)
    config = synthetic_config(args.preset, args.events, args.seed, changes)
    if changes:
        label += "-" + "-".join(f"{name}{value}" for name, value in sorted(changes.items()))
    path = args.output or default_output(workspace, label, args.seed)
    n_events = generate_log_file(config, path)
    print(f"wrote {n_events:,} events of {config.n_users:,} users and {config.n_items:,} items to {path}")
    if not args.import_log:
        return 0
    preset = None if args.events is not None else (args.preset or "demo")
    settings = settings_from_arguments(args, import_settings(preset))
    outcome = import_log(workspace, ImportRequest(path, mapping=SYNTHETIC_MAPPING, settings=settings,
                                                  name=args.name or f"synthetic {label} (seed {args.seed})"))
    print(f"imported as dataset {outcome.dataset_id} '{outcome.dataset_name}'")
    print(render_statistics(outcome.dataset_name, outcome.statistics))
    return 0
