"""A subcommand of the command line as the parser knows it before its arguments are needed.

Building the whole parser used to import the engine (torch, scipy, pandas) for the choices and
defaults of every subcommand, so that even ``--help`` or an instant refusal took seconds. Now each
subcommand is a name and a one-line help (all that ``python main.py --help`` lists), and only the
subcommand that runs declares its arguments; its handler imports the use cases it calls when it
runs."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """A subcommand: its ``name`` and one-line ``help``, and ``declare``, which adds its arguments
    (importing what their choices and defaults need) to its parser and sets its defaults:
    ``handler(args, workspace) -> exit code``; ``creates_workspace`` (a command that stores
    something) or ``needs_workspace=False``; and ``check(args)``, the refusals of the arguments
    alone, run before the workspace is opened."""

    name: str
    help: str
    declare: Callable[[argparse.ArgumentParser], None]
