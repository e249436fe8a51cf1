"""The headless command line: ``python main.py SUBCOMMAND``. Every error is one line on stderr
and a non-zero exit; ``--debug`` shows tracebacks."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from engine.cli import (
    data_commands,
    evaluation_commands,
    managing_commands,
    synthetic_commands,
    training_commands,
    tuning_commands,
)
from engine.cli.command import Command
from engine.errors import Cancelled, InputError, WorkbenchError

log = logging.getLogger(__name__)

EXIT_ERROR = 2
EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130


#: Every subcommand, in the order ``--help`` lists them.
COMMANDS: tuple[Command, ...] = (*data_commands.COMMANDS, *synthetic_commands.COMMANDS, *training_commands.COMMANDS,
                                 *managing_commands.COMMANDS, *tuning_commands.COMMANDS,
                                 *evaluation_commands.COMMANDS)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of ``argv``: every subcommand by its name and help, and the arguments of the one
    ``argv`` names (None: of every subcommand, which imports what all their choices need)."""
    chosen = None if argv is None else next((word for word in argv if not word.startswith("-")), "")
    parser = argparse.ArgumentParser(prog="python main.py", description="HRNN Workbench, headless. Without a "
                                     "subcommand, main.py opens the desktop app.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)
    for command in COMMANDS:
        subparser = subparsers.add_parser(command.name, help=command.help)
        if chosen is None or command.name == chosen:
            command.declare(subparser)
            subparser.add_argument("--workspace", type=str, default=None,
                                   help="workspace file or SQLAlchemy URL (default: the per-user workspace)")
    return parser


def _run(args: argparse.Namespace) -> int:
    """The command's handler, in the workspace it names (created where the command creates one, and
    removed again when the command fails before storing anything)."""
    check = getattr(args, "check", None)
    if check is not None:  # the arguments' own refusals, before a workspace is opened or created
        check(args)
    needs_workspace = getattr(args, "needs_workspace", True)
    if not needs_workspace:
        return int(args.handler(args, None) or 0)
    from engine.workbench.workspaces import open_workspace, remove_workspace_file

    creates = getattr(args, "creates_workspace", False)
    with open_workspace(args.workspace, create=creates) as workspace:
        try:
            code = int(args.handler(args, workspace) or 0)
        except BaseException:
            if workspace.created:  # nothing was stored: leave no empty workspace behind
                workspace.close()
                remove_workspace_file(workspace)
            raise
        if workspace.created:
            print(f"created a new workspace at {workspace.display_name}", file=sys.stderr)
        return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return _run(args)
    except Cancelled:
        print("cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the output was piped into a command that stopped reading (head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except WorkbenchError as exc:
        if args.debug:
            raise
        hint = data_commands.setting_hint(exc) if isinstance(exc, InputError) else ""
        print(f"error: {exc}" + (f" ({hint})" if hint else ""), file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        if args.debug:
            raise
        from engine.workbench.workspaces import database_problem, default_workspace_path, is_database_error

        if is_database_error(exc):
            print(f"error: {database_problem(exc, str(args.workspace or default_workspace_path()))}", file=sys.stderr)
            return EXIT_ERROR
        log.debug("internal error", exc_info=True)
        print(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
