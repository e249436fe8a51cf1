"""The headless command line: ``python main.py SUBCOMMAND``. Every error is one line on stderr
and a non-zero exit; ``--debug`` shows tracebacks."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from engine.errors import Cancelled, WorkbenchError

log = logging.getLogger(__name__)

EXIT_ERROR = 2
EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    from engine.cli import data_commands

    parser = argparse.ArgumentParser(prog="python main.py", description="HRNN Workbench, headless. Without a "
                                     "subcommand, main.py opens the desktop app.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks and debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)
    data_commands.register(subparsers)
    for module_name in ("engine.cli.synthetic_commands", "engine.cli.training_commands",
                        "engine.cli.evaluation_commands"):
        __import__(module_name, fromlist=["register"]).register(subparsers)
    for subcommand in subparsers.choices.values():
        subcommand.add_argument("--workspace", type=str, default=None,
                                help="workspace file or SQLAlchemy URL (default: the per-user workspace)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        from engine.storage.workspace import Workspace

        needs_workspace = getattr(args, "needs_workspace", True)
        if not needs_workspace:
            return int(args.handler(args, None) or 0)
        with Workspace(args.workspace) as workspace:
            return int(args.handler(args, workspace) or 0)
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
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence: one line, no traceback
        if args.debug:
            raise
        log.debug("internal error", exc_info=True)
        print(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
