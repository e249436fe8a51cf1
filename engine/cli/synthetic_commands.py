"""CLI subcommand ``generate``: write a seeded synthetic log, optionally importing it."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from engine.cli.data_commands import add_prepare_arguments, settings_from_arguments
from engine.cli.formatting import render_statistics
from engine.cli.training_commands import parse_overrides
from engine.data import synthetic
from engine.data.preparation import PrepareSettings
from engine.errors import InputError
from engine.storage.workspace import Workspace
from engine.workbench.importing import ImportRequest, import_log

if TYPE_CHECKING:
    import pandas as pd


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate", help="write a seeded synthetic session log (and import it with --import)",
        description="Write a synthetic log whose users' past sessions carry signal: drifting tastes, session "
                    "intents, item-to-item order and repeat consumption.")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--preset", choices=sorted(synthetic.GENERATOR_PRESETS), default=None,
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


def synthetic_config(preset: str | None, events: int | None, seed: int,
                     changes: dict[str, object] | None = None) -> synthetic.SyntheticConfig:
    config = synthetic.scaled_config(events, seed) if events is not None else synthetic.GENERATOR_PRESETS[preset or "demo"](seed)
    known = {field.name for field in dataclasses.fields(config)}
    unknown = set(changes or {}) - known
    if unknown:
        raise InputError(f"unknown generator settings: {', '.join(sorted(unknown))}")
    return dataclasses.replace(config, **cast(dict[str, Any], changes or {}))


def default_output(workspace: Workspace, label: str, seed: int) -> Path:
    folder = Path(workspace.display_name).parent if workspace.engine.dialect.name == "sqlite" else Path.cwd()
    return folder / "generated" / f"synthetic-{label}-seed{seed}.parquet"


def write_log(frame: pd.DataFrame, path: Path) -> None:
    """Write a generated log as Parquet or (optionally gzip'ed) CSV, by the file name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def run_generate(args: argparse.Namespace, workspace: Workspace) -> int:
    label = f"{args.events}" if args.events is not None else (args.preset or "demo")
    changes = parse_overrides(args.set)
    config = synthetic_config(args.preset, args.events, args.seed, changes)
    if changes:
        label += "-" + "-".join(f"{name}{value}" for name, value in sorted(changes.items()))
    frame = synthetic.generate_log(config)
    path = args.output or default_output(workspace, label, args.seed)
    write_log(frame, path)
    print(f"wrote {len(frame):,} events of {config.n_users:,} users and {config.n_items:,} items to {path}")
    if not args.import_log:
        return 0
    preset = None if args.events is not None else (args.preset or "demo")
    base = PrepareSettings(min_item_support=synthetic.PRESET_MIN_ITEM_SUPPORT.get(preset or "", 5))
    settings = settings_from_arguments(args, base)
    outcome = import_log(workspace, ImportRequest(path, mapping=synthetic.SYNTHETIC_MAPPING, settings=settings,
                                                  name=args.name or f"synthetic {label} (seed {args.seed})"))
    print(f"imported as dataset {outcome.dataset_id} '{outcome.dataset_name}'")
    print(render_statistics(outcome.dataset_name, outcome.statistics))
    return 0
