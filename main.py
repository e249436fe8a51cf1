"""HRNN Workbench. Without arguments: the desktop app. With a subcommand: the headless engine
(``python main.py --help`` lists them)."""
from __future__ import annotations

import os
import sys

# Before torch loads: OpenMP threads that spin while waiting slow everything else on few cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def run() -> int:
    if len(sys.argv) > 1:
        from engine.cli.main import main

        return main(sys.argv[1:])
    from app.launch import launch

    return launch()


if __name__ == "__main__":
    sys.exit(run())
