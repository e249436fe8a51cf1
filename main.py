"""HRNN Workbench. Without arguments: the desktop app. With a subcommand: the headless engine
(``python main.py --help`` lists them)."""
from __future__ import annotations

import os
import sys

# Before torch loads: OpenMP threads that spin while waiting slow everything else on few cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def run() -> int:
    from engine.cli.main import main

    if len(sys.argv) > 1:
        return main(sys.argv[1:])
    from app.launch import has_display, launch

    if not has_display():
        print("No display to show the window on: running the headless demo instead (the desktop app opens "
              "its workspace at its first launch on a display); `python main.py --help` lists the headless "
              "commands.")
        return main(["demo"])
    return launch()


if __name__ == "__main__":
    sys.exit(run())
